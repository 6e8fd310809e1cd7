import type pg from 'pg';
import { type CopyProgress, readCopyProgress } from './backlog-copy';
import { BACKLOG_COMMENT, countRows, IN_PROGRESS_COMMENT, isDayCovered, listBacklogTables, listDayTables, listPartitions } from './catalog';
import { dayBoundLiterals, partitionName } from './days';
import { quoteIdent } from './db/identifiers';
import { countUnplaceableRows, daysWithRows } from './default-backlog';

/*
 * A partitions run that stops or fails half-way leaves rows out of sight of queries on the
 * parent: in backlog tables (the swapped-out DEFAULT partitions) and in day tables not attached
 * yet. The next run brings them back. These counts say how many wait, so that neither a stopped
 * run nor stats can keep quiet about them.
 */

/** Rows of one table out of sight of queries on it, and the tables that hold them. */
export interface RowsOutOfSight {
  table: string;
  rows: number;
  /** The backlog and unattached day tables holding them, oldest backlog first. */
  relations: string[];
}

/**
 * Rows of `table` out of sight: a backlog's rows, exactly, of the days with no attached partition
 * (a day already attached shows its copies) and those no day can hold (they go back to the DEFAULT
 * partition when the backlog is dropped), plus an unattached day table's rows that are not copies
 * of backlog rows (those that came from the DEFAULT partition since the swap; exact up to 2 MiB,
 * else the catalog's estimate, as row_count is). Cost: two catalog
 * queries when nothing waits; else the partitions' bounds, per backlog one index probe per day it
 * holds rows of and an index range count per waiting day, so it follows the rows waiting (about
 * 0.8 s per million), not the table.
 */
async function countRowsOutOfSight(client: pg.ClientBase, table: string): Promise<RowsOutOfSight> {
  const backlogs = await listBacklogTables(client, table);
  const dayTables = [...(await listDayTables(client, table))].filter(([, owner]) => owner === 'ours').map(([day]) => day);
  const result: RowsOutOfSight = { table, rows: 0, relations: [] };
  if (backlogs.length === 0 && dayTables.length === 0) return result;
  const partitions = await listPartitions(client, table);
  const progress = new Map<string, CopyProgress>();
  for (const backlog of backlogs) {
    progress.set(backlog, await readCopyProgress(client, backlog));
    const waiting = (await daysWithRows(client, backlog)).filter((day) => !isDayCovered(partitions, day));
    const rows = (await countInDays(client, backlog, waiting)) + (await countUnplaceableRows(client, backlog));
    result.rows += rows;
    if (rows > 0) result.relations.push(backlog);
  }
  for (const day of dayTables.sort()) {
    const name = partitionName(table, day);
    let copies = 0;
    for (const [backlog, state] of progress) {
      const copied = state.get(day);
      if (copied) copies += await countInDays(client, backlog, [day], copied === 'all' ? undefined : copied.through);
    }
    // Not a count(*): prune's detached days carry the same mark, and a scan here (every stats
    // run) would hold up their DROP; above 2 MiB the catalog's estimate; a table gone since is 0.
    const held = (await countRows(client, [name])).get(name)?.rows ?? 0;
    result.rows += Math.max(0, held - copies);
    if (held > 0) result.relations.push(name);
  }
  return result;
}

/**
 * Rows out of sight of each of `tables`, only those with some. One catalog query finds whether
 * any table carries a backlog's or an unfinished day's comment (it reads pg_description, which
 * holds only commented objects, not every partition): normally none, and nothing else is read.
 */
export async function countTablesOutOfSight(client: pg.ClientBase, tables: readonly string[]): Promise<RowsOutOfSight[]> {
  const { rows } = await client.query<{ relname: string }>(
    `SELECT c.relname FROM pg_description d JOIN pg_class c ON c.oid = d.objoid
      WHERE d.classoid = 'pg_class'::regclass AND d.objsubid = 0 AND c.relkind = 'r' AND NOT c.relispartition
        AND c.relnamespace = current_schema()::regnamespace
        AND (d.description = $1 OR split_part(d.description, E'\\n', 1) = $2)`,
    [IN_PROGRESS_COMMENT, BACKLOG_COMMENT],
  );
  const waiting: RowsOutOfSight[] = [];
  for (const table of tables) {
    if (!rows.some((row) => row.relname.startsWith(`${table}_`))) continue;
    const counted = await countRowsOutOfSight(client, table);
    if (counted.rows > 0) waiting.push(counted);
  }
  return waiting;
}

/** Rows of `relation` in the given days (through `through` at most), in one statement: an index range count per day. */
async function countInDays(client: pg.ClientBase, relation: string, days: string[], through?: string): Promise<number> {
  if (days.length === 0) return 0;
  const bounds = days.map((day) => dayBoundLiterals(day));
  const { rows } = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM unnest($1::timestamptz[], $2::timestamptz[]) AS d(f, t)
       JOIN ${quoteIdent(relation)} r ON r.ts >= d.f AND r.ts < d.t AND ($3::timestamptz IS NULL OR r.ts <= $3::timestamptz)`,
    [bounds.map((b) => b.from), bounds.map((b) => b.to), through ?? null],
  );
  return rows[0]?.n ?? 0;
}

/**
 * One sentence for an error or a warning: how many rows of which tables wait out of sight, where,
 * and what brings them back. Empty when none wait.
 */
export function describeRowsOutOfSight(waiting: RowsOutOfSight[]): string {
  const tables = waiting.filter((entry) => entry.rows > 0);
  if (tables.length === 0) return '';
  const parts = tables.map((entry) => `${entry.rows} rows of ${entry.table} (in ${entry.relations.join(', ')})`);
  return `${parts.join(', ')} wait out of sight of queries on their tables: run partitions again to bring them back (\`npm run local -- partitions\`, or invoke the partitions function with {}); the hourly partitions schedule does so within the hour`;
}
