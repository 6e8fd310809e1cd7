import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { type DatabaseMetric, SERVICE_NAME, type TableMetric } from '../../functions/core/metric-names';
import type { OperationMetric } from '../../functions/core/operations';
import type { HandlerOperation } from '../bundling';

/** How a metric is read: statistic and period (5 minutes: the stats schedule). */
export interface Reading {
  readonly statistic: string;
  readonly period?: Duration;
  /** Dashboards only: an alarm on a labelled metric is rendered as metric math. */
  readonly label?: string;
}

/**
 * The metrics the handlers publish (functions/middleware/metrics.ts), with the dimensions they
 * carry: `service=perps-stats-db` on every one (Powertools adds it), plus `Table` or
 * `Operation`. A dimension map without `service` would name a metric that never receives data.
 */
export class ServiceMetrics {
  constructor(readonly namespace: string) {}

  /** A metric published once per stats run without a table: DatabaseSizeBytes. */
  database(metricName: DatabaseMetric, reading: Reading): cloudwatch.Metric {
    return this.metric(metricName, {}, reading);
  }

  table(metricName: TableMetric, table: string, reading: Reading): cloudwatch.Metric {
    return this.metric(metricName, { Table: table }, reading);
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
