import * as z from 'zod';

/**
 * The metric vocabulary: the handlers publish these names (functions/lambda/metrics.ts) and
 * the stack's alarms and dashboard read them (infra/constructs/service-metrics.ts). Both take
 * these types, so renaming a metric fails the type check instead of leaving an alarm on a metric
 * that never gets data; the operations' own counts are named in the registry (OperationMetric in
 * functions/operations/registry.ts). Nothing here loads Powertools: the stack reads it at synth.
 */

/** The `service` key of every log line and the `service` dimension of every metric. */
export const SERVICE_NAME = 'perps-stats-db';
export const DEFAULT_METRICS_NAMESPACE = 'PerpsStats';

/** A CloudWatch namespace, as the handlers' METRICS_NAMESPACE and the stack's `metricsNamespace` take it. */
export const metricsNamespaceSchema = z
  .string()
  .regex(/^[\w.\-/#:]{1,255}$/, { error: 'must be 1-255 letters, digits or . - _ / # :' })
  .default(DEFAULT_METRICS_NAMESPACE);

/**
 * Published once per stats run, without a dimension. BacklogRows: rows out of sight in all
 * time-series tables (the report and the log say which table), one metric rather than one per
 * table, for its cost.
 */
export type DatabaseMetric = 'DatabaseSizeBytes' | 'StorageRunwayDays' | 'BacklogRows';
/** Published per table, dimension `Table`. */
export type TableMetric =
  | 'RowCount'
  | 'TableBytes'
  | 'IndexBytes'
  | 'TotalBytes'
  | 'RowsLastHour'
  | 'PartitionRunwayDays'
  | 'DefaultPartitionRows'
  | 'DataAgeSeconds'
  | 'GrowthBytesPerDay';
/** Published per exchange and time-series table, dimensions `Exchange` and `Table`. */
export type ExchangeMetric = 'ExchangeDataAgeSeconds';
