import * as z from 'zod';
import { type ArchiveReport, archive, checkArchiveInput } from './archive';
import { ARCHIVE_AFTER_DAYS, ARCHIVE_VARIABLES } from './archive/layout';
import { DAY_RULE, isCalendarDay, partitionDayProblem } from './days';
import { DEFAULT_MAINTENANCE_SETTINGS } from './db/settings';
import { type MetricsOptions, publishesSizeMetrics, type TableMetric } from './metric-names';
import { type MigrateReport, migrate } from './migrate';
import { defineOperation, type OperationDefinition, type ReportMetrics } from './operation-definition';
import { numberOrText, numberValue } from './parse';
import { ensurePartitions, type PartitionsReport } from './partitions';
import { checkPruneArchive, type PruneReport, prune, prunePlanProblems } from './prune';
import { checkRestoreArchive, type RestoreReport, restore } from './restore';
import { collectStats, type StatsReport, type TimeSeriesTableStats } from './stats';
import { TIME_SERIES_TABLES } from './tables';
import { type VacuumReport, vacuum } from './vacuum';
import { isSkipped, runUnlessLocked, type SkippedReport, WHEN_LOCKED } from './when-locked';

/**
 * The registry: every operation, once. The handlers and their bundles, the stack's functions,
 * the metrics and the runner's commands are derived from it. Adding an operation is one entry
 * here plus its core module.
 */

/** `partitions`: days of partitions kept ready (payload, flag, PARTITIONS_DAYS_AHEAD, CDK context). */
export const DAYS_AHEAD = { min: 1, max: 366, default: 7 } as const;
/** `prune`: the retention periods in days (payload, flags, PRUNE_* variables, CDK context). */
export const RETENTION_DAYS = { min: 1, max: 36_500 } as const;

/** Days, as a payload number and as an environment variable's text: one rule, one message. */
const days = ({ min, max }: { min: number; max: number }) => ({ min, max, error: `must be a whole number of days from ${min} to ${max}` });

/** What `<command> --help` lists for the commands that change tables (docs/configuration.md has them all). */
const DDL_ENVIRONMENT = [
  ['DB_LOCK_TIMEOUT_MS', `longest wait for a table lock per DDL attempt (default ${DEFAULT_MAINTENANCE_SETTINGS.lockTimeoutMs})`],
  ['DB_DDL_ATTEMPTS', `attempts per DDL step (default ${DEFAULT_MAINTENANCE_SETTINGS.ddlAttempts})`],
] as const;
const BATCH_ENVIRONMENT = [
  'MAINTENANCE_BATCH_SIZE',
  `rows per transaction when moving or deleting rows (default ${DEFAULT_MAINTENANCE_SETTINGS.batchSize})`,
] as const;
const DROP_GROUP_ENVIRONMENT = [
  'MAINTENANCE_DROP_GROUP_SIZE',
  `partitions of one table dropped per transaction (default ${DEFAULT_MAINTENANCE_SETTINGS.dropGroupSize})`,
] as const;

const migrateOperation = defineOperation({
  id: 'migrate',
  payload: z.strictObject({}),
  run: (ctx) => migrate(ctx),
  metrics: (report: MigrateReport) => ({ counts: { MigrationsApplied: report.applied } }),
  cli: {
    usage: {
      summary: 'apply pending migrations and the exchange seed',
      examples: ['', '--database-url postgres://perps_admin@db.example.com/perps'],
      environment: DDL_ENVIRONMENT,
    },
  },
});

const partitionsOperation = defineOperation({
  id: 'partitions',
  payload: z.strictObject({ daysAhead: numberValue(days(DAYS_AHEAD)).default(DAYS_AHEAD.default), whenLocked: WHEN_LOCKED }),
  run: (ctx, { whenLocked, ...input }) => runUnlessLocked('partitions', whenLocked, () => ensurePartitions(ctx, input)),
  metrics: (report: PartitionsReport | SkippedReport<'partitions'>) =>
    isSkipped(report) ? {} : { counts: { PartitionsCreated: report.partitions_created, RowsMoved: report.rows_moved } },
  defaults: {
    variables: { PARTITIONS_DAYS_AHEAD: { field: 'daysAhead', schema: numberOrText(days(DAYS_AHEAD)).default(DAYS_AHEAD.default) } },
    actionFields: ['daysAhead'],
  },
  cli: {
    // init's spelling is accepted here too, so either works with both commands.
    flags: { days: { field: 'daysAhead', kind: 'number' }, 'create-partitions-days': { field: 'daysAhead', kind: 'number' } },
    usage: {
      synopsis: 'partitions [--days N]',
      summary: `keep N days of partitions ready (${DAYS_AHEAD.min}-${DAYS_AHEAD.max}, default ${DAYS_AHEAD.default}); empty default partitions`,
      flags: [['--days N', `days of partitions from today (UTC), default ${DAYS_AHEAD.default}; --create-partitions-days N is the same`]],
      examples: ['', '--days 30', '--days 14 --format json'],
      environment: [...DDL_ENVIRONMENT, BATCH_ENVIRONMENT],
    },
  },
});

