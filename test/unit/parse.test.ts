import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../functions/cli/command-line';
import { parseDatabaseSecret } from '../../functions/lambda/database-secret';
import { parseHandlerEnvironment } from '../../functions/lambda/environment';
import { parseOperationEvent } from '../../functions/lambda/event';
import { OPERATIONS } from '../../functions/operations/registry';
import { InputError } from '../../functions/shared/errors';
import { numberOrText, numberValue, parseOrThrow, readDecimal } from '../../functions/shared/parse';
import { parseStackConfig } from '../../infra/config';

/** Every problem an InputError lists, in order. */
const rejectedWith = (problems: string[]) => expect.objectContaining({ constructor: InputError, problems });

describe('one number parser', () => {
  it('reads plain decimal text only', () => {
    expect(['7', '07', '+7', '7.0', ' 7 '].map(readDecimal)).toEqual([7, 7, 7, 7, 7]);
    expect(['-3', '.5', '1.5'].map(readDecimal)).toEqual([-3, 0.5, 1.5]);
    expect(['0x10', '1e3', 'Infinity', '30s', '1.', '', '7 days'].map(readDecimal)).toEqual(Array(7).fill(Number.NaN));
  });

  it('gives one message for every way of being wrong, and its own to an off-step number in range only when asked', () => {
    const whole = numberOrText({ min: 1, max: 10, error: 'must be 1-10' });
    for (const bad of ['0x10', '1e3', '0', '11', '2.5', 'ten', 1e23, null, true]) {
      expect(() => parseOrThrow(whole, bad)).toThrow(rejectedWith(['must be 1-10']));
    }
    const halves = numberOrText({ min: 0, max: 4, step: 0.5, error: 'must be 0-4', stepError: 'must be a multiple of 0.5' });
    expect(parseOrThrow(halves, '1.5')).toBe(1.5);
    expect(() => parseOrThrow(halves, '1.25')).toThrow(rejectedWith(['must be a multiple of 0.5']));
    expect(() => parseOrThrow(halves, '5.25')).toThrow(rejectedWith(['must be 0-4']));
    // A payload is JSON: "7" is a string there, not a number.
    expect(() => parseOrThrow(numberValue({ min: 1, max: 10, error: 'must be 1-10' }), '7')).toThrow(rejectedWith(['must be 1-10']));
  });

  it('refuses 0x10 and 1e3 on every surface: environment, flags, payload, secret and CDK context', () => {
    expect(() => parseHandlerEnvironment({ DATABASE_URL: 'postgres://h/db', DB_LOCK_TIMEOUT_MS: '0x10' })).toThrow(
      rejectedWith(['DB_LOCK_TIMEOUT_MS: must be a whole number of milliseconds from 1 to 2147483647']),
    );
    expect(() => parseCommandLine(['partitions', '--days', '0x10'])).toThrow(
      rejectedWith(['--days: must be a whole number of days from 1 to 366']),
    );
    expect(() => parseOperationEvent(OPERATIONS.partitions, { daysAhead: '16' }, {})).toThrow(
      'invalid partitions payload: daysAhead: must be a whole number of days from 1 to 366',
    );
    expect(() => parseDatabaseSecret({ username: 'u', password: 'p', host: 'h', port: '0x10' }, 'arn:x')).toThrow(
      'secret arn:x is not a database secret (port: must be a port number from 1 to 65535)',
    );
    expect(() => parseStackConfig({ daysAhead: '0x10', backupRetentionDays: '1e1', existingPort: '0x10' })).toThrow(
      rejectedWith([
        'backupRetentionDays: must be a whole number from 1 to 35',
        'existingPort: must be a port number from 1 to 65535',
        'daysAhead: must be a whole number from 1 to 366',
      ]),
    );
  });

  it('reads the same numbers the same way everywhere', () => {
    expect(parseHandlerEnvironment({ DATABASE_URL: 'postgres://h/db', DB_DDL_ATTEMPTS: '+7' }).maintenance.ddlAttempts).toBe(7);
    expect(parseCommandLine(['partitions', '--days', '7.0'])).toMatchObject({ invocation: { steps: [{ payload: { daysAhead: 7 } }] } });
    expect(parseDatabaseSecret({ username: 'u', password: 'p', host: 'h', port: '6543' }, 'arn:x').port).toBe(6543);
    expect(parseDatabaseSecret({ username: 'u', password: 'p', host: 'h', port: 6543 }, 'arn:x').port).toBe(6543);
    expect(parseStackConfig({ daysAhead: ' 07 ', auroraMinCapacity: '0.5' })).toMatchObject({ daysAhead: 7 });
  });
});
