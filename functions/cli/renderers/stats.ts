import type { StatsReport, TableStats, TimeSeriesTableStats } from '../../operations/stats/stats';
import { printable } from '../../shared/printable';
import { age, renderColumns, size } from './columns';

/** The latest-row cell: a table whose rows all lie ahead of now has rows, but no latest one yet. */
function latestCell(t: Partial<TimeSeriesTableStats> & { row_count: number }): string {
  if (t.latest_ts) return t.latest_ts;
  return t.row_count > 0 ? 'only future rows' : 'no data';
}

const TABLE_HEADER = [
  'table',
  'rows',
  'data',
  'indexes',
  'total',
  'partitions',
  'days',
  'runway',
  'default rows',
  'latest',
  'age',
  'growth/day (days)',
  'rows/day',
];

/** `stats`: the database, a row per table, rows out of sight, per symbol (--symbols) and per exchange. */
export function renderStats(r: StatsReport): string {
  const estimated = Object.values(r.tables).some((t) => !t.row_count_exact);
  const recent = r.recent_ingest?.map((i) => [i.table, i.symbol, i.rows_last_hour, i.latest_ts ?? '']);
  return [
    `database ${printable(r.database.name)}: ${databaseLine(r.database)}, at ${r.fetched_at}${estimated ? ' (~ = estimate)' : ''}`,
    renderColumns(
      TABLE_HEADER,
      Object.entries(r.tables).map(([name, t]) => tableRow(name, t)),
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
  ].join('\n');
}

/** One table's row; a table that is not partitioned by day leaves the day columns empty. */
function tableRow(name: string, t: TableStats | TimeSeriesTableStats): (string | number)[] {
  const s = t as Partial<TimeSeriesTableStats> & typeof t;
  return [
    name,
    `${t.row_count_exact ? '' : '~'}${t.row_count}`,
    size(t.table_bytes),
    size(t.index_bytes),
    size(t.total_bytes),
    s.partitions ?? '',
    s.partitions === undefined ? '' : `${s.oldest_partition ?? '-'} .. ${s.newest_partition ?? '-'}`,
    s.runway_days === undefined ? '' : `${s.runway_days} d`,
    s.default_rows ?? '',
    s.partitions === undefined ? '' : latestCell(s),
    s.data_age_seconds === undefined || s.data_age_seconds === null ? '' : age(s.data_age_seconds),
    s.bytes_per_day === undefined || s.bytes_per_day === null ? '' : `${size(s.bytes_per_day)} (${s.growth_days?.length ?? 0})`,
    s.rows_per_day ?? '',
  ];
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
  return `${size(d.size_bytes)}${limit}, growing ${size(d.growth_bytes_per_day)} a day${runway}`;
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
