import { createHash } from 'node:crypto';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { OperationId } from '../operations/registry';
import type { DatabaseMetric, ExchangeMetric, TableMetric } from '../shared/metric-names';
import type { ReportMetrics } from '../shared/operation-definition';
import { printableAscii } from '../shared/printable';

type Outcome = 'success' | 'failure';
type Unit = Parameters<Metrics['addMetric']>[1];

/** The unit of every metric with one of its own; the rest (the operations' counts) are counts. */
const UNITS: Record<DatabaseMetric | TableMetric | ExchangeMetric, Unit> = {
  DatabaseSizeBytes: MetricUnit.Bytes,
  StorageRunwayDays: MetricUnit.Count,
  BacklogRows: MetricUnit.Count,
  DefaultPartitionRows: MetricUnit.Count,
  PartitionRunwayDays: MetricUnit.Count,
  DataAgeSeconds: MetricUnit.Seconds,
  OverdueJobs: MetricUnit.Count,
  TotalBytes: MetricUnit.Bytes,
  RowsLastHour: MetricUnit.Count,
  GrowthBytesPerDay: MetricUnit.Bytes,
  ExchangeDataAgeSeconds: MetricUnit.Seconds,
};

const unitOf = (name: string): Unit => (name in UNITS ? UNITS[name as keyof typeof UNITS] : MetricUnit.Count);

/** Powertools' addMetric for each value, in its metric's unit. */
function addAll(metrics: Metrics, values: Readonly<Record<string, number | undefined>>): void {
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined) metrics.addMetric(name, unitOf(name), value);
  }
}

/** CloudWatch's longest dimension value; a document with a longer one is dropped whole. */
const MAX_DIMENSION_VALUE_LENGTH = 1024;

/**
 * A name from the database (an exchange's, which an ingester can insert) as a dimension value
 * CloudWatch accepts: printable ASCII, at least one non-blank character, at most 1,024
 * characters. A name that is already one is used as it is (the stack's alarms name the seeded
 * exchanges). Any other gets its controls and non-ASCII characters escaped, is cut to fit, and
 * ends with `~` and 12 hex digits of its SHA-256: two names never share a metric, and the tag
 * finds the name in the report and the log.
 */
export function dimensionValue(name: string): string {
  if (name.length <= MAX_DIMENSION_VALUE_LENGTH && /\S/.test(name) && printableAscii(name) === name) return name;
  const tag = `~${createHash('sha256').update(name).digest('hex').slice(0, 12)}`;
  return `${printableAscii(name).slice(0, MAX_DIMENSION_VALUE_LENGTH - tag.length)}${tag}`;
}

/**
 * Outcome of one invocation, dimension `Operation`: Success or Failure, 1, whichever happened,
 * and the report's counts that are not 0 (a failed run's partial report has counts too). A 0 is
 * left out: CloudWatch bills a metric for every hour it receives data, even a zero.
 */
export function publishOutcomeMetrics(metrics: Metrics, operation: OperationId, outcome: Outcome, counts: ReportMetrics['counts']): void {
  metrics.addDimension('Operation', operation);
  const nonZero = Object.fromEntries(Object.entries(counts ?? {}).filter(([, value]) => value !== 0));
  addAll(metrics, { ...nonZero, [outcome === 'success' ? 'Success' : 'Failure']: 1 });
  metrics.publishStoredMetrics();
}

/**
 * A report's metrics without the Operation dimension: the database's (none), then one EMF
 * document per table (`Table`), then one per exchange (`Exchange`), each dimension value
 * bounded by dimensionValue.
 */
export function publishReportMetrics(metrics: Metrics, report: ReportMetrics): void {
  if (report.database) {
    addAll(metrics, report.database);
    metrics.publishStoredMetrics();
  }
  for (const [table, values] of Object.entries(report.tables ?? {})) {
    metrics.addDimension('Table', dimensionValue(table));
    addAll(metrics, values);
    metrics.publishStoredMetrics();
  }
  for (const [exchange, values] of Object.entries(report.exchanges ?? {})) {
    metrics.addDimension('Exchange', dimensionValue(exchange));
    addAll(metrics, values);
    metrics.publishStoredMetrics();
  }
}