const retentionDays = numberValue(days(RETENTION_DAYS)).optional();
const switchValue = z.boolean({ error: 'must be true or false' }).optional();

const pruneOperation = defineOperation({
  id: 'prune',
  payload: z
    .strictObject({
      olderThanDays: retentionDays,
      dropPartitionsOlderThanDays: retentionDays,
      truncate: switchValue,
      confirm: z.string({ error: 'must be the database name' }).optional(),
      dryRun: switchValue,
    })
    .superRefine((input, check) => {
      for (const message of prunePlanProblems(input)) check.addIssue({ code: 'custom', message, path: [] });
    }),
  preflight: (payload, settings) => checkPruneArchive(payload, settings.archive),
  run: (ctx, payload) => prune(ctx, payload),
  metrics: (report: PruneReport) =>
    report.dry_run
      ? {}
      : {
          counts: {
            PartitionsDropped: report.partitions_dropped,
            PartitionsKept: report.partitions_kept,
            RowsDeleted: Object.values(report.rows_deleted).reduce((sum, rows) => sum + rows, 0),
          },
        },
  defaults: {
    variables: {
      PRUNE_OLDER_THAN_DAYS: { field: 'olderThanDays', schema: numberOrText(days(RETENTION_DAYS)).optional() },
      PRUNE_DROP_PARTITIONS_OLDER_THAN_DAYS: {
        field: 'dropPartitionsOlderThanDays',
        schema: numberOrText(days(RETENTION_DAYS)).optional(),
      },
    },
    actionFields: ['olderThanDays', 'dropPartitionsOlderThanDays', 'truncate'],
  },
  confirmation: { field: 'truncate', effect: 'empties markets and every data table', confirmWith: 'the name of the database to empty' },
  destroysData: (p) =>
    p.dryRun !== true && (p.truncate === true || p.olderThanDays !== undefined || p.dropPartitionsOlderThanDays !== undefined),
  cli: {
    aliases: ['clean'],
    flags: {
      'older-than': { field: 'olderThanDays', kind: 'number' },
      'drop-partitions-older-than': { field: 'dropPartitionsOlderThanDays', kind: 'number' },
      truncate: { field: 'truncate', kind: 'switch' },
      'dry-run': { field: 'dryRun', kind: 'switch' },
    },
    usage: {
      summary: 'retention (give at least one of):',
      flags: [
        ['--older-than N', `delete rows older than N days (${RETENTION_DAYS.min}-${RETENTION_DAYS.max})`],
        [
          '--drop-partitions-older-than N',
          `drop day partitions that ended N or more days ago (${RETENTION_DAYS.min}-${RETENTION_DAYS.max})`,
        ],
        ['--truncate [--yes]', 'empty markets and all data tables (asks for the database name unless --yes)'],
        ['--dry-run', 'print what would be done, change nothing'],
      ],
      examples: [
        '--older-than 90 --dry-run',
        '--drop-partitions-older-than 180',
        '--truncate',
        '--truncate --yes --database-url postgres://localhost/perps_dev',
      ],
      environment: [...DDL_ENVIRONMENT, BATCH_ENVIRONMENT, DROP_GROUP_ENVIRONMENT],
    },
  },
});

/** `stats`: the storage the database may fill, in bytes (payload, DB_STORAGE_LIMIT_BYTES, which the stack sets). */
export const STORAGE_LIMIT_BYTES = { min: 1, max: Number.MAX_SAFE_INTEGER } as const;
const storageLimit = { ...STORAGE_LIMIT_BYTES, error: `must be a whole number of bytes from 1 to ${Number.MAX_SAFE_INTEGER}` };

