import type { ForeignKey } from './catalog';
import type { OperationContext } from './context';

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
