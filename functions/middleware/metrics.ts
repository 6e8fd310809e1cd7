import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { OperationId, OperationReport } from '../core/operations';
import type { StatsReport, TimeSeriesTableStats } from '../core/stats';
import { isTimeSeriesTable } from '../core/tables';

export type Outcome = 'success' | 'failure';

/**
 * The names of the metrics published here, by dimension. The stack's alarms and dashboard
 * (infra/constructs/service-metrics.ts) take these types, so renaming a metric here fails the
 * type check there instead of leaving an alarm on a metric that never gets data.
 */
export type DatabaseMetric = 'DatabaseSizeBytes';
export type TableMetric =
  | 'RowCount'
  | 'TableBytes'
  | 'IndexBytes'
  | 'TotalBytes'
  | 'RowsLastHour'
  | 'PartitionRunwayDays'
  | 'DefaultPartitionRows'
  | 'DataAgeSeconds';
type OperationCount = 'MigrationsApplied' | 'PartitionsCreated' | 'RowsMoved' | 'PartitionsDropped' | 'RowsDeleted';
export type OperationMetric = 'Success' | 'Failure' | 'Duration' | OperationCount;

/** Powertools' addMetric, held to the metric names above. */
function add(
  metrics: Metrics,
  name: DatabaseMetric | TableMetric | OperationMetric,
  unit: Parameters<Metrics['addMetric']>[1],
  value: number,
): void {
  metrics.addMetric(name, unit, value);
}

/**
 * Counts each operation reports, as CloudWatch metrics. Per-table dimensions at most: a
 * dimension per symbol would be a billed metric per symbol (the detail is in the log instead).
 */
function operationCounts(report: OperationReport | undefined): Partial<Record<OperationCount, number>> {
  switch (report?.operation) {
    case 'migrate':
      return { MigrationsApplied: report.applied };
    case 'partitions':
      return { PartitionsCreated: report.partitions_created, RowsMoved: report.rows_moved };
    case 'prune':
      return report.dry_run
        ? {}
        : {
            PartitionsDropped: report.partitions_dropped,
            RowsDeleted: Object.values(report.rows_deleted).reduce((sum, rows) => sum + rows, 0),
          };
    default:
      return {};
  }
}

/** Outcome of one invocation, dimension `Operation`: Success and Failure (1/0), Duration and the counts. */
export function publishOutcomeMetrics(
  metrics: Metrics,
  operation: OperationId,
  outcome: Outcome,
  durationMs: number,
  report: OperationReport | undefined,
): void {
  metrics.addDimension('Operation', operation);
  add(metrics, 'Success', MetricUnit.Count, outcome === 'success' ? 1 : 0);
  add(metrics, 'Failure', MetricUnit.Count, outcome === 'failure' ? 1 : 0);
  add(metrics, 'Duration', MetricUnit.Milliseconds, durationMs);
  for (const [name, value] of Object.entries(operationCounts(report)) as [OperationCount, number][]) {
    add(metrics, name, MetricUnit.Count, value);
  }
  metrics.publishStoredMetrics();
}

/**
 * The stats report as metrics: DatabaseSizeBytes without dimension, then one EMF document per
 * table (dimension `Table`). DataAgeSeconds is left out for a table with no rows yet: there is
 * no age to report, and the stack's missing-data alarm covers a stats run that stops.
 */
export function publishStatsMetrics(metrics: Metrics, report: StatsReport): void {
  add(metrics, 'DatabaseSizeBytes', MetricUnit.Bytes, report.database.size_bytes);
  metrics.publishStoredMetrics();
  const rowsLastHour = new Map<string, number>();
  for (const ingest of report.recent_ingest) rowsLastHour.set(ingest.table, (rowsLastHour.get(ingest.table) ?? 0) + ingest.rows_last_hour);
  for (const [table, stats] of Object.entries(report.tables)) {
    metrics.addDimension('Table', table);
    add(metrics, 'RowCount', MetricUnit.Count, stats.row_count);
    add(metrics, 'TableBytes', MetricUnit.Bytes, stats.table_bytes);
    add(metrics, 'IndexBytes', MetricUnit.Bytes, stats.index_bytes);
    add(metrics, 'TotalBytes', MetricUnit.Bytes, stats.total_bytes);
    if (isTimeSeriesTable(table)) {
      const series = stats as TimeSeriesTableStats;
      add(metrics, 'RowsLastHour', MetricUnit.Count, rowsLastHour.get(table) ?? 0);
      add(metrics, 'PartitionRunwayDays', MetricUnit.Count, series.runway_days);
      add(metrics, 'DefaultPartitionRows', MetricUnit.Count, series.default_rows);
      if (series.data_age_seconds !== null) add(metrics, 'DataAgeSeconds', MetricUnit.Seconds, series.data_age_seconds);
    }
    metrics.publishStoredMetrics();
  }
}
