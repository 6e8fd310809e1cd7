import type pg from 'pg';
import { LockTimeoutError } from '../errors';
import type { Logger } from '../log';
import { withTransaction } from './sessions';
import type { MaintenanceSettings } from './settings';
import { isLockConflict } from './sql-errors';

/** Sets `lock_timeout` for the rest of the current transaction (SET LOCAL). */
export async function setLocalLockTimeout(client: pg.ClientBase, ms: number): Promise<void> {
  await client.query(`SELECT set_config('lock_timeout', $1, true)`, [`${ms}ms`]);
}

/**
 * Runs `fn` in a transaction under a short `lock_timeout`, retried with exponential backoff
 * and full jitter when the lock is not granted in time. While a DDL statement waits for its
 * lock every later insert on the table queues behind it, so the wait must stay short: giving
 * up and retrying keeps ingestion flowing. Batched DML of the maintenance runs here too, so a
 * long transaction holding a table lock cannot hang a run until its statement_timeout.
 */
export async function runWithLockTimeout<T>(
  client: pg.ClientBase,
  step: string,
  settings: MaintenanceSettings,
  log: Logger,
  fn: () => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await withTransaction(client, async () => {
        await setLocalLockTimeout(client, settings.lockTimeoutMs);
        return fn();
      });
    } catch (error) {
      if (!isLockConflict(error)) throw error;
      if (attempt >= settings.ddlAttempts) {
        throw new LockTimeoutError(step, attempt, settings.lockTimeoutMs, { cause: error });
      }
      const delayMs = Math.round(Math.random() * settings.retryBaseDelayMs * 2 ** (attempt - 1));
      log.warn('lock not granted in time, retrying', { step, attempt, delayMs });
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
