import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadEnvironment, resolveSettings } from '../../functions/cli/settings';
import { parseHandlerEnvironment } from '../../functions/lambda/environment';
import { describeTarget, maskUrl } from '../../functions/shared/db/settings';
import { InputError } from '../../functions/shared/errors';

/** The connect timeout the handlers will get from the runner's settings (it reads the URL per run). */
const handlerConnectTimeout = (settings: { handlerEnv: Record<string, string | undefined> }) =>
  parseHandlerEnvironment({ ...settings.handlerEnv, DATABASE_URL: 'postgres://localhost/db' }).connectTimeoutMs;

describe('connection settings', () => {
  it('masks the password, and password-like query parameters, in URLs', () => {
    expect(maskUrl('postgres://app:s3cr%40t@db.example:6543/perps?sslmode=require')).toBe(
      'postgres://app:***@db.example:6543/perps?sslmode=require',
    );
    expect(maskUrl('postgres://db/perps?password=hunter2')).toBe('postgres://db/perps?password=***');
    expect(maskUrl('not a url://user:pw@host')).not.toContain('pw');
    expect(describeTarget('postgres://app:pw@db.example/perps')).toBe('db.example:5432/perps');
  });

  it('takes --database-url first, then DATABASE_URL from .env over the environment', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'perps-env-'));
    const env = { DATABASE_URL: 'postgres://env-host/db' };
    const resolve = (flag?: string) => {
      const loaded = loadEnvironment(cwd, env);
      return resolveSettings(flag, cwd, loaded.values, loaded.fromDotenv);
    };
    expect(resolve()).toMatchObject({ url: 'postgres://env-host/db', urlSource: 'DATABASE_URL in the environment' });
    writeFileSync(join(cwd, '.env'), 'DATABASE_URL=postgres://file-host/db\nDB_CONNECT_TIMEOUT_MS=4000\n');
    const fromFile = resolve();
    expect(fromFile).toMatchObject({
      url: 'postgres://file-host/db',
      urlSource: 'DATABASE_URL in .env',
    });
    expect(handlerConnectTimeout(fromFile)).toBe(4000);
    expect(fromFile.handlerEnv).toMatchObject({ DB_CONNECT_TIMEOUT_MS: '4000', DATABASE_URL: undefined });
    expect(resolve('postgres://flag-host/db')).toMatchObject({
      url: 'postgres://flag-host/db',
      urlSource: '--database-url',
    });
  });

  it('uses the embedded database and a 10 s connect check when nothing is configured', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'perps-env-'));
    const settings = resolveSettings(undefined, cwd, {});
    expect(settings).toMatchObject({ url: undefined, urlSource: 'embedded', embeddedDir: join(cwd, '.pglite') });
    expect(handlerConnectTimeout(settings)).toBe(10_000);
  });

  it('refuses DB_SECRET_ARN without a URL: the runner connects by URL, the Lambda functions read the secret', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'perps-env-'));
    expect(() => resolveSettings(undefined, cwd, { DB_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:1:secret:db' })).toThrow(
      /DB_SECRET_ARN is set, but the local runner connects by URL/,
    );
  });

  it('reports every bad setting at once, without echoing a password', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'perps-env-'));
    let error: unknown;
    try {
      resolveSettings('mysql://u:topsecret@h/db', cwd, { DB_DDL_ATTEMPTS: 'ten', DB_LOCK_TIMEOUT_MS: '-5', PERPS_LOG_LEVEL: 'verbose' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InputError);
    const problems = (error as InputError).problems;
    expect(problems).toEqual([
      'PERPS_LOG_LEVEL: must be debug, info, warn or error',
      '--database-url must start with postgres:// or postgresql:// (got mysql://)',
      'DB_LOCK_TIMEOUT_MS: must be a whole number of milliseconds from 1 to 2147483647',
      'DB_DDL_ATTEMPTS: must be a whole number from 1 to 10',
    ]);
    expect(problems.join()).not.toContain('topsecret');
  });
});
