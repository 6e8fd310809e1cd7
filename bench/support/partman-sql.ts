import pg from 'pg';
import { dayBoundLiterals } from '../../functions/shared/days';
import { quoteIdent } from '../../functions/shared/db/identifiers';
import type { TimeSeriesTable } from '../../functions/shared/tables';

/**
 * The pg_partman calls of `npm run bench -- --partman`, for pg_partman 4.x (Debian 12's
 * `postgresql-15-partman` is 4.7.2). 5.x renamed the arguments these use (`p_type => 'range'`,
 * `p_interval => '1 day'`, `p_loop_count` for `p_batch`), so the section refuses it rather than
 * guess (see partmanVersionProblem).
 */

/** The schema the extension is installed in, as its documentation does. */
export const PARTMAN_SCHEMA = 'partman';

/** What to do when BENCH_PARTMAN_URL is not set: what, why, what to do. */
export const MISSING_PARTMAN_URL = [
  '--partman needs BENCH_PARTMAN_URL, a superuser URL of a PostgreSQL server that has the pg_partman 4.x extension',
  '(the section installs pg_partman in databases it creates, to compare it with ours on the same server).',
  'On Debian 12: apt-get install postgresql-15 postgresql-15-partman, start a cluster (pg_createcluster 15 bench --start,',
  'or initdb + pg_ctl from /usr/lib/postgresql/15/bin) with the settings of the large runs',
  '(-c shared_buffers=2GB -c maintenance_work_mem=512MB -c max_wal_size=8GB -c checkpoint_timeout=15min)',
  'and -c max_locks_per_transaction=256 (pg_partman drops the 720 expired partitions in one transaction),',
  'then: BENCH_PARTMAN_URL=postgresql://postgres@127.0.0.1:5432/postgres npm run bench -- --partman',
].join(' ');

/**
 * Why the server's pg_partman cannot be used, or undefined when it can: `available` is
 * pg_available_extensions' default_version for pg_partman (null when the server has none).
 */
export function partmanVersionProblem(available: string | null): string | undefined {
  if (available === null)
    return 'the server at BENCH_PARTMAN_URL has no pg_partman extension available (pg_available_extensions); install it there (on Debian 12: apt-get install postgresql-15-partman) or point BENCH_PARTMAN_URL at a server that has it';
  if (!available.startsWith('4.'))
    return `the server at BENCH_PARTMAN_URL offers pg_partman ${available}; this section calls the 4.x API (create_parent with p_type => 'native', partition_data_proc with p_batch), which 5.x changed: use a server with pg_partman 4.x (Debian 12's postgresql-15-partman)`;
  return undefined;
}

/** The extension in its own schema (the section's databases are fresh). */
export function installPartmanSql(): string[] {
  return [`CREATE SCHEMA ${PARTMAN_SCHEMA}`, `CREATE EXTENSION pg_partman SCHEMA ${PARTMAN_SCHEMA}`];
}

/**
 * pg_partman's create_parent for `table`'s ts, daily, from 00:00 UTC of `firstDay` through
 * `premake` days after today (create_parent makes every day from its start until it passes
 * now + premake days: premake 29 makes today and 29 days ahead, 30 partitions, as
 * `partitions --days 30` does). It also creates and attaches `<table>_default`, so our migration's
 * empty one must be dropped first (adoptTableSql).
 */
export function createParentSql(table: TimeSeriesTable, firstDay: string, premake: number): string {
  return `SELECT ${PARTMAN_SCHEMA}.create_parent(p_parent_table => ${pg.escapeLiteral(`public.${table}`)}, p_control => 'ts', p_type => 'native', p_interval => 'daily', p_premake => ${premake}, p_start_partition => ${pg.escapeLiteral(dayBoundLiterals(firstDay).from)})`;
}

/**
 * Our migration's empty DEFAULT partition of `table` goes, as create_parent creates its own under
 * the same name (and fails if the parent has one).
 */
export function dropOurDefaultSql(table: TimeSeriesTable): string {
  return `DROP TABLE ${quoteIdent(`${table}_default`)}`;
}

/**
 * One table handed to pg_partman in one transaction, so no insert finds the parent without a
 * DEFAULT partition: our empty one dropped (catalog only), then create_parent.
 */
export function adoptTableSql(table: TimeSeriesTable, firstDay: string, premake: number): string[] {
  return ['BEGIN', dropOurDefaultSql(table), createParentSql(table, firstDay, premake), 'COMMIT'];
}

/**
 * Our migration's plain ts index on a DEFAULT partition, which the one create_parent made lacks:
 * with it the two databases have the same indexes, and partman's min(ts) and range DELETE on the
 * default use it as our recovery does.
 */
export function defaultTsIndexSql(table: TimeSeriesTable): string {
  return `CREATE INDEX ${quoteIdent(`idx_${table}_default_ts`)} ON ${quoteIdent(`${table}_default`)} (ts)`;
}

/**
 * pg_partman's way out of a loaded DEFAULT partition: partition_data_proc moves one partition
 * interval (a day) per loop and commits between loops, at most `batch` loops. `p_wait => 0`: no
 * pause between loops (its default sleeps 1 s each), so the time is the work's, as ours is.
 */
export function partitionDataSql(table: TimeSeriesTable, batch: number): string {
  return `CALL ${PARTMAN_SCHEMA}.partition_data_proc(p_parent_table => ${pg.escapeLiteral(`public.${table}`)}, p_batch => ${batch}, p_wait => 0, p_quiet => true)`;
}

/** Retention for run_maintenance: drop (not keep) partitions that ended more than `days` days before now. */
export function retentionSql(tables: readonly TimeSeriesTable[], days: number): string {
  const parents = tables.map((table) => pg.escapeLiteral(`public.${table}`)).join(', ');
  return `UPDATE ${PARTMAN_SCHEMA}.part_config SET retention = ${pg.escapeLiteral(`${days} days`)}, retention_keep_table = false WHERE parent_table IN (${parents})`;
}

/** One run over every partition set: premake and retention; no ANALYZE (its default on PostgreSQL 11+). */
export const RUN_MAINTENANCE_SQL = `SELECT ${PARTMAN_SCHEMA}.run_maintenance()`;
