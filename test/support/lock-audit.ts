import type { OperationContext } from '../../functions/shared/context';
import { HOLDS_INSERTS_BACK } from './blocking-locks';
import { connect } from './database';
import { interceptStatements } from './intercept';

/** A statement of the maintenance session and the locks holding inserts back its transaction held right after it. */
export interface LockAuditEntry {
  statement: string;
  blocking: string[];
}

/**
 * After each statement of the maintenance session (`ctx`'s pool), the locks its transaction holds
 * that hold inserts back (HOLDS_INSERTS_BACK), read by a second session; filled as the operation runs.
 */
export async function auditBlockingLocks(ctx: OperationContext, url: string): Promise<LockAuditEntry[]> {
  const monitor = await connect(url, { lock_timeout: 200 });
  const audit: LockAuditEntry[] = [];
  interceptStatements(ctx, {
    async after(text, session) {
      if (/^(BEGIN|COMMIT|ROLLBACK)$/.test(text)) return;
      const pid = (session as unknown as { processID: number }).processID;
      const { rows } = await monitor.query<{ lock: string }>(
        `SELECT c.relname || ' ' || l.mode AS lock FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE l.pid = $1 AND ${HOLDS_INSERTS_BACK} ORDER BY 1`,
        [pid],
      );
      audit.push({ statement: text, blocking: rows.map((r) => r.lock) });
    },
  });
  return audit;
}
