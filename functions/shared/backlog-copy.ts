import pg from 'pg';
import { BACKLOG_COMMENT } from './catalog';
import type { OperationContext } from './context';
import { dayBoundLiterals } from './days';
import { quoteIdent } from './db/identifiers';
import { COMMIT_WITHOUT_FLUSH, runWithLockTimeout } from './db/locks';

/*
 * A backlog's rows are copied into their days, not moved: the backlog keeps them until it is
 * dropped whole, which writes far less WAL than deleting them as they go (docs/performance.md,
 * "Copying instead of moving").
 *
 * So that a stopped run neither loses nor copies a row twice, each batch records how far it got
 * in the backlog's comment, in the batch's own transaction: a day is `all` copied, or copied
 * `through` a ts (every row at or before it). A batch never splits the rows of one ts.
 */

/** How far the copy of one day has gone. */
type DayProgress = 'all' | { through: string };

/** How far the copy of each day (YYYY-MM-DD) out of one backlog has gone. */
export type CopyProgress = Map<string, DayProgress>;

const LINE = /^copied (\d{4}-\d{2}-\d{2}) (?:(all)|through (.+))$/;

/** The backlog's comment: BACKLOG_COMMENT, then a line per day begun. */
function progressComment(progress: CopyProgress): string {
  const lines = [...progress]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([day, state]) => (state === 'all' ? `copied ${day} all` : `copied ${day} through ${state.through}`));
  return [BACKLOG_COMMENT, ...lines].join('\n');
}

/** The progress a backlog's comment records (none for a backlog just swapped out). */
function parseProgress(comment: string): CopyProgress {
  const progress: CopyProgress = new Map();
  for (const line of comment.split('\n').slice(1)) {
    const match = LINE.exec(line);
    if (!match?.[1]) throw new Error(`unreadable progress line "${line}" in a backlog's comment; was it edited by hand?`);
    progress.set(match[1], match[2] ? 'all' : { through: match[3] as string });
  }
  return progress;
}

/** Reads a backlog's progress from its comment. Cost: one catalog lookup. */
export async function readCopyProgress(client: pg.ClientBase, backlog: string): Promise<CopyProgress> {
  const { rows } = await client.query<{ comment: string | null }>(
    `SELECT obj_description(c.oid, 'pg_class') AS comment FROM pg_class c
      WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = $1`,
    [backlog],
  );
  return parseProgress(rows[0]?.comment ?? BACKLOG_COMMENT);
}

/** One day's rows out of one backlog. */
export interface DayCopy {
  backlog: string;
  /** A day table, or the partitioned parent (rows are then routed to their partition). */
  target: string;
  /** Column names of both, in the same order. */
  columns: string[];
  day: string;
}

/**
 * Copies up to about `limit` rows of the day, lowest ts first, after `through` (or from the day's
 * start), in one statement. The batch ends at the ts of its `limit`-th row and takes every row at
 * that ts, so `through` is exact; `through: null` when it reached the day's end. Cost: an index
 * range scan of the backlog's ts index over the batch, twice (the edge, then the rows).
 */
async function copyBatch(
  client: pg.ClientBase,
  copy: DayCopy,
  limit: number,
  through: string | null,
): Promise<{ rows: number; through: string | null }> {
  const list = copy.columns.map(quoteIdent).join(', ');
  const source = quoteIdent(copy.backlog);
  const after = through === null ? 'ts >= $1::timestamptz' : 'ts > $1::timestamptz';
  const { from, to } = dayBoundLiterals(copy.day);
  const { rows } = await client.query<{ rows: number; through: string | null }>(
    `WITH edge AS (SELECT ts FROM ${source} WHERE ${after} AND ts < $2::timestamptz ORDER BY ts OFFSET $3::int - 1 LIMIT 1),
          placed AS (INSERT INTO ${quoteIdent(copy.target)} (${list})
                     SELECT ${list} FROM ${source}
                      WHERE ${after} AND ts < $2::timestamptz AND ts <= coalesce((SELECT ts FROM edge), 'infinity')
                     RETURNING 1)
     SELECT (SELECT count(*) FROM placed)::int AS rows,
            (SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00' FROM edge) AS through`,
    [through ?? from, to, limit],
  );
  return { rows: rows[0]?.rows ?? 0, through: rows[0]?.through ?? null };
}

/**
 * Copies every row of one day out of a backlog in batches of `batchSize`, each its own
 * transaction under the lock timeout with its progress in the backlog's comment, resuming where
 * `progress` says. `progress` is updated after each commit. Returns the rows copied.
 */
export async function copyDayOut(
  ctx: OperationContext,
  client: pg.ClientBase,
  copy: DayCopy,
  progress: CopyProgress,
  hooks: { beforeBatch: () => void; afterBatch?: (rows: number, copiedSoFar: number) => void },
): Promise<number> {
  let copied = 0;
  for (let state = progress.get(copy.day); state !== 'all'; state = progress.get(copy.day)) {
    hooks.beforeBatch();
    const through = state?.through ?? null;
    const batch = await runWithLockTimeout(
      client,
      `copy rows of ${copy.day} out of ${copy.backlog} into ${copy.target}`,
      ctx.settings,
      ctx.log,
      async () => {
        // No wait for the commit to reach the disk: a crash forgets the batch and its progress
        // line together, and the next run copies it again.
        await client.query(COMMIT_WITHOUT_FLUSH);
        const result = await copyBatch(client, copy, ctx.settings.batchSize, through);
        const reached: DayProgress = result.through === null ? 'all' : { through: result.through };
        // `progress` itself changes only once this commits: a retried batch starts from the same point.
        const comment = progressComment(new Map(progress).set(copy.day, reached));
        await client.query(`COMMENT ON TABLE ${quoteIdent(copy.backlog)} IS ${pg.escapeLiteral(comment)}`);
        return { rows: result.rows, reached };
      },
    );
    progress.set(copy.day, batch.reached);
    copied += batch.rows;
    if (batch.rows > 0) hooks.afterBatch?.(batch.rows, copied);
  }
  return copied;
}
