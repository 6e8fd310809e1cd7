import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseDatabaseSecret, secretUrl } from '../../functions/lambda/database-secret';
import { parseHandlerEnvironment } from '../../functions/lambda/environment';
import { parseOperationEvent, payloadOf } from '../../functions/lambda/event';
import { defaultSslMode, sslOptions } from '../../functions/lambda/tls';
import { OPERATIONS } from '../../functions/operations/registry';

const DEFAULTS = { partitions: { daysAhead: 7 }, prune: { olderThanDays: undefined, dropPartitionsOlderThanDays: 180 } };
const { partitions, prune } = OPERATIONS;

describe('event payloads', () => {
  it('reads the payload from Scheduler input, an EventBridge rule envelope, or an empty invoke', () => {
    expect(payloadOf({ daysAhead: 3 })).toEqual({ daysAhead: 3 });
    expect(payloadOf({ version: '0', source: 'aws.events', 'detail-type': 'Scheduled Event', detail: { daysAhead: 3 } })).toEqual({
      daysAhead: 3,
    });
    expect(payloadOf(null)).toEqual({});
    expect(payloadOf(undefined)).toEqual({});
  });

  it('fills defaults from the environment; a prune payload naming an action gets none of them', () => {
    expect(parseOperationEvent(partitions, {}, DEFAULTS.partitions)).toEqual({ daysAhead: 7 });
    expect(parseOperationEvent(partitions, { daysAhead: 2 }, DEFAULTS.partitions)).toEqual({ daysAhead: 2 });
    expect(parseOperationEvent(prune, {}, DEFAULTS.prune)).toEqual({ dropPartitionsOlderThanDays: 180 });
    expect(parseOperationEvent(prune, { dryRun: true }, DEFAULTS.prune)).toEqual({ dropPartitionsOlderThanDays: 180, dryRun: true });
    expect(parseOperationEvent(prune, { olderThanDays: 30 }, DEFAULTS.prune)).toEqual({ olderThanDays: 30 });
    expect(parseOperationEvent(prune, { truncate: true, confirm: 'perps' }, DEFAULTS.prune)).toEqual({ truncate: true, confirm: 'perps' });
  });
});

describe('handler environment', () => {
  it('reads the defaults of the stack and reports every problem at once', () => {
    const parsed = parseHandlerEnvironment({ DB_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:1:secret:db', PRUNE_OLDER_THAN_DAYS: '90' });
    expect(parsed).toMatchObject({
      source: { kind: 'secret', secretArn: 'arn:aws:secretsmanager:eu-west-1:1:secret:db' },
      metricsNamespace: 'PerpsStats',
      metricsOptions: { dataAge: true },
      connectTimeoutMs: 10_000,
      defaults: { partitions: { daysAhead: 7 }, prune: { olderThanDays: 90, dropPartitionsOlderThanDays: undefined } },
    });
    expect(() =>
      parseHandlerEnvironment({
        DB_SECRET_ARN: 'secret-name',
        METRICS_NAMESPACE: 'bad namespace!',
        PRUNE_OLDER_THAN_DAYS: '0',
        DB_SSL: 'on',
        STATS_DATA_AGE_METRICS: 'no',
      }),
    ).toThrow(
      'DB_SECRET_ARN: must be a secret ARN (arn:aws:secretsmanager:...); DB_SSL: must be one of disable, require, verify-full; METRICS_NAMESPACE: must be 1-255 letters, digits or . - _ / # :; STATS_DATA_AGE_METRICS: must be true or false; PRUNE_OLDER_THAN_DAYS: must be a whole number of days from 1 to 36500',
    );
    expect(parseHandlerEnvironment({ DATABASE_URL: 'postgres://h/d', STATS_DATA_AGE_METRICS: 'false' }).metricsOptions).toEqual({
      dataAge: false,
    });
  });
});

describe('database secret', () => {
  it('percent-encodes credentials so any password survives the URL', () => {
    const secret = parseDatabaseSecret(
      { username: 'app', password: 'p@ss:/w%rd?#', host: 'db.example', port: '6543', dbname: 'perps' },
      'arn:x',
    );
    const url = new URL(secretUrl(secret));
    expect(decodeURIComponent(url.password)).toBe('p@ss:/w%rd?#');
    expect([url.hostname, url.port, url.pathname]).toEqual(['db.example', '6543', '/perps']);
  });

  it('defaults port and dbname as RDS does, ignores extra keys, never echoes a value', () => {
    const secret = parseDatabaseSecret({ username: 'app', password: 'pw-value-123', host: 'h', dbClusterIdentifier: 'c' }, 'arn:x');
    expect(secret).toMatchObject({ port: 5432, dbname: 'postgres' });
    expect(() => parseDatabaseSecret({ username: 'app', password: 42, host: '' }, 'arn:x')).toThrow(
      'secret arn:x is not a database secret (password: must be a string; host: must not be empty)',
    );
  });
});

describe('TLS', () => {
  it('verifies certificates by default for every host but loopback', () => {
    expect(defaultSslMode('perps.abc123.eu-west-1.rds.amazonaws.com')).toBe('verify-full');
    expect(defaultSslMode('db.internal')).toBe('verify-full');
    expect(defaultSslMode('localhost')).toBe('disable');
    expect(defaultSslMode('127.0.0.1')).toBe('disable');
  });

  it('verify-full trusts the RDS CA bundle shipped in the package and never turns verification off', () => {
    const options = sslOptions('verify-full', undefined);
    if (options === false) throw new Error('expected TLS options');
    expect(options.rejectUnauthorized).toBe(true);
    const subjects = (options.ca as string[]).map((pem) => new X509Certificate(pem).subject);
    expect(subjects.some((subject) => /Amazon RDS .*Root CA/.test(subject))).toBe(true);
    expect(sslOptions('disable', undefined)).toBe(false);
    expect(() => sslOptions('verify-full', '/nonexistent/ca.pem')).toThrow(/DB_SSL_CA_FILE \/nonexistent\/ca\.pem cannot be read/);
  });
});
