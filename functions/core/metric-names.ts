import * as z from 'zod';

/**
 * The metric vocabulary: the handlers publish these names (functions/middleware/metrics.ts) and
 * the stack's alarms and dashboard read them (infra/constructs/service-metrics.ts). Both take
 * these types, so renaming a metric fails the type check instead of leaving an alarm on a metric
 * that never gets data. Nothing here loads Powertools: the stack reads it at synth.
 */

/** The `service` key of every log line and the `service` dimension of every metric. */
export const SERVICE_NAME = 'perps-stats-db';
export const DEFAULT_METRICS_NAMESPACE = 'PerpsStats';

/** A CloudWatch namespace, as the handlers' METRICS_NAMESPACE and the stack's `metricsNamespace` take it. */
export const metricsNamespaceSchema = z
  .string()
  .regex(/^[\w.\-/#:]{1,255}$/, { error: 'must be 1-255 letters, digits or . - _ / # :' })
  .default(DEFAULT_METRICS_NAMESPACE);

/** Published once per stats run, without a dimension. */
export type DatabaseMetric = 'DatabaseSizeBytes';
/** Published per table, dimension `Table`. */
export type TableMetric =
  | 'RowCount'
  | 'TableBytes'
  | 'IndexBytes'
  | 'TotalBytes'
  | 'RowsLastHour'
  | 'PartitionRunwayDays'
  | 'DefaultPartitionRows'
  | 'DataAgeSeconds';
/** What an operation's report counts, dimension `Operation` (see each registry entry's `metrics`). */
export type OperationCount = 'MigrationsApplied' | 'PartitionsCreated' | 'RowsMoved' | 'PartitionsDropped' | 'RowsDeleted';
/** Published by every invocation, dimension `Operation`: the outcome and the report's counts. */
export type OperationMetric = 'Success' | 'Failure' | 'Duration' | OperationCount;

/**
 * The metrics of one report, as values: the registry entries compute them, the handler publishes
 * them. Per table at most: a dimension per symbol would be a billed metric per symbol (that
 * detail is in the log and the report instead).
 */
export interface ReportMetrics {
  /** Dimension `Operation`; also published for the partial report of a failed run. */
  counts?: Partial<Record<OperationCount, number>>;
  /** No dimension. */
  database?: Partial<Record<DatabaseMetric, number>>;
  /** Dimension `Table`: one document per table. */
  tables?: Record<string, Partial<Record<TableMetric, number>>>;
}
