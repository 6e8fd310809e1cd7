import pg from 'pg';
import { HOLDS_INSERTS_BACK } from '../../test/support/blocking-locks';

/** The longest transactions seen, in ms. */
export interface LongestTransactions {
  /** Of any kind: locks are held until a transaction ends, so this is the longest lock hold. */
  any: number;
  /**
   * Of those holding a lock that holds inserts back (see HOLDS_INSERTS_BACK): from the last
   * sample that saw the transaction without such a lock (its start, if none did) to the last
   * that saw it holding one. An upper bound of the hold, to within a sampling interval.
   */
  holdingInserts: number;
  /** The statement that transaction was running when it was seen longest (its first 200 characters). */
  holdingInsertsStatement?: string;
  /** Why sampling stopped before the operation ended (its session was ended), if it did. */
  interrupted?: string;
  /**
   * What the writer's session waited on whenever a sample caught one of its inserts running for
   * more than SLOW_INSERT_MS: samples per wait event (`CPU` when it waited on none), with the
   * maintenance session's statement at that moment. Says whether a slow insert was a lock, I/O or CPU.
   */
  slowInsertWaits: Record<string, number>;
}

/** An insert running longer than this when sampled counts as slow (the writer's p99 at rest is under 10 ms). */
export const SLOW_INSERT_MS = 20;

/** The writer thread's application name (see ingestion.ts). */
export const WRITER_APP = 'bench-writer';

/**
 * Samples pg_stat_activity and pg_locks every few milliseconds and keeps the longest-running
 * transactions seen among sessions named `applicationName`, to within the sampling interval.
 */
export async function watchLongestTransaction(url: string, applicationName: string, intervalMs = 5) {
  const client = new pg.Client({ connectionString: url, application_name: 'bench-lock-watch' });
  // A session ended from outside fails the next sample, not the whole benchmark process.
  client.on('error', () => undefined);
  await client.connect();
  const longest: LongestTransactions = { any: 0, holdingInserts: 0, slowInsertWaits: {} };
  let running = true;
  let samples = 0;
  /** Per transaction (pid and start), its ms since start at the last sample that saw it hold nothing that holds inserts back. */
  const freeAt = new Map<string, number>();
  const loop = (async () => {
    // A sampling session ended from outside (an operator's pg_terminate_backend, a stray pkill)
    // ends the sampling, which then says so, instead of the whole benchmark process.
    while (running && !longest.interrupted) {
      const sample = await client
        .query<{ xact: string; ms: number; holding: boolean; statement: string }>(
          `SELECT a.pid || '/' || a.xact_start AS xact, extract(epoch FROM clock_timestamp() - a.xact_start) * 1000 AS ms, left(a.query, 200) AS statement,
                EXISTS (SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE l.pid = a.pid AND ${HOLDS_INSERTS_BACK}) AS holding
           FROM pg_stat_activity a WHERE a.application_name = $1 AND a.xact_start IS NOT NULL`,
          [applicationName],
        )
        .catch((error: Error) => {
          longest.interrupted = error.message;
          return { rows: [] };
        });
      // Every fourth sample (20 ms, the slow-insert threshold): the watcher's own load stays small.
      if (samples++ % 4 === 0) await sampleSlowInsert(client, applicationName, longest.slowInsertWaits);
      for (const row of sample.rows) {
        const ms = Number(row.ms);
        longest.any = Math.max(longest.any, ms);
        if (!row.holding) {
          freeAt.set(row.xact, ms);
          continue;
        }
        const held = ms - (freeAt.get(row.xact) ?? 0);
        if (held > longest.holdingInserts) {
          longest.holdingInserts = held;
          longest.holdingInsertsStatement = row.statement;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    async stop(): Promise<LongestTransactions> {
      running = false;
      await loop;
      await client.end().catch(() => undefined);
      return longest;
    },
  };
}

/** Counts what the writer's insert waits on, when it has been running for more than SLOW_INSERT_MS. */
async function sampleSlowInsert(client: pg.Client, maintenanceApp: string, waits: Record<string, number>): Promise<void> {
  const { rows } = await client
    .query<{ wait: string; maintenance: string | null }>(
      `SELECT coalesce(w.wait_event_type || ':' || w.wait_event, 'CPU') AS wait,
              (SELECT coalesce(m.wait_event_type || ':' || m.wait_event, 'CPU') || ' ' || left(regexp_replace(m.query, '\\s+', ' ', 'g'), 60)
                 FROM pg_stat_activity m WHERE m.application_name = $2 AND m.state = 'active' LIMIT 1) AS maintenance
         FROM pg_stat_activity w
        WHERE w.application_name = $1 AND w.state = 'active' AND clock_timestamp() - w.query_start > $3 * interval '1 ms'`,
      [WRITER_APP, maintenanceApp, SLOW_INSERT_MS],
    )
    .catch(() => ({ rows: [] }));
  for (const row of rows) {
    const key = `${row.wait} (maintenance: ${row.maintenance ?? 'idle'})`;
    waits[key] = (waits[key] ?? 0) + 1;
  }
}
