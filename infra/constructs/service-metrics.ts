import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { OperationMetric } from '../../functions/operations/registry';
import {
  type DatabaseMetric,
  type ExchangeMetric,
  SERVICE_NAME,
  SIZE_METRICS_EVERY_HOURS,
  type TableMetric,
} from '../../functions/shared/metric-names';
import type { HandlerOperation } from '../bundling';

/** The period of a size metric's alarm or graph: it has a point in the first minutes of each such period. */
export const SIZE_METRICS_PERIOD = Duration.hours(SIZE_METRICS_EVERY_HOURS);

/** How a metric is read: statistic and period (5 minutes: the stats schedule). */
export interface Reading {
  readonly statistic: string;
  readonly period?: Duration;
  /** Dashboards only: an alarm on a labelled metric is rendered as metric math. */
  readonly label?: string;
}

/**
 * The metrics the handlers publish (functions/lambda/metrics.ts), with the dimensions they
 * carry: `service=perps-stats-db` on every one (Powertools adds it), plus `Table`, `Operation`
 * or `Exchange`. A dimension map without `service` would name a metric that never receives data.
 */
export class ServiceMetrics {
  constructor(readonly namespace: string) {}

  /** A metric of a stats run without a dimension: DatabaseSizeBytes, PartitionRunwayDays, ... */
  database(metricName: DatabaseMetric, reading: Reading): cloudwatch.Metric {
    return this.metric(metricName, {}, reading);
  }

  table(metricName: TableMetric, table: string, reading: Reading): cloudwatch.Metric {
    return this.metric(metricName, { Table: table }, reading);
  }

  /** A metric of one exchange: ExchangeDataAgeSeconds, the age of its freshest table. */
  exchange(metricName: ExchangeMetric, exchange: string, reading: Reading): cloudwatch.Metric {
    return this.metric(metricName, { Exchange: exchange }, reading);
  }

  operation(metricName: OperationMetric, operation: HandlerOperation, reading: Reading): cloudwatch.Metric {
    return this.metric(metricName, { Operation: operation }, reading);
  }

  private metric(metricName: string, dimensions: Record<string, string>, reading: Reading): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: this.namespace,
      metricName,
      dimensionsMap: { service: SERVICE_NAME, ...dimensions },
      statistic: reading.statistic,
      period: reading.period ?? Duration.minutes(5),
      label: reading.label,
    });
  }
}
