import type pg from 'pg';
import type { ForeignKey } from '../catalog';
import type { OperationContext } from '../context';
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

/**
 * Longest wait for a lock that holds inserts back while it is requested or held: the parent, the
 * DEFAULT partition, the referenced tables in ACCESS EXCLUSIVE mode (DB_LOCK_TIMEOUT_MS applies
 * when it is shorter). Below PostgreSQL's default deadlock_timeout (1 s): in a lock cycle with an
 * ingestion transaction, the run, not the insert, gives up; the step is retried with backoff.
 */
export const BLOCKING_LOCK_WAIT_MS = 200;

/** `SET LOCAL lock_timeout` to the blocking-lock wait, as a statement of a multi-statement body. */
export function blockingLockWait(ctx: OperationContext): string {
  const waitMs = Math.min(ctx.settings.lockTimeoutMs, BLOCKING_LOCK_WAIT_MS);
  return `SELECT set_config('lock_timeout', '${waitMs}ms', true)`;
}

/**
 * `SET LOCAL synchronous_commit = off`, for a scheduled step's transaction that holds inserts
 * back: its COMMIT then returns, and releases the locks, without waiting for the WAL to reach the
 * disk. While a recovery writes WAL flat out, that wait was the longest part of such a
 * transaction (a COMMIT seen holding inserts back for 192 ms on a loaded machine). Safe: WAL
 * reaches the disk in order, so a crash can only forget the last commits whole, and any insert
 * that committed (flushed) after this step's commit flushed it too; a forgotten step (a swap, an
 * attach, dropping a backlog's foreign keys) left the catalog as it was before it, and the next
 * run does it again. PostgreSQL ignores it for a transaction that deletes files (a DROP, a
 * TRUNCATE): those wait for their flush, so they must not hold inserts back (see
 * dropEmptiedTable). Restore, run by hand, keeps the flushed commit: its report must not outlive
 * a crash.
 */
export const COMMIT_WITHOUT_FLUSH = `SELECT set_config('synchronous_commit', 'off', true)`;

/** `SET LOCAL lock_timeout` back to the configured DB_LOCK_TIMEOUT_MS, as a statement. */
export function configuredLockWait(ctx: OperationContext): string {
  const waitMs = ctx.settings.lockTimeoutMs;
  return `SELECT set_config('lock_timeout', '${waitMs}ms', true)`;
}

/**
 * `SET LOCAL lock_timeout` for a lock no insert ever queues behind: on a table of our own (a
 * backlog, a day table not yet attached), or a mode inserts do not conflict with (SHARE UPDATE
 * EXCLUSIVE on the DEFAULT partition). What such a wait usually meets is autovacuum, which
 * PostgreSQL cancels once a conflicting lock has waited `deadlock_timeout` (1 s by default): a
 * wait as short as that would give up first, every time. So three times the server's
 * `deadlock_timeout`, or DB_LOCK_TIMEOUT_MS when longer. As a statement of a multi-statement body.
 */
export function quietLockWait(ctx: OperationContext): string {
  const configuredMs = ctx.settings.lockTimeoutMs;
  return `SELECT set_config('lock_timeout', greatest(${configuredMs}, 3000 * extract(epoch FROM current_setting('deadlock_timeout')::interval))::int || 'ms', true)`;
}

/** The referenced tables of `foreignKeys`, each once, for LOCK TABLE. */
export function referencedTables(foreignKeys: ForeignKey[]): string[] {
  return [...new Set(foreignKeys.map((fk) => fk.referenced))];
}
