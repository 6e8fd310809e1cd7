import type pg from 'pg';
import { settledSql } from '../../functions/operations/stats/leaf-sizes';
import { collectStats, type StatsInput, type StatsReport } from '../../functions/operations/stats/stats';
import { createPool } from '../../functions/shared/db/pool';
import { DEFAULT_CONNECTION_SETTINGS } from '../../functions/shared/db/settings';
import { silentLogger } from '../../functions/shared/log';
import { testContext } from './database';

/** Table and index tuples read so far from the leaves of `table` (sequential and index reads). */
async function readSoFar(client: pg.ClientBase, table: string): Promise<number> {
  await client.query('SELECT pg_stat_clear_snapshot()');
  const { rows } = await client.query<{ n: string }>(
    `WITH leaves AS (SELECT relid FROM pg_partition_tree($1::regclass) WHERE isleaf)
     SELECT (SELECT coalesce(sum(seq_tup_read), 0) FROM pg_stat_user_tables WHERE relid IN (SELECT relid FROM leaves))
          + (SELECT coalesce(sum(idx_tup_read), 0) FROM pg_stat_user_indexes WHERE relid IN (SELECT relid FROM leaves)) AS n`,
    [table],
  );
  return Number(rows[0]?.n);
}

/**
 * Before PostgreSQL 15 the counters travel through the statistics collector, every 500 ms at
 * most: earlier sessions' reads can still be on their way. A count is taken once it holds still
 * over a collector interval and more, and is above `floor`.
 */
async function settled(client: pg.ClientBase, table: string, floor: number): Promise<number> {
  let last = await readSoFar(client, table);
  for (let i = 0; i < 40; i++) {
    await new Promise((resolve) => setTimeout(resolve, 700));
    const now = await readSoFar(client, table);
    if (now === last && now > floor) return now;
    last = now;
  }
  return last;
}

/**
 * Table and index tuples `run` reads from the partitions of `table`, counted by the statistics
 * views. Stats counters are flushed when a backend exits: `run` must do its reading in sessions
 * it closes before it returns (a pool of its own, ended).
 */
export async function tuplesReadDuring(client: pg.ClientBase, table: string, run: () => Promise<unknown>): Promise<number> {
  const before = await settled(client, table, -1);
  await run();
  return (await settled(client, table, before)) - before;
}

/** One stats run at `now` (with `input`) in a pool of its own, and the tuples it read from `table`'s partitions. */
export async function tuplesReadByStats(
  client: pg.ClientBase,
  url: string,
  table: string,
  now: Date,
  input: StatsInput = {},
): Promise<{ read: number; report: StatsReport }> {
  let report: StatsReport | undefined;
  const read = await tuplesReadDuring(client, table, async () => {
    const pool = createPool({ ...DEFAULT_CONNECTION_SETTINGS, url, poolMin: 0, poolMax: 1 }, silentLogger);
    try {
      report = await collectStats({ ...testContext(url, { now }), pool }, input);
    } finally {
      await pool.end();
    }
  });
  if (!report) throw new Error('stats returned no report');
  return { read, report };
}

/**
 * The leaf partitions (of `table`, else of every partitioned table) that stats does not see as
 * settled (functions/operations/stats/leaf-sizes.ts): changed since their last analyze, or never analyzed.
 * Read from a fresh statistics snapshot.
 */
export async function unsettledPartitions(client: pg.ClientBase, table?: string): Promise<string[]> {
  await client.query('SELECT pg_stat_clear_snapshot()');
  const { rows } = await client.query<{ name: string }>(
    `SELECT c.oid::regclass::text AS name FROM pg_class c
      WHERE c.relispartition AND c.relkind = 'r' AND NOT (${settledSql('c.oid')})
        AND ($1::regclass IS NULL OR c.oid IN (SELECT relid FROM pg_partition_tree($1::regclass)))
      ORDER BY 1`,
    [table ?? null],
  );
  return rows.map((row) => row.name);
}

/**
 * From PostgreSQL 15 an idle session sends its counts at most 10 s late (PGSTAT_IDLE_INTERVAL);
 * before, the collector is up to 500 ms late.
 */
const COUNTS_LATE_MS = 10_500;

/**
 * Waits until every leaf of the partitioned tables has been analyzed since it last changed, as
 * the statistics views tell it, and stays so while counts can still be on their way, so that
 * stats sees them all as settled (see functions/operations/stats/leaf-sizes.ts). Counts of the sessions that
 * wrote (this one, a pool's) can arrive after the ANALYZE that followed the writes, which leaves
 * a leaf with changes since its analyze: it is analyzed again.
 */
export async function analyzeArrived(client: pg.ClientBase): Promise<void> {
  const started = Date.now();
  let settledSince = Date.now();
  while (Date.now() - started < 4 * COUNTS_LATE_MS) {
    const unsettled = await unsettledPartitions(client);
    if (unsettled.length > 0) {
      await client.query(`ANALYZE ${unsettled.join(', ')}`);
      settledSince = Date.now();
    } else if (Date.now() - settledSince >= COUNTS_LATE_MS) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error('the partitions were not seen analyzed since their last change for long enough');
}
