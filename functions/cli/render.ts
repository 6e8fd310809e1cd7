import prettyBytes from 'pretty-bytes';
import prettyMilliseconds from 'pretty-ms';
import type { ArchiveReport } from '../operations/archive/archive';
import type { MigrateReport } from '../operations/migrate/migrate';
import type { PartitionsReport } from '../operations/partitions/partitions';
import type { PruneAction, PrunePlanReport, PruneReport } from '../operations/prune/prune';
import type { OperationReport } from '../operations/registry';
import type { RestoreReport } from '../operations/restore/restore';
import type { StatsReport, TimeSeriesTableStats } from '../operations/stats/stats';
import type { VacuumReport } from '../operations/vacuum/vacuum';
import { printable } from '../shared/printable';
import { isSkipped } from '../shared/when-locked';

/**
 * Plain aligned columns, no box drawing, so output stays greppable and copy-pasteable; a table
 * library would add a dependency for ten lines of padding. Cells carry names from the database
 * (an ingester's symbols and exchange names, partition names): their control characters are
 * shown escaped, so none can move the cursor, clear the screen or start a line of its own.
 */
function renderColumns(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((row) => row.map((cell) => printable(String(cell))))];
  const widths = header.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  return cells
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Binary units ("12 MiB"), as PostgreSQL's pg_size_pretty counts, so figures match psql's. */
export const size = (bytes: number) => prettyBytes(bytes, { binary: true });

/** An age as people read it: "1m 49s", "3h 2m", "2d 4h". */
export const age = (seconds: number) =>
  seconds < 1 ? '0s' : prettyMilliseconds(seconds * 1000, { secondsDecimalDigits: 0, unitCount: 2 });

/** A report as aligned columns; an operation without a table of its own (yet) prints its JSON. */
export function renderReport(report: OperationReport): string {
  if (isSkipped(report)) return `${report.operation} skipped: ${report.reason}`;
  switch (report.operation) {
    case 'migrate':
      return renderMigrate(report);
    case 'partitions':
      return renderPartitions(report);
    case 'prune':
      return renderPrune(report);
    case 'stats':
      return renderStats(report);
    case 'vacuum':
      return renderVacuum(report);
    case 'archive':
      return renderArchive(report);
    case 'restore':
      return renderRestore(report);
    default:
      return JSON.stringify(report, null, 2);
  }
}

function renderRestore(r: RestoreReport): string {
  const before = r.partition_rows_before === null ? 'no partition' : `${r.partition_rows_before} rows`;
  // A checksum that differs from the ledger's fails the restore: only a match reaches a report.
  const matches = r.ledger_checksum_matches ? "; the ledger's checksum matches" : '';
  return [
    `restore ${r.table} ${r.day}${r.dry_run ? ' (dry run: nothing was changed)' : ''}`,
    renderColumns(
      ['', ''],
      [
        ['object', `${r.location}/${r.object_key} (key from the ${r.key_from})`],
        ['object size', `${size(r.object_bytes)}, ${r.object_rows} rows${r.ledger_rows === null ? '' : ` (ledger: ${r.ledger_rows})`}`],
        [
          r.partition,
          `${before}${r.needs_replace ? ': a run without --replace refuses' : r.replace && r.partition_rows_before !== null ? ', replaced' : ''}`,
        ],
        ['default partition', `${r.dry_run ? r.default_rows : r.rows_swept} rows of the day, moved in by the attach`],
        ...(r.dry_run ? [] : [['written meanwhile', `${r.late_rows} rows written into ${r.partition} while the archive loaded, moved in`]]),
        ...(r.kept_table
          ? [['kept', `${r.kept_table}: the replaced partition, changed while the archive loaded; move the rows you want, then drop it`]]
          : []),
        ...(r.dry_run ? [] : [['loaded', `${r.rows_loaded} rows, checksum ${r.checksum}${matches}`]]),
      ],
    )
      .split('\n')
      .slice(1)
      .join('\n'),
  ].join('\n');
}

function renderMigrate(r: MigrateReport): string {
  const rows = r.migrations.map((m) => [m.name, m.status, m.duration_ms === undefined ? '' : `${m.duration_ms} ms`]);
  const notices = r.notices.map((n) => `notice: ${printable(n)}`).join('\n');
  return [
    `migrate ${printable(r.database)}: ${r.applied} applied, ${r.migrations.length - r.applied} already applied`,
    renderColumns(['migration', 'status', 'duration'], rows),
    notices,
  ]
    .filter(Boolean)
    .join('\n');
}

function renderPartitions(r: PartitionsReport): string {
  const rows = r.tables.map((t) => [t.table, t.status, t.created.length, t.present.length, t.rows_moved, `${t.runway_days} d`]);
  const errors = r.tables.flatMap((t) => t.errors.map((e) => `error: ${t.table}: ${e}`)).join('\n');
  return [
    `partitions from ${r.today} (UTC), ${r.days_ahead} days: ${r.partitions_created} created, ${r.rows_moved} rows moved out of default partitions`,
    renderColumns(['table', 'status', 'created', 'present', 'rows moved', 'runway'], rows),
    errors,
    ...r.rows_out_of_sight.map(
      (w) => `out of sight: ${w.rows} rows of ${w.table} in ${w.relations.join(', ')} until a partitions run places them`,
    ),
  ]
    .filter(Boolean)
    .join('\n');
}

