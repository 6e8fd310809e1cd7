import type { JobStatus, JobsStats } from '../../operations/stats/jobs';
import type { StatsReport, TableStats, TimeSeriesTableStats } from '../../operations/stats/stats';
import { printable } from '../../shared/printable';
import { age, renderColumns, size } from './columns';

/** The latest-row cell: a table whose rows all lie ahead of now has rows, but no latest one yet. */
function latestCell(t: Partial<TimeSeriesTableStats> & { row_count: number }): string {
  if (t.latest_ts) return t.latest_ts;
  return t.row_count > 0 ? 'only future rows' : 'no data';
}

/** A table's statistics; the day columns stay empty for a table that is not partitioned by day. */
type TableRow = Partial<TimeSeriesTableStats> & TableStats;

/**
 * The table of tables: each column's heading and its cell. It fits 120 columns; the rest of each
 * table's fields (data and index sizes, the days covered, rows a day) are in `--format json`.
 */
const TABLE_COLUMNS: readonly (readonly [string, (t: TableRow, name: string) => string | number])[] = [
  ['table', (_, name) => name],
  ['rows', (t) => `${t.row_count_exact ? '' : '~'}${t.row_count}`],
  ['total', (t) => size(t.total_bytes)],
  ['partitions', (t) => t.partitions ?? ''],
  ['runway', (t) => (t.runway_days === undefined ? '' : `${t.runway_days} d`)],
  ['default rows', (t) => t.default_rows ?? ''],
  ['latest', (t) => (t.partitions === undefined ? '' : latestCell(t))],
  ['age', (t) => (t.data_age_seconds === undefined || t.data_age_seconds === null ? '' : age(t.data_age_seconds))],
  [
    'growth/day (days)',
    (t) => (t.bytes_per_day === undefined || t.bytes_per_day === null ? '' : `${size(t.bytes_per_day)} (${t.growth_days?.length ?? 0})`),
  ],
];

/** `stats`: the database, a row per table, rows out of sight, per symbol (--symbols) and per exchange. */
export function renderStats(r: StatsReport): string {
  const estimated = Object.values(r.tables).some((t) => !t.row_count_exact);
  const recent = r.recent_ingest?.map((i) => [i.table, i.symbol, i.rows_last_hour, i.latest_ts ?? '']);
  return [
    `database ${printable(r.database.name)}: ${databaseLine(r.database)}, at ${r.fetched_at}${estimated ? ' (~ = estimate)' : ''}`,
    renderColumns(
      TABLE_COLUMNS.map(([heading]) => heading),
      Object.entries(r.tables).map(([name, t]) => TABLE_COLUMNS.map(([, cell]) => cell(t, name))),
    ),
    ...Object.entries(r.tables).flatMap(([name, t]) =>
      'backlog_rows' in t && t.backlog_rows > 0
        ? [
            `out of sight: ${t.backlog_rows} rows of ${name} in ${t.backlog_tables.join(', ')}, not counted above: run partitions to bring them back`,
          ]
        : [],
    ),
    '',
    recentSymbols(recent),
    '',
    renderExchanges(r.exchanges),
    '',
    renderJobs(r.jobs),
  ].join('\n');
}

/** The jobs table's columns: the last run (when, how, from where), the last success (how long ago), the schedule's limit. */
const JOB_COLUMNS: readonly (readonly [string, (j: JobStatus) => string])[] = [
  ['last run', (j) => j.last_run?.started_at ?? 'never'],
  ['outcome', (j) => (j.last_run ? `${j.last_run.outcome}${j.last_run.did_work ? '' : ' (no work)'}` : '')],
  ['from', (j) => j.last_run?.origin ?? ''],
  ['last success', (j) => (j.seconds_since_success === null ? 'never' : `${age(j.seconds_since_success)} ago`)],
  ['overdue after', (j) => (j.overdue_after_seconds === null ? 'not scheduled' : age(j.overdue_after_seconds))],
  ['', (j) => (j.overdue ? 'OVERDUE' : '')],
];

/** One row per operation from the history of runs (job_runs); OVERDUE where its last success is too old. */
function renderJobs(jobs: JobsStats | null): string {
  if (!jobs) return 'jobs: no history of runs in this database yet (table job_runs): run migrate';
  const rows = Object.entries(jobs).map(([operation, job]) => [operation, ...JOB_COLUMNS.map(([, cell]) => cell(job))]);
  return renderColumns(['job', ...JOB_COLUMNS.map(([heading]) => heading)], rows);
}

/** The per-symbol table when the run asked for it (--symbols). */
function recentSymbols(recent: (string | number)[][] | undefined): string {
  if (!recent) return 'rows per symbol: not counted (--symbols counts them; it reads every row of the last hour)';
  return recent.length ? renderColumns(['table', 'symbol', 'rows last hour', 'latest'], recent) : 'no rows ingested in the last hour';
}

/** "10 MiB of 20 GiB, growing 12 MiB a day: full in 1705 days"; the limit and runway only when known. */
function databaseLine(d: StatsReport['database']): string {
  const limit = d.storage_limit_bytes === null ? '' : ` of ${size(d.storage_limit_bytes)}`;
  const runway = d.storage_runway_days === null ? '' : `: full in ${d.storage_runway_days} days`;
  const growth =
    d.growth_bytes_per_day === null ? 'growth not measured yet (no closed day partition)' : `growing ${size(d.growth_bytes_per_day)} a day`;
  return `${size(d.size_bytes)}${limit}, ${growth}${runway}`;
}

/** One row per exchange and table where the exchange has rows; STALLED where it fell behind the others. */
function renderExchanges(exchanges: StatsReport['exchanges']): string {
  const rows = Object.entries(exchanges).flatMap(([exchange, tables]) =>
    Object.entries(tables)
      .filter(([, f]) => f.latest_ts !== null)
      .map(([table, f]) => [
        exchange,
        table,
        `${f.rows_last_hour_exact ? '' : '~'}${f.rows_last_hour}`,
        f.latest_ts ?? '',
        age(f.data_age_seconds ?? 0),
        f.stalled ? 'STALLED' : '',
      ]),
  );
  return rows.length ? renderColumns(['exchange', 'table', 'rows last hour', 'latest', 'age', ''], rows) : 'no exchange has rows yet';
}
