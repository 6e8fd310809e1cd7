import { describe, expect, it } from 'vitest';
import { toPrivilegeError } from '../../functions/shared/db/privileges';
import { InsufficientPrivilegeError, PartialFailureError } from '../../functions/shared/errors';

describe('toPrivilegeError', () => {
  it('says a permission denied the pre-check did not foresee once, with the role to use, keeping the report', () => {
    const denied = Object.assign(new Error('permission denied for table tickers_default'), { code: '42501' });
    const wrapped = new PartialFailureError('prune: 1 of 3 steps failed', { cause: denied, report: { operation: 'prune' } });
    const error = toPrivilegeError(wrapped, 'prune', 'owner');
    expect(error).toBeInstanceOf(InsufficientPrivilegeError);
    expect((error as InsufficientPrivilegeError).message).toBe(
      'prune: permission denied for table tickers_default: run it as the role that ran migrate (the owner of the tables)',
    );
    expect((error as InsufficientPrivilegeError).exitCode).toBe(6);
    expect((error as InsufficientPrivilegeError).report).toEqual({ operation: 'prune' });
  });

  it('leaves every other error alone', () => {
    const other = Object.assign(new Error('deadlock detected'), { code: '40P01' });
    expect(toPrivilegeError(other, 'partitions', 'owner')).toBe(other);
  });
});