function renderPrune(r: PruneReport | PrunePlanReport): string {
  const rows = r.actions.map(pruneActionRow);
  // A count that includes a catalog estimate keeps its ~ in the totals too: a truncate is
  // confirmed against this report, which must not pass an estimate off as a count.
  const estimated = estimatedTables(r.actions);
  const note = estimated.size > 0 ? '~ = estimate from the catalog' : '';
  const remarks = [r.dry_run ? 'dry run: nothing was changed' : '', note].filter(Boolean).join('; ');
  const head = remarks ? `prune ${printable(r.database)} (${remarks})` : `prune ${printable(r.database)}`;
  const totals = Object.entries('rows_planned' in r ? r.rows_planned : r.rows_deleted)
    .map(([t, n]) => `${t}=${estimated.has(t) ? '~' : ''}${n}`)
    .join(' ');
  return [
    head,
    rows.length ? renderColumns(['action', 'relation', 'rows', 'status'], rows) : 'nothing to do',
    'rows_planned' in r
      ? `would remove rows: ${totals || 'none'}; partitions to drop: ${r.partitions_planned}`
      : `removed rows: ${totals || 'none'}; partitions dropped: ${r.partitions_dropped}`,
    r.archive === null ? '' : `archive: ${r.archive}; partitions kept (archive not verified): ${r.partitions_kept}`,
    ...r.actions.flatMap((a) => ('kept_because' in a && a.kept_because ? [`kept ${a.relation}: ${a.kept_because}`] : [])),
    ...r.actions.filter((a) => a.error).map((a) => `error: ${a.error}`),
  ]
    .filter(Boolean)
    .join('\n');
}

/** Tables whose row total in a prune report includes a catalog estimate. */
function estimatedTables(actions: PruneAction[]): Set<string> {
  return new Set(
    actions.flatMap((a) => {
      if (a.action === 'truncate_tables') return a.tables.filter((t) => a.rows_exact[t] === false);
      return (a.action === 'drop_partition' || a.action === 'truncate_partition') && !a.rows_exact ? [a.table] : [];
    }),
  );
}

/** One action of a prune as a table row: action, relation, rows, status. */
function pruneActionRow(a: PruneAction): (string | number)[] {
  switch (a.action) {
    case 'truncate_tables':
      return [
        'truncate',
        a.tables.join(', '),
        `${Object.values(a.rows_exact).every(Boolean) ? '' : '~'}${Object.values(a.rows).reduce((x, y) => x + y, 0)}`,
        a.status,
      ];
    case 'delete_rows':
      return [`delete rows before ${a.before}`, a.relation, a.rows ?? '?', a.status];
    case 'truncate_partition':
      return ['truncate partition', a.relation, `${a.rows_exact ? '' : '~'}${a.rows}`, a.status];
    case 'drop_partition':
      return ['drop partition', a.relation, `${a.rows_exact ? '' : '~'}${a.rows}`, a.status];
  }
}

function renderVacuum(r: VacuumReport): string {
  const rows = r.steps.map((step) => [
    step.action,
    step.relation,
    step.reason,
    step.status,
    step.duration_ms === undefined ? '' : `${step.duration_ms} ms`,
  ]);
  const totals = r.dry_run
    ? `would seal ${r.steps.filter((step) => step.action === 'seal').length} partitions and analyze ${r.steps.filter((step) => step.action === 'analyze').length} tables`
    : `sealed ${r.partitions_sealed} partitions, analyzed ${r.tables_analyzed} tables`;
  return [
    r.dry_run ? 'vacuum (dry run: nothing was run)' : 'vacuum',
    rows.length ? renderColumns(['step', 'relation', 'why', 'status', 'took'], rows) : 'nothing to do',
    `${totals}; ${r.partitions_already_sealed} closed partitions already sealed`,
    ...r.steps.filter((step) => step.error).map((step) => `error: ${step.relation}: ${step.error}`),
  ].join('\n');
}

function renderArchive(r: ArchiveReport): string {
  const rows = r.partitions.map((p) => [
    p.partition,
    p.reason,
    p.status,
    p.rows ?? '',
    p.bytes === undefined ? '' : size(p.bytes),
    p.seconds === undefined ? '' : `${p.seconds} s`,
    p.key,
  ]);
  const totals = r.dry_run
    ? `would archive ${r.partitions.length} day partitions`
    : `archived ${r.partitions_archived} day partitions, ${r.rows_archived} rows, ${size(r.bytes_archived)}; ${r.partitions_failed} failed`;
  return [
    `archive to ${r.location}${r.dry_run ? ' (dry run: nothing was written)' : ''}`,
    rows.length ? renderColumns(['partition', 'why', 'status', 'rows', 'bytes', 'took', 'key'], rows) : 'nothing to do',
    `${totals}; ${r.partitions_already_archived} already archived and unchanged`,
    ...r.partitions.filter((p) => p.error).map((p) => `error: ${p.partition}: ${p.error}`),
  ].join('\n');
}

/** The latest-row cell: a table whose rows all lie ahead of now has rows, but no latest one yet. */
function latestCell(t: Partial<TimeSeriesTableStats> & { row_count: number }): string {
  if (t.latest_ts) return t.latest_ts;
  return t.row_count > 0 ? 'only future rows' : 'no data';
}

function renderStats(r: StatsReport): string {
  const estimated = Object.values(r.tables).some((t) => !t.row_count_exact);
  const rows = Object.entries(r.tables).map(([name, t]) => {
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
  });
  const recent = r.recent_ingest?.map((i) => [i.table, i.symbol, i.rows_last_hour, i.latest_ts ?? '']);
  return [
    `database ${printable(r.database.name)}: ${databaseLine(r.database)}, at ${r.fetched_at}${estimated ? ' (~ = estimate)' : ''}`,
    renderColumns(
      [
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
      ],
      rows,
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
