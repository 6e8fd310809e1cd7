import * as z from 'zod';

/**
 * The metric vocabulary: the handlers publish these names (functions/lambda/metrics.ts) and
 * the stack's alarms and dashboard read them (infra/constructs/service-metrics.ts). Both take
 * these types, so renaming a metric fails the type check instead of leaving an alarm on a metric
 * that never gets data; the operations' own counts are named in the registry (OperationMetric in
 * functions/operations/registry.ts). Nothing here loads Powertools: the stack reads it at synth.
 *
 * CloudWatch bills a custom metric for each hour it receives data ($0.30 a month when it does
 * every hour): what an alarm needs within minutes is published by every stats run, sizes only a
 * few hours a day (SIZE_METRICS_HOURS), and the detail stays in the report and the log line.
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
 * Without a dimension, one value over the time-series tables (the report and the log say which
 * table). Every stats run: DatabaseSizeBytes (the stats-missing heartbeat), BacklogRows and
 * DefaultPartitionRows (sums), PartitionRunwayDays (the shortest), DataAgeSeconds (the stalest
 * table's newest row; with data-age metrics on). StorageRunwayDays only in the size hours.
 * OverdueJobs (the operations whose last success is older than their schedule allows, from the
 * history of runs) only when not 0: a healthy stack is never billed for it.
 */
export type DatabaseMetric =
  | 'DatabaseSizeBytes'
  | 'StorageRunwayDays'
  | 'BacklogRows'
  | 'DefaultPartitionRows'
  | 'PartitionRunwayDays'
  | 'DataAgeSeconds'
  | 'OverdueJobs';
/** Dimension `Table`, published in the size hours only: slow-moving sizes and the trailing hour's rows. */
export type TableMetric = 'TotalBytes' | 'RowsLastHour' | 'GrowthBytesPerDay';
/** Dimension `Exchange`, every stats run with data-age metrics on: the age of the exchange's freshest table. */
export type ExchangeMetric = 'ExchangeDataAgeSeconds';

/** The UTC hours in which stats publishes the size metrics: every 6 hours. */
export const SIZE_METRICS_EVERY_HOURS = 6;
/** Minutes into such an hour during which every stats run publishes them: two runs at the 5-minute schedule, so one failed run loses none. */
export const SIZE_METRICS_MINUTES = 10;

/** Whether a stats run at this instant publishes the size metrics (TableMetric and StorageRunwayDays). */
export function publishesSizeMetrics(at: Date): boolean {
  return at.getUTCHours() % SIZE_METRICS_EVERY_HOURS === 0 && at.getUTCMinutes() < SIZE_METRICS_MINUTES;
}

/** What the deployment asks of the stats metrics beyond the report (STATS_DATA_AGE_METRICS). */
export interface MetricsOptions {
  /** Publish DataAgeSeconds and ExchangeDataAgeSeconds: the stack turns them off with its data-age alarms. */
  readonly dataAge: boolean;
}

export const DEFAULT_METRICS_OPTIONS: MetricsOptions = { dataAge: true };
