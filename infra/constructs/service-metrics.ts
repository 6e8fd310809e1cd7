import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { OperationMetric } from '../../functions/operations/registry';
import { type DatabaseMetric, type ExchangeMetric, SERVICE_NAME, type TableMetric } from '../../functions/shared/metric-names';
import { TIME_SERIES_TABLES } from '../../functions/shared/tables';
import type { HandlerOperation } from '../bundling';

/** How a metric is read: statistic and period (5 minutes: the stats schedule). */
export interface Reading {
  readonly statistic: string;
  readonly period?: Duration;
  /** Dashboards only: an alarm on a labelled metric is rendered as metric math. */
  readonly label?: string;
}

/**
 * The metrics the handlers publish (functions/lambda/metrics.ts), with the dimensions they
 * carry: `service=perps-stats-db` on every one (Powertools adds it), plus `Table`, `Operation`,
 * or `Exchange` and `Table`. A dimension map without `service` would name a metric that never receives data.
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

  /** A metric of one exchange in one time-series table: ExchangeDataAgeSeconds. */
  exchange(metricName: ExchangeMetric, exchange: string, table: string, reading: Reading): cloudwatch.Metric {
    return this.metric(metricName, { Exchange: exchange, Table: table }, reading);
  }

  /**
   * The age of an exchange's freshest table: the smallest ExchangeDataAgeSeconds over the
   * time-series tables (metric math; a table the exchange has no rows in has no data and is
   * left out of the MIN). Above a threshold, the exchange delivers nothing at all. The ids
   * (`binance_trades`) are unique on a dashboard graph that shows every exchange.
   */
  freshestExchangeAge(exchange: string, label?: string): cloudwatch.MathExpression {
    const ages = Object.fromEntries(
      TIME_SERIES_TABLES.map((table) => [
        `${exchange}_${table}`,
        this.exchange('ExchangeDataAgeSeconds', exchange, table, { statistic: 'Maximum' }),
      ]),
    );
    return new cloudwatch.MathExpression({
      expression: `MIN([${Object.keys(ages).join(', ')}])`,
      usingMetrics: ages,
      period: Duration.minutes(5),
      label: label ?? `${exchange}: age of its freshest table`,
    });
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
