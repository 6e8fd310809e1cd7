import * as z from 'zod';
import { switchValue } from '../../shared/definition-fields';
import { type MetricsOptions, publishesSizeMetrics, type TableMetric } from '../../shared/metric-names';
import { defineOperation, type ReportMetrics } from '../../shared/operation-definition';
import { numberOrText, numberValue } from '../../shared/parse';
import { overdueCount } from './jobs';
import type { StatsReport, TimeSeriesTableStats } from './stats';

/** `stats`: the storage the database may fill, in bytes (payload, DB_STORAGE_LIMIT_BYTES, which the stack sets). */
export const STORAGE_LIMIT_BYTES = { min: 1, max: Number.MAX_SAFE_INTEGER } as const;
const storageLimit = { ...STORAGE_LIMIT_BYTES, error: `must be a whole number of bytes from 1 to ${Number.MAX_SAFE_INTEGER}` };

export const statsOperation = defineOperation({
  id: 'stats',
  payload: z.strictObject({ storageLimitBytes: numberValue(storageLimit).optional(), symbols: switchValue }),
  run: async (ctx, payload) => (await import('./stats')).collectStats(ctx, payload),
  metrics: statsMetrics,
  defaults: {
    variables: { DB_STORAGE_LIMIT_BYTES: { field: 'storageLimitBytes', schema: numberOrText(storageLimit).optional() } },
    // Not an action: a manual payload gets the stack's limit too.
    actionFields: [],
  },
  runsAs: 'reader',
  // Every 5 minutes, catalog reads only: a failed run is superseded by the next one.
  deploy: {
    timeoutMinutes: 1,
    reservedConcurrency: undefined,
    retryAttempts: 0,
    maxEventAgeMinutes: 5,
    statementTimeoutSeconds: 50,
    login: 'stats',
    schedule: () => ({ cron: { minute: '0/5', hour: '*' }, input: {}, retryAttempts: 1, maxEventAgeMinutes: 5 }),
    environment: (deployment) => ({
      ...(deployment.storageLimitBytes ? { DB_STORAGE_LIMIT_BYTES: String(deployment.storageLimitBytes) } : {}),
      ...(deployment.dataAgeAlarmSeconds === undefined ? { STATS_DATA_AGE_METRICS: 'false' } : {}),
    }),
  },
  cli: {
    flags: {
      'storage-limit': { field: 'storageLimitBytes', kind: 'size' },
      'storage-limit-bytes': { field: 'storageLimitBytes', kind: 'number' },
      symbols: { field: 'symbols', kind: 'switch' },
    },
    usage: {
      summary:
        'sizes, growth, row counts, freshness per table and exchange, partition runway, last-hour ingest (--format json: every field)',
      flags: [
        ['--storage-limit SIZE', 'the storage the database may fill (500GiB, 2TiB, or bytes): adds the storage runway (days until full)'],
        ['--storage-limit-bytes N', 'the same, in bytes'],
        ['--symbols', "adds the last hour's rows per symbol, counted exactly (reads every row of the hour)"],
      ],
      examples: ['', '--format json', '--storage-limit 20GiB', '--symbols'],
    },
  },
});

/**
 * The stats report as metrics, at the resolution their alarms need (see metric-names.ts): every
 * run, one value per concern over the time-series tables (size, rows out of place, runway, the
 * stalest table's data age) and each exchange's data age, and the overdue jobs when there are any; in the size hours, the storage runway
 * and per table its size, growth and last hour's rows. A table or exchange with no rows yet has
 * no age to report; data-age metrics are left out altogether when the deployment turns them off.
 */
function statsMetrics(report: StatsReport, options: MetricsOptions): Pick<ReportMetrics, 'database' | 'tables' | 'exchanges'> {
  const series = Object.values(report.tables).filter((t): t is TimeSeriesTableStats => 'runway_days' in t);
  const ages = series.map((t) => t.data_age_seconds).filter((age): age is number => age !== null);
  const sizes = publishesSizeMetrics(new Date(report.fetched_at));
  const runway = report.database.storage_runway_days;
  const overdue = overdueCount(report.jobs);
  return {
    database: {
      DatabaseSizeBytes: report.database.size_bytes,
      // Published every run, 0 included: the backlog alarm's hourly Minimum must see the zeros.
      BacklogRows: sumOf(series.map((t) => t.backlog_rows)),
      DefaultPartitionRows: sumOf(series.map((t) => t.default_rows)),
      PartitionRunwayDays: Math.min(...series.map((t) => t.runway_days)),
      ...(options.dataAge && ages.length > 0 ? { DataAgeSeconds: Math.max(...ages) } : {}),
      ...(sizes && runway !== null ? { StorageRunwayDays: runway } : {}),
      // Only when not 0, as a count: the JobsOverdue alarm reads no data as none overdue.
      ...(overdue > 0 ? { OverdueJobs: overdue } : {}),
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
