import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { OperationId, OperationReport } from '../core/operations';
import type { StatsReport, TimeSeriesTableStats } from '../core/stats';
import { isTimeSeriesTable } from '../core/tables';

export type Outcome = 'success' | 'failure';

/**
 * Counts each operation reports, as CloudWatch metrics. Per-table dimensions at most: a
 * dimension per symbol would be a billed metric per symbol (the detail is in the log instead).
 */
function operationCounts(report: OperationReport | undefined): Record<string, number> {
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
  metrics.addMetric('Success', MetricUnit.Count, outcome === 'success' ? 1 : 0);
  metrics.addMetric('Failure', MetricUnit.Count, outcome === 'failure' ? 1 : 0);
  metrics.addMetric('Duration', MetricUnit.Milliseconds, durationMs);
  for (const [name, value] of Object.entries(operationCounts(report))) metrics.addMetric(name, MetricUnit.Count, value);
  metrics.publishStoredMetrics();
}

/**
 * The stats report as metrics: DatabaseSizeBytes without dimension, then one EMF document per
 * table (dimension `Table`). DataAgeSeconds is left out for a table with no rows yet: there is
 * no age to report, and the stack's missing-data alarm covers a stats run that stops.
 */
export function publishStatsMetrics(metrics: Metrics, report: StatsReport): void {
  metrics.addMetric('DatabaseSizeBytes', MetricUnit.Bytes, report.database.size_bytes);
  metrics.publishStoredMetrics();
  const rowsLastHour = new Map<string, number>();
  for (const ingest of report.recent_ingest) rowsLastHour.set(ingest.table, (rowsLastHour.get(ingest.table) ?? 0) + ingest.rows_last_hour);
  for (const [table, stats] of Object.entries(report.tables)) {
    metrics.addDimension('Table', table);
    metrics.addMetric('RowCount', MetricUnit.Count, stats.row_count);
    metrics.addMetric('TableBytes', MetricUnit.Bytes, stats.table_bytes);
    metrics.addMetric('IndexBytes', MetricUnit.Bytes, stats.index_bytes);
    metrics.addMetric('TotalBytes', MetricUnit.Bytes, stats.total_bytes);
    if (isTimeSeriesTable(table)) {
      const series = stats as TimeSeriesTableStats;
      metrics.addMetric('RowsLastHour', MetricUnit.Count, rowsLastHour.get(table) ?? 0);
      metrics.addMetric('PartitionRunwayDays', MetricUnit.Count, series.runway_days);
      metrics.addMetric('DefaultPartitionRows', MetricUnit.Count, series.default_rows);
      if (series.data_age_seconds !== null) metrics.addMetric('DataAgeSeconds', MetricUnit.Seconds, series.data_age_seconds);
    }
    metrics.publishStoredMetrics();
  }
}
