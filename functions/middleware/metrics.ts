import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { DatabaseMetric, OperationMetric, ReportMetrics, TableMetric } from '../core/metric-names';
import type { OperationId } from '../core/operations';

type Outcome = 'success' | 'failure';

type MetricName = DatabaseMetric | TableMetric | OperationMetric;

/** The unit of every metric, so a metric is published with one unit wherever it comes from. */
const UNITS: Record<MetricName, Parameters<Metrics['addMetric']>[1]> = {
  Success: MetricUnit.Count,
  Failure: MetricUnit.Count,
  Duration: MetricUnit.Milliseconds,
  MigrationsApplied: MetricUnit.Count,
  PartitionsCreated: MetricUnit.Count,
  RowsMoved: MetricUnit.Count,
  PartitionsDropped: MetricUnit.Count,
  RowsDeleted: MetricUnit.Count,
  DatabaseSizeBytes: MetricUnit.Bytes,
  RowCount: MetricUnit.Count,
  TableBytes: MetricUnit.Bytes,
  IndexBytes: MetricUnit.Bytes,
  TotalBytes: MetricUnit.Bytes,
  RowsLastHour: MetricUnit.Count,
  PartitionRunwayDays: MetricUnit.Count,
  DefaultPartitionRows: MetricUnit.Count,
  DataAgeSeconds: MetricUnit.Seconds,
};

/** Powertools' addMetric for each value, held to the metric names and their units. */
function addAll(metrics: Metrics, values: Partial<Record<MetricName, number>>): void {
  for (const [name, value] of Object.entries(values) as [MetricName, number | undefined][]) {
    if (value !== undefined) metrics.addMetric(name, UNITS[name], value);
  }
}

/**
 * Outcome of one invocation, dimension `Operation`: Success and Failure (1/0), Duration and the
 * report's counts (a failed run's partial report has counts too).
 */
export function publishOutcomeMetrics(
  metrics: Metrics,
  operation: OperationId,
  outcome: Outcome,
  durationMs: number,
  counts: ReportMetrics['counts'],
): void {
  metrics.addDimension('Operation', operation);
  addAll(metrics, { Success: outcome === 'success' ? 1 : 0, Failure: outcome === 'failure' ? 1 : 0, Duration: durationMs, ...counts });
  metrics.publishStoredMetrics();
}

/** A report's metrics without the Operation dimension: the database's (none), then one EMF document per table (`Table`). */
export function publishReportMetrics(metrics: Metrics, report: ReportMetrics): void {
  if (report.database) {
    addAll(metrics, report.database);
    metrics.publishStoredMetrics();
  }
  for (const [table, values] of Object.entries(report.tables ?? {})) {
    metrics.addDimension('Table', table);
    addAll(metrics, values);
    metrics.publishStoredMetrics();
  }
}
