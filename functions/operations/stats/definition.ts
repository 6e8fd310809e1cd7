import * as z from 'zod';
import { switchValue } from '../../shared/definition-fields';
import type { TableMetric } from '../../shared/metric-names';
import { defineOperation, type ReportMetrics } from '../../shared/operation-definition';
import { numberOrText, numberValue } from '../../shared/parse';
import type { StatsReport } from './stats';

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
 * The stats report as metrics: the database size, then per table its sizes and rows, and for a
 * time-series table its last hour's rows, runway, default-partition rows and data age. Data age
 * is left out for a table with no rows yet: there is no age to report, and the stack's
 * missing-data alarm covers a stats run that stops.
 */
function statsMetrics(report: StatsReport): Pick<ReportMetrics, 'database' | 'tables' | 'exchanges'> {
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
      RowsLastHour: stats.rows_last_hour,
      PartitionRunwayDays: stats.runway_days,
      DefaultPartitionRows: stats.default_rows,
      ...(stats.data_age_seconds === null ? {} : { DataAgeSeconds: stats.data_age_seconds }),
      ...(stats.bytes_per_day === null ? {} : { GrowthBytesPerDay: stats.bytes_per_day }),
    };
  }
  const runway = report.database.storage_runway_days;
  // Published every run, 0 included: the alarm's hourly Minimum must see the zeros.
  const backlog = Object.values(report.tables).reduce((sum, t) => sum + ('backlog_rows' in t ? t.backlog_rows : 0), 0);
  return {
    database: {
      DatabaseSizeBytes: report.database.size_bytes,
      BacklogRows: backlog,
      ...(runway === null ? {} : { StorageRunwayDays: runway }),
    },
    tables,
    exchanges: exchangeMetrics(report),
  };
}

/** ExchangeDataAgeSeconds per exchange and table; left out where the exchange has no row in the table. */
function exchangeMetrics(report: StatsReport): NonNullable<ReportMetrics['exchanges']> {
  const exchanges: Record<string, Record<string, { ExchangeDataAgeSeconds: number }>> = {};
  for (const [exchange, tables] of Object.entries(report.exchanges)) {
    const ages: Record<string, { ExchangeDataAgeSeconds: number }> = {};
    for (const [table, freshness] of Object.entries(tables)) {
      if (freshness.data_age_seconds !== null) ages[table] = { ExchangeDataAgeSeconds: freshness.data_age_seconds };
    }
    if (Object.keys(ages).length > 0) exchanges[exchange] = ages;
  }
  return exchanges;
}
