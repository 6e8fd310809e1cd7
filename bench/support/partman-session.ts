import pg from 'pg';
import { TIME_SERIES_TABLES } from '../../functions/shared/tables';
import { type BenchDatabase, createBenchDatabase, MAINTENANCE_APP } from './database';
import { adoptTableSql, defaultTsIndexSql, installPartmanSql } from './partman-sql';
import { type MeasuredOperation, measureOperation, runInProcess } from './scenario';

/** Days ahead of today: premake 29 makes today and 29 more, as `daysAhead: 30` does. */
export const PREMAKE = 29;

/** measureOperation of work done in this process (ours, or pg_partman's calls on its session). */
export async function measureInProcess<T>(
  db: BenchDatabase,
  name: string,
  work: () => Promise<T>,
  describe: (result: T) => string,
  log: (line: string) => void,
): Promise<MeasuredOperation> {
  const { result: _, ...measured } = await measureOperation(db.url, name, () => runInProcess(work), describe, log);
  return measured;
}

/**
 * A fresh migrated database with pg_partman installed, and a session for its calls, named as
 * ours are for the lock watcher, in UTC so create_parent's days are UTC days as ours are.
 */
export async function partmanDatabase(adminUrl: string): Promise<{ db: BenchDatabase; client: pg.Client }> {
  const db = await createBenchDatabase(adminUrl, 'bench_partman_theirs');
  const client = new pg.Client({ connectionString: db.url, application_name: MAINTENANCE_APP, options: '-c TimeZone=UTC' });
  await client.connect();
  for (const statement of installPartmanSql()) await client.query(statement);
  return { db, client };
}

/** Every table handed to pg_partman, each in a transaction of its own: partitions from `firstDay` to PREMAKE days ahead. */
export async function adoptTables(client: pg.Client, firstDay: string): Promise<void> {
  try {
    for (const table of TIME_SERIES_TABLES) for (const statement of adoptTableSql(table, firstDay, PREMAKE)) await client.query(statement);
  } catch (error) {
    // The session stays usable for the rest of the run, and the table keeps our DEFAULT partition.
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** adoptTables as setup, then our migration's index on each DEFAULT partition create_parent made. */
export async function createParents(client: pg.Client, firstDay: string): Promise<void> {
  await adoptTables(client, firstDay);
  for (const table of TIME_SERIES_TABLES) await client.query(defaultTsIndexSql(table));
}

/** pg_partman's name for a day partition: `trades` + `2026-11-30` -> `trades_p2026_11_30`. */
export function partmanPartitionName(table: string, day: string): string {
  return `${table}_p${day.replaceAll('-', '_')}`;
}

/** Partitions of the four parents other than the DEFAULT ones. */
export async function countDayPartitions(db: BenchDatabase): Promise<number> {
  const { rows } = await db.query(
    `SELECT count(*)::int AS n FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = ANY ($1::regclass[]) AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'`,
    [[...TIME_SERIES_TABLES]],
  );
  return rows[0]?.n ?? 0;
}

/** pg_partman's figure for a measured call: `describe` of what the catalog shows after, unless the call failed. */
export async function afterPartman(measured: MeasuredOperation, describe: () => Promise<string>): Promise<MeasuredOperation> {
  return measured.detail.startsWith('FAILED') ? measured : { ...measured, detail: await describe() };
}
