import type pg from 'pg';
import type { OperationContext } from './context';
import { quoteIdent } from './db/identifiers';
import { COMMIT_WITHOUT_FLUSH, runWithLockTimeout } from './db/locks';

/**
 * A half-open range of `ts`, [from, to), as timestamptz literals with an explicit offset (or
 * `-infinity`); `to: null` has no upper bound, so it takes `infinity` too.
 */
export interface TsRange {
  from: string;
  to: string | null;
}

/** Rows one move takes: from where, to where, which. */
export interface RowMove {
  source: string;
  /** A table, or a partitioned parent (rows are then routed to their partitions). */
  target: string;
  /** Column names of both, in the same order. */
  columns: string[];
  range: TsRange;
  /**
   * The target's primary key, when a moved row may meet a row with the same key there (restore's
   * late rows meeting the archive's): the moved row, written later, replaces it. Without it a
   * duplicate fails the move.
   */
  conflictKey?: string[];
}

/** `ON CONFLICT (key) DO UPDATE SET` every other column `= EXCLUDED`: the inserted row replaces the one with its key. */
export function replaceOnConflict(key: string[] | undefined, columns: string[]): string {
  if (!key || key.length === 0) return '';
  const others = columns.filter((column) => !key.includes(column));
  const set = others.length > 0 ? others.map((c) => `${quoteIdent(c)} = EXCLUDED.${quoteIdent(c)}`).join(', ') : null;
  return ` ON CONFLICT (${key.map(quoteIdent).join(', ')}) ${set ? `DO UPDATE SET ${set}` : 'DO NOTHING'}`;
}

/**
 * Moves up to `limit` rows of `move.range` from source to target, lowest ts first, in one
 * statement: DELETE ... RETURNING feeds the INSERT, so a row is in exactly one place at every
 * commit. `after` (the `last` of the previous batch) resumes the walk down the source's ts index
 * where the last batch ended, instead of stepping again over the dead rows it left at the front.
 * `last` is text in the session's DateStyle, which this session reads back unchanged, microseconds
 * and infinity included.
 */
export async function moveBatch(
  client: pg.ClientBase,
  move: RowMove,
  limit: number,
  after: string | null,
): Promise<{ rows: number; last: string | null }> {
  const list = move.columns.map(quoteIdent).join(', ');
  const source = quoteIdent(move.source);
  const params: unknown[] = [after ?? move.range.from, limit];
  const upper = move.range.to === null ? '' : ` AND ts < $${params.push(move.range.to)}::timestamptz`;
  const { rows } = await client.query<{ rows: number; last: string | null }>(
    `WITH batch AS (SELECT ctid FROM ${source} WHERE ts >= $1::timestamptz${upper} ORDER BY ts LIMIT $2),
          moved AS (DELETE FROM ${source} WHERE ctid = ANY (ARRAY(SELECT ctid FROM batch)) RETURNING ${list}),
          placed AS (INSERT INTO ${quoteIdent(move.target)} (${list}) SELECT ${list} FROM moved${replaceOnConflict(move.conflictKey, move.columns)} RETURNING ts)
     SELECT count(*)::int AS rows, max(ts)::text AS last FROM placed`,
    params,
  );
  return { rows: rows[0]?.rows ?? 0, last: rows[0]?.last ?? null };
}

/**
 * Moves every row of `move.range` in batches of `batchSize`, each its own transaction under the
 * lock timeout, so no lock is held long and a run stopped between two batches leaves every row in
 * one place. `beforeBatch` runs before each batch (the deadline check) and `afterBatch` after each
 * one with its rows and the total so far. Returns the rows moved.
 */
export async function moveAllRows(
  ctx: OperationContext,
  client: pg.ClientBase,
  move: RowMove,
  hooks: { beforeBatch: () => void; afterBatch?: (rows: number, movedSoFar: number) => void },
): Promise<number> {
  const batchSize = ctx.settings.batchSize;
  let moved = 0;
  let after: string | null = null;
  for (;;) {
    hooks.beforeBatch();
    const batch = await runWithLockTimeout(client, `move rows into ${move.target}`, ctx.settings, ctx.log, async () => {
      // No wait for the commit to reach the disk: a crash that forgets a batch forgets both its
      // halves (the DELETE and the INSERT are one statement), and the next run moves it again.
      await client.query(COMMIT_WITHOUT_FLUSH);
      return moveBatch(client, move, batchSize, after);
    });
    moved += batch.rows;
    if (batch.rows > 0) hooks.afterBatch?.(batch.rows, moved);
    if (batch.rows < batchSize) return moved;
    after = batch.last;
  }
}
