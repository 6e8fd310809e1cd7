import pg from 'pg';
import { BACKLOG_COMMENT, type ForeignKey, listIndexes } from './catalog';
import type { OperationContext } from './context';
import { LAST_PARTITION_DAY_END } from './days';
import { quoteIdent } from './db/identifiers';
import {
  blockingLockWait,
  COMMIT_WITHOUT_FLUSH,
  configuredLockWait,
  quietLockWait,
  referencedTables,
  runWithLockTimeout,
} from './db/locks';
import type { TsRange } from './row-moves';

/*
 * A DEFAULT partition holding many rows stalls ingestion: every ATTACH (and CREATE ... PARTITION
 * OF) scans it while it holds the parent. So a run first swaps it out: one catalog-only
 * transaction detaches it, renames it to a backlog table and puts an empty DEFAULT partition in
 * its place. The backlog's rows are then copied into day partitions with nothing scanning them
 * under a lock that blocks inserts (see partitions.ts and backlog-copy.ts); until their day is
 * attached they are out of sight of queries on the parent. The backlog is dropped once all of
 * them are placed.
 */

/**
 * Rows whose ts can have a day partition: finite, from 0001-01-01 to 9999-12-30. A day partition
 * is named and bounded by YYYY-MM-DD days, and 9999-12-31's would end at 10000-01-01, which is
 * none (see days.ts).
 */
export const PLACEABLE: TsRange = { from: '0001-01-01 00:00:00+00', to: `${LAST_PARTITION_DAY_END} 00:00:00+00` };

/** The rest: infinite, BC, or 9999-12-31 and later. They live in the DEFAULT partition for good. */
export const UNPLACEABLE: TsRange[] = [
  { from: '-infinity', to: PLACEABLE.from },
  { from: PLACEABLE.to as string, to: null },
];

/** Whether a relation holds rows a day partition can take. Cost: one probe of its ts index. */
export async function hasPlaceableRows(client: pg.ClientBase, relation: string): Promise<boolean> {
  const { rows } = await client.query<{ found: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM ${quoteIdent(relation)} WHERE ts >= $1::timestamptz AND ts < $2::timestamptz) AS found`,
    [PLACEABLE.from, PLACEABLE.to],
  );
  return rows[0]?.found ?? false;
}

/** Rows no day partition can hold. Cost: two ranges of the ts index, normally empty. */
export async function countUnplaceableRows(client: pg.ClientBase, relation: string): Promise<number> {
  const { rows } = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${quoteIdent(relation)} WHERE ts < $1::timestamptz OR ts >= $2::timestamptz`,
    [PLACEABLE.from, PLACEABLE.to],
  );
  return rows[0]?.n ?? 0;
}

/**
 * The UTC days a relation has placeable rows of. Cost: one probe of the ts index per day (a
 * loose index scan), however many rows each day holds.
 */
export async function daysWithRows(client: pg.ClientBase, relation: string): Promise<string[]> {
  const source = quoteIdent(relation);
  const { rows } = await client.query<{ day: string }>(
    `WITH RECURSIVE walk AS (
       SELECT (SELECT min(ts) FROM ${source} WHERE ts >= $1::timestamptz AND ts < $2::timestamptz) AS first
       UNION ALL
       SELECT (SELECT min(ts) FROM ${source}
                WHERE ts >= (date_trunc('day', walk.first AT TIME ZONE 'UTC') + interval '1 day') AT TIME ZONE 'UTC'
                  AND ts < $2::timestamptz)
         FROM walk WHERE walk.first IS NOT NULL)
     SELECT to_char(first AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day FROM walk WHERE first IS NOT NULL`,
    [PLACEABLE.from, PLACEABLE.to],
  );
  return rows.map((row) => row.day);
}

/** The first `<table>_backlog_N` name not taken in the current schema. */
async function freeBacklogName(client: pg.ClientBase, table: string): Promise<string> {
  const { rows } = await client.query<{ n: number }>(
    `SELECT min(n)::int AS n FROM generate_series(1, 10000) n
      WHERE NOT EXISTS (SELECT 1 FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relname = $1 || '_backlog_' || n)`,
    [table],
  );
  return `${table}_backlog_${rows[0]?.n ?? 1}`;
}

/**
 * Swaps the DEFAULT partition out, in one transaction that touches only the catalog (about
 * 15 ms, whatever it holds): DETACH it, rename it and its indexes to a marked backlog table, and
 * create an empty DEFAULT partition with the same own indexes (its ts index). Returns the
 * backlog's name.
 *
 * Locks: DETACH gives the detached table foreign keys of its own, whose triggers go on the
 * referenced tables (SHARE ROW EXCLUSIVE, which inserts' foreign-key checks do not conflict with):
 * taken first, while inserts still flow. Then ACCESS EXCLUSIVE on the parent and the default,
 * waited for at most BLOCKING_LOCK_WAIT_MS: inserts in flight finish first, new ones wait for
 * this transaction, then route to the new DEFAULT partition. An insert can never have picked the
 * old default and be left without it: it holds its lock on the parent from before it routes.
 */
export async function takeDefaultBacklog(
  ctx: OperationContext,
  client: pg.ClientBase,
  plan: { table: string; defaultPartition: string; foreignKeys: ForeignKey[] },
): Promise<string> {
  const { table, defaultPartition } = plan;
  const backlog = await freeBacklogName(client, table);
  const indexes = await listIndexes(client, defaultPartition);
  const referenced = referencedTables(plan.foreignKeys);
  const statements = [
    // Autovacuum, busy with a loaded DEFAULT partition, is made to yield first (see
    // quietLockWait): this mode does not stop inserts, and no DETACH can wait for it later.
    COMMIT_WITHOUT_FLUSH,
    quietLockWait(ctx),
    `LOCK TABLE ${quoteIdent(defaultPartition)} IN SHARE UPDATE EXCLUSIVE MODE`,
    configuredLockWait(ctx),
    ...(referenced.length > 0 ? [`LOCK TABLE ${referenced.join(', ')} IN SHARE ROW EXCLUSIVE MODE`] : []),
    blockingLockWait(ctx),
    `ALTER TABLE ${quoteIdent(table)} DETACH PARTITION ${quoteIdent(defaultPartition)}`,
    `ALTER TABLE ${quoteIdent(defaultPartition)} RENAME TO ${quoteIdent(backlog)}`,
    ...indexes.map((index, i) => `ALTER INDEX ${quoteIdent(index.name)} RENAME TO ${quoteIdent(`${backlog}_idx${i + 1}`)}`),
    `COMMENT ON TABLE ${quoteIdent(backlog)} IS ${pg.escapeLiteral(BACKLOG_COMMENT)}`,
    // Vacuuming rows on their way out is wasted work, and would hold up the TRUNCATE at the end.
    `ALTER TABLE ${quoteIdent(backlog)} SET (autovacuum_enabled = false)`,
    `CREATE TABLE ${quoteIdent(defaultPartition)} PARTITION OF ${quoteIdent(table)} DEFAULT`,
    // The old default's own indexes (not its partitions of the parent's): their statements name
    // the default, which is now the new one.
    ...indexes.filter((index) => !index.inherited).map((index) => index.definition),
  ];
  await runWithLockTimeout(client, `swap out ${defaultPartition}`, ctx.settings, ctx.log, () => client.query(statements.join(';\n')));
  ctx.log.info('default partition swapped out', { table, backlog });
  return backlog;
}