const statsOperation = defineOperation({
  id: 'stats',
  payload: z.strictObject({ storageLimitBytes: numberValue(storageLimit).optional(), symbols: switchValue }),
  run: (ctx, payload) => collectStats(ctx, payload),
  metrics: statsMetrics,
  defaults: {
    variables: { DB_STORAGE_LIMIT_BYTES: { field: 'storageLimitBytes', schema: numberOrText(storageLimit).optional() } },
    // Not an action: a manual payload gets the stack's limit too.
    actionFields: [],
  },
  runsAs: 'reader',
  cli: {
    flags: { 'storage-limit-bytes': { field: 'storageLimitBytes', kind: 'number' }, symbols: { field: 'symbols', kind: 'switch' } },
    usage: {
      summary: 'sizes, growth, row counts, freshness per table and exchange, partition runway, last-hour ingest',
      flags: [
        ['--storage-limit-bytes N', 'the storage the database may fill: adds the storage runway (days until full)'],
        ['--symbols', "adds the last hour's rows per symbol, counted exactly (reads every row of the hour)"],
      ],
      examples: ['', '--format json', '--storage-limit-bytes 21474836480', '--symbols'],
    },
  },
});

/**
 * The stats report as metrics, at the resolution their alarms need (see metric-names.ts): every
 * run, one value per concern over the time-series tables (size, rows out of place, runway, the
 * stalest table's data age) and each exchange's data age; in the size hours, the storage runway
 * and per table its size, growth and last hour's rows. A table or exchange with no rows yet has
 * no age to report; data-age metrics are left out altogether when the deployment turns them off.
 */
function statsMetrics(report: StatsReport, options: MetricsOptions): Pick<ReportMetrics, 'database' | 'tables' | 'exchanges'> {
  const series = Object.values(report.tables).filter((t): t is TimeSeriesTableStats => 'runway_days' in t);
  const ages = series.map((t) => t.data_age_seconds).filter((age): age is number => age !== null);
  const sizes = publishesSizeMetrics(new Date(report.fetched_at));
  const runway = report.database.storage_runway_days;
  return {
    database: {
      DatabaseSizeBytes: report.database.size_bytes,
      // Published every run, 0 included: the backlog alarm's hourly Minimum must see the zeros.
      BacklogRows: sumOf(series.map((t) => t.backlog_rows)),
      DefaultPartitionRows: sumOf(series.map((t) => t.default_rows)),
      PartitionRunwayDays: Math.min(...series.map((t) => t.runway_days)),
      ...(options.dataAge && ages.length > 0 ? { DataAgeSeconds: Math.max(...ages) } : {}),
      ...(sizes && runway !== null ? { StorageRunwayDays: runway } : {}),
    },
    ...(sizes ? { tables: tableSizeMetrics(report) } : {}),
    ...(options.dataAge ? { exchanges: exchangeMetrics(report) } : {}),
  };
}

const sumOf = (values: number[]) => values.reduce((sum, value) => sum + value, 0);

/** Per table its size; for a time-series table also its last hour's rows and its growth where a day has closed. */
function tableSizeMetrics(report: StatsReport): NonNullable<ReportMetrics['tables']> {
  const tables: Record<string, Partial<Record<TableMetric, number>>> = {};
  for (const [table, stats] of Object.entries(report.tables)) {
    tables[table] = {
      TotalBytes: stats.total_bytes,
      ...('runway_days' in stats ? { RowsLastHour: stats.rows_last_hour } : {}),
      ...('bytes_per_day' in stats && stats.bytes_per_day !== null ? { GrowthBytesPerDay: stats.bytes_per_day } : {}),
    };
  }
  return tables;
}

/**
 * ExchangeDataAgeSeconds per exchange: the age of its freshest table, so above a threshold the
 * exchange delivers nothing at all (the report's `stalled` names a single table that stopped).
 * Left out for an exchange with no row in any table.
 */
function exchangeMetrics(report: StatsReport): NonNullable<ReportMetrics['exchanges']> {
  const exchanges: Record<string, { ExchangeDataAgeSeconds: number }> = {};
  for (const [exchange, tables] of Object.entries(report.exchanges)) {
    const ages = Object.values(tables)
      .map((freshness) => freshness.data_age_seconds)
      .filter((age): age is number => age !== null);
    if (ages.length > 0) exchanges[exchange] = { ExchangeDataAgeSeconds: Math.min(...ages) };
  }
  return exchanges;
}

