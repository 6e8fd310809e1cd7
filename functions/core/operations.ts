import * as z from 'zod';
import type { TableMetric } from './metric-names';
import { type MigrateReport, migrate } from './migrate';
import { defineOperation, type OperationDefinition, type ReportMetrics } from './operation-definition';
import { numberOrText, numberValue } from './parse';
import { ensurePartitions, type PartitionsReport } from './partitions';
import { type PruneReport, prune, prunePlanProblems } from './prune';
import { collectStats, type StatsReport } from './stats';

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

const migrateOperation = defineOperation({
  id: 'migrate',
  payload: z.strictObject({}),
  run: (ctx) => migrate(ctx),
  metrics: (report: MigrateReport) => ({ counts: { MigrationsApplied: report.applied } }),
  cli: { usage: { summary: 'apply pending migrations and the exchange seed' } },
});

const partitionsOperation = defineOperation({
  id: 'partitions',
  payload: z.strictObject({ daysAhead: numberValue(days(DAYS_AHEAD)).default(DAYS_AHEAD.default) }),
  run: (ctx, payload) => ensurePartitions(ctx, payload),
  metrics: (report: PartitionsReport) => ({ counts: { PartitionsCreated: report.partitions_created, RowsMoved: report.rows_moved } }),
  defaults: {
    variables: { PARTITIONS_DAYS_AHEAD: { field: 'daysAhead', schema: numberOrText(days(DAYS_AHEAD)).default(DAYS_AHEAD.default) } },
    actionFields: ['daysAhead'],
  },
  cli: {
    flags: { days: { field: 'daysAhead', kind: 'number' } },
    usage: {
      synopsis: 'partitions [--days N]',
      summary: `keep N days of partitions ready (${DAYS_AHEAD.min}-${DAYS_AHEAD.max}, default ${DAYS_AHEAD.default}); empty default partitions`,
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
  run: (ctx, payload) => prune(ctx, payload),
  metrics: (report: PruneReport) =>
    report.dry_run
      ? {}
      : {
          counts: {
            PartitionsDropped: report.partitions_dropped,
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
    },
  },
});

const statsOperation = defineOperation({
  id: 'stats',
  payload: z.strictObject({}),
  run: (ctx) => collectStats(ctx),
  metrics: statsMetrics,
  cli: { usage: { summary: 'sizes, row counts, freshness, partition runway, last-hour ingest' } },
});

/**
 * The stats report as metrics: the database size, then per table its sizes and rows, and for a
 * time-series table its last hour's rows, runway, default-partition rows and data age. Data age
 * is left out for a table with no rows yet: there is no age to report, and the stack's
 * missing-data alarm covers a stats run that stops.
 */
function statsMetrics(report: StatsReport): Pick<ReportMetrics, 'database' | 'tables'> {
  const rowsLastHour = new Map<string, number>();
  for (const ingest of report.recent_ingest) rowsLastHour.set(ingest.table, (rowsLastHour.get(ingest.table) ?? 0) + ingest.rows_last_hour);
  const tables: Record<string, Partial<Record<TableMetric, number>>> = {};
  for (const [table, stats] of Object.entries(report.tables)) {
    const sizes = {
      RowCount: stats.row_count,
      TableBytes: stats.table_bytes,
      IndexBytes: stats.index_bytes,
      TotalBytes: stats.total_bytes,
    };
    if (!('runway_days' in stats)) {
      tables[table] = sizes;
      continue;
    }
    tables[table] = {
      ...sizes,
      RowsLastHour: rowsLastHour.get(table) ?? 0,
      PartitionRunwayDays: stats.runway_days,
      DefaultPartitionRows: stats.default_rows,
      ...(stats.data_age_seconds === null ? {} : { DataAgeSeconds: stats.data_age_seconds }),
    };
  }
  return { database: { DatabaseSizeBytes: report.database.size_bytes }, tables };
}

/** Every operation by id. */
export const OPERATIONS = {
  migrate: migrateOperation,
  partitions: partitionsOperation,
  prune: pruneOperation,
  stats: statsOperation,
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
/** Published by every invocation, dimension `Operation`: the outcome and the report's counts. */
export type OperationMetric = 'Success' | 'Failure' | 'Duration' | OperationCount;
