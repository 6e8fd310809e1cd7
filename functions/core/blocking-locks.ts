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

/** The referenced tables of `foreignKeys`, each once, for LOCK TABLE. */
export function referencedTables(foreignKeys: ForeignKey[]): string[] {
  return [...new Set(foreignKeys.map((fk) => fk.referenced))];
}