const vacuumOperation = defineOperation({
  id: 'vacuum',
  payload: z.strictObject({ dryRun: switchValue }),
  run: (ctx, payload) => vacuum(ctx, payload),
  metrics: (report: VacuumReport) =>
    report.dry_run ? {} : { counts: { PartitionsSealed: report.partitions_sealed, TablesAnalyzed: report.tables_analyzed } },
  cli: {
    flags: { 'dry-run': { field: 'dryRun', kind: 'switch' } },
    usage: {
      synopsis: 'vacuum [--dry-run]',
      summary: 'seal closed day partitions (VACUUM FREEZE ANALYZE), analyze partitioned parents and stale small tables',
      flags: [['--dry-run', 'list the steps it would run, run none']],
    },
  },
});

const archiveOperation = defineOperation({
  id: 'archive',
  payload: z.strictObject({
    archiveAfterDays: numberValue(days(ARCHIVE_AFTER_DAYS)).default(ARCHIVE_AFTER_DAYS.default),
    table: z.enum(TIME_SERIES_TABLES, { error: `must be one of ${TIME_SERIES_TABLES.join(', ')}` }).optional(),
    day: z.string().refine(isCalendarDay, { error: 'must be a calendar day, YYYY-MM-DD' }).optional(),
    dryRun: switchValue,
    whenLocked: WHEN_LOCKED,
  }),
  preflight: (payload, settings) => checkArchiveInput(payload, settings),
  run: (ctx, { whenLocked, ...input }) => runUnlessLocked('archive', whenLocked, () => archive(ctx, input)),
  metrics: (report: ArchiveReport | SkippedReport<'archive'>) =>
    isSkipped(report) || report.dry_run
      ? {}
      : {
          counts: {
            ArchivedPartitions: report.partitions_archived,
            ArchivedRows: report.rows_archived,
            ArchivedBytes: report.bytes_archived,
            ArchiveFailures: report.partitions_failed,
          },
        },
  defaults: {
    variables: {
      [ARCHIVE_VARIABLES.afterDays]: {
        field: 'archiveAfterDays',
        schema: numberOrText(days(ARCHIVE_AFTER_DAYS)).default(ARCHIVE_AFTER_DAYS.default),
      },
    },
    actionFields: ['archiveAfterDays', 'day'],
  },
  // Runs as the owner (the default runsAs): it writes archive_ledger, which only the maintenance user may.
  cli: {
    flags: {
      to: { field: 'directory', kind: 'text', variable: ARCHIVE_VARIABLES.directory },
      'after-days': { field: 'archiveAfterDays', kind: 'number' },
      table: { field: 'table', kind: 'text' },
      day: { field: 'day', kind: 'text' },
      'dry-run': { field: 'dryRun', kind: 'switch' },
    },
    usage: {
      synopsis: 'archive [--to DIR] [--after-days N] [--table T] [--day D] [--dry-run]',
      summary: `closed day partitions N+ days old (default ${ARCHIVE_AFTER_DAYS.default}) to Parquet in a bucket or DIR, verified, recorded in archive_ledger`,
      flags: [
        ['--to DIR', `write to this directory instead of ${ARCHIVE_VARIABLES.bucket} (sets ${ARCHIVE_VARIABLES.directory})`],
        [
          '--after-days N',
          `archive days at least N days before today, UTC (${ARCHIVE_AFTER_DAYS.min}-${ARCHIVE_AFTER_DAYS.max}, default ${ARCHIVE_AFTER_DAYS.default})`,
        ],
        ['--table T', `only this table (${TIME_SERIES_TABLES.join(', ')})`],
        ['--day YYYY-MM-DD', 'only this day (a closed one: before today, UTC)'],
        ['--dry-run', 'list the day partitions it would archive, write nothing'],
      ],
      examples: ['--to ./archive', '--to ./archive --dry-run', '--table trades --day 2026-06-01', '--after-days 7 --format json'],
      environment: [
        [ARCHIVE_VARIABLES.bucket, 'the S3 bucket to write to (the stack sets it in AWS)'],
        [ARCHIVE_VARIABLES.prefix, 'key prefix in the bucket or directory (default perps-archive)'],
        [ARCHIVE_VARIABLES.endpointUrl, 'an S3-compatible server instead of AWS S3'],
        [ARCHIVE_VARIABLES.directory, 'a directory instead of a bucket (what --to sets)'],
      ],
    },
  },
});

