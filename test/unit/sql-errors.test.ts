import { describe, expect, it } from 'vitest';
import { connectionFailure, isConnectionFailure, isLockConflict, SQLSTATE, sqlState } from '../../functions/shared/db/sql-errors';
import { LockBusyError, LockTimeoutError, PerpsDbError } from '../../functions/shared/errors';

/** An error as node-postgres or Node raises it: a message and a code. */
const failure = (message: string, code?: string) => Object.assign(new Error(message), code === undefined ? {} : { code });

describe('database errors', () => {
  it('reads the SQLSTATE of a server error, and nothing else as one', () => {
    expect(sqlState(failure('password authentication failed', '28P01'))).toBe(SQLSTATE.invalidPassword);
    expect(sqlState(failure('connect ECONNREFUSED', 'ECONNREFUSED'))).toBeUndefined();
    expect(sqlState('55P03')).toBeUndefined();
    expect(sqlState(undefined)).toBeUndefined();
  });

  it('tells a lost connection (reconnect now) from a refused one (will fail again)', () => {
    expect(connectionFailure(failure('terminating connection due to administrator command', '57P01'))).toBe('lost');
    expect(connectionFailure(failure('connection failure', '08006'))).toBe('lost');
    expect(connectionFailure(failure('read ECONNRESET', 'ECONNRESET'))).toBe('lost');
    expect(connectionFailure(new Error('Connection terminated unexpectedly'))).toBe('lost');
    expect(connectionFailure(failure('password authentication failed for user "app"', '28P01'))).toBe('refused');
    expect(connectionFailure(failure('database "x" does not exist', '3D000'))).toBe('refused');
    expect(connectionFailure(failure('connect ECONNREFUSED 10.0.0.1:5432', 'ECONNREFUSED'))).toBe('refused');
    expect(connectionFailure(failure('certificate has expired', 'CERT_HAS_EXPIRED'))).toBe('refused');
    expect(connectionFailure(new Error('timeout expired'))).toBe('refused');
  });

  it('judges a server error by its SQLSTATE alone, and looks down the cause chain', () => {
    // A migration failing on a table named "certificate" is not a TLS problem.
    expect(isConnectionFailure(failure('relation "certificate" does not exist', '42P01'))).toBe(false);
    expect(isConnectionFailure(failure('Connection terminated', '42P01'))).toBe(false);
    const wrapped = new Error('drop tickers_2026_01_01 failed', { cause: failure('terminating connection', '57P01') });
    expect(connectionFailure(wrapped)).toBe('lost');
    expect(isConnectionFailure(new Error('division by zero'))).toBe(false);
  });

  it('retries lock_timeout and deadlocks only', () => {
    expect(isLockConflict(failure('canceling statement due to lock timeout', '55P03'))).toBe(true);
    expect(isLockConflict(failure('deadlock detected', '40P01'))).toBe(true);
    expect(isLockConflict(failure('canceling statement due to statement timeout', '57014'))).toBe(false);
  });

  it('puts LockTimeoutError in the error family: retryable, exit code 4 like a busy lock, with the report it stopped', () => {
    const error = new LockTimeoutError('migration 0005_x.sql', 3, 100, { cause: failure('lock timeout', '55P03') });
    expect(error).toBeInstanceOf(PerpsDbError);
    expect(error).toMatchObject({ name: 'LockTimeoutError', retryable: true, exitCode: new LockBusyError('x').exitCode });
    expect(error.message).toMatch(/could not get its lock within 100 ms in 3 attempts; .*it will be retried on the next run$/);
    const withReport = error.withReport({ operation: 'migrate' });
    expect(withReport).toMatchObject({ message: error.message, report: { operation: 'migrate' }, cause: error.cause });
  });
});