const restoreOperation = defineOperation({
  id: 'restore',
  payload: z.strictObject({
    table: z.enum(TIME_SERIES_TABLES, { error: `must be one of ${TIME_SERIES_TABLES.join(', ')}` }),
    day: z.string({ error: DAY_RULE }).superRefine((day, check) => {
      const problem = partitionDayProblem(day);
      if (problem) check.addIssue({ code: 'custom', message: problem });
    }),
    replace: switchValue,
    dryRun: switchValue,
  }),
  preflight: (_, settings) => checkRestoreArchive(settings.archive),
  run: (ctx, payload) => restore(ctx, payload),
  destroysData: (p) => p.replace === true && p.dryRun !== true,
  metrics: (report: RestoreReport) => (report.dry_run ? {} : { counts: { RowsRestored: report.rows_loaded } }),
  cli: {
    flags: {
      from: { field: 'directory', kind: 'text', variable: ARCHIVE_VARIABLES.directory },
      table: { field: 'table', kind: 'text' },
      day: { field: 'day', kind: 'text' },
      replace: { field: 'replace', kind: 'switch' },
      'dry-run': { field: 'dryRun', kind: 'switch' },
    },
    usage: {
      synopsis: 'restore [--from DIR] --table T --day YYYY-MM-DD [--replace] [--dry-run]',
      summary: "load one archived day back into its partition (the archive's Parquet object, verified against the ledger)",
      flags: [
        ['--from DIR', `read the archive in this directory instead of ${ARCHIVE_VARIABLES.bucket} (sets ${ARCHIVE_VARIABLES.directory})`],
        ['--table T', `the table: ${TIME_SERIES_TABLES.join(', ')}`],
        ['--day YYYY-MM-DD', 'the UTC day'],
        ['--replace', "replace the rows the day's partition holds with the archive's (refused without it)"],
        ['--dry-run', 'say what would be loaded (object, rows, bytes, the partition now), change nothing'],
      ],
      examples: [
        '--from ./archive --table trades --day 2026-01-05 --dry-run',
        '--table trades --day 2026-01-05',
        '--table tickers --day 2026-01-05 --replace',
      ],
      environment: [
        ...DDL_ENVIRONMENT,
        BATCH_ENVIRONMENT,
        [ARCHIVE_VARIABLES.bucket, 'the S3 bucket of the archive (the stack sets it in AWS)'],
        [ARCHIVE_VARIABLES.prefix, 'key prefix in the bucket or directory (default perps-archive)'],
        [ARCHIVE_VARIABLES.endpointUrl, 'an S3-compatible server instead of AWS S3'],
        [ARCHIVE_VARIABLES.directory, 'a directory instead of a bucket (what --from sets)'],
      ],
    },
  },
});

/** Every operation by id. */
export const OPERATIONS = {
  migrate: migrateOperation,
  partitions: partitionsOperation,
  prune: pruneOperation,
  stats: statsOperation,
  vacuum: vacuumOperation,
  archive: archiveOperation,
  restore: restoreOperation,
} as const;

/** An operation's one name (see OperationDefinition.id). */
export type OperationId = keyof typeof OPERATIONS;
/** Every operation id, in registry order: the bundles, the stack's functions, --help. */
export const OPERATION_IDS = Object.values(OPERATIONS).map((operation) => operation.id);

/** What any operation returns. */
export type OperationReport = Awaited<ReturnType<(typeof OPERATIONS)[OperationId]['run']>>;

/** Any registry entry, seen without its own payload type (its `payload` schema makes the payload its `run` gets). */
export type Operation = OperationDefinition<Record<string, unknown>, OperationReport>;

type CountsOf<M> = M extends { counts?: infer C } ? (C extends Readonly<Record<string, number>> ? keyof C & string : never) : never;
/** The counts the operations report (MigrationsApplied, RowsDeleted, ...): each entry names its own in `metrics`. */
export type OperationCount = CountsOf<ReturnType<(typeof OPERATIONS)[OperationId]['metrics']>>;
/**
 * Published by every invocation, dimension `Operation`: Success or Failure (1, the one that
 * happened) and the report's counts that are not zero. How long a run took is in its log line and
 * in Lambda's own Duration metric, which costs nothing.
 */
export type OperationMetric = 'Success' | 'Failure' | OperationCount;
