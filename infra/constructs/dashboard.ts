import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import type { OperationMetric } from '../../functions/operations/registry';
import { SEEDED_EXCHANGES } from '../../functions/shared/exchanges';
import type { TableMetric } from '../../functions/shared/metric-names';
import { ALL_TABLES, TIME_SERIES_TABLES } from '../../functions/shared/tables';
import type { HandlerOperation } from '../bundling';
import { ServiceMetrics, SIZE_METRICS_PERIOD } from './service-metrics';

export interface StoreDashboardProps {
  readonly metricsNamespace: string;
  /** Archiving is on: its function's runs, and a row of what the archive wrote. */
  readonly archive: boolean;
  /** The data-age metrics are published (dataAgeAlarmSeconds is not off): a row of data age. */
  readonly dataAge: boolean;
  /** Stats knows the storage limit, so it publishes the storage runway. */
  readonly storageRunway: boolean;
}

/** CloudWatch bills a dashboard of more than this many metrics ($3 a month); up to 3 such dashboards an account are free. */
export const FREE_DASHBOARD_METRICS = 50;

const WIDTH = 12;
const HEIGHT = 6;
/** The operations that run on a schedule: a gap in their runs is worth seeing; migrate and restore run by hand. */
const SCHEDULED: readonly HandlerOperation[] = ['partitions', 'prune', 'vacuum', 'archive', 'stats'];

/**
 * One CloudWatch dashboard of the store, within the free 50 metrics: database and table sizes,
 * growth, rows per hour, data age, runway, rows out of place, and the runs and work of the
 * scheduled functions. Sizes come every 6 hours (SIZE_METRICS_PERIOD); the rest every 5 minutes.
 */
export class StoreDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: StoreDashboardProps) {
    super(scope, id);
    const metrics = new ServiceMetrics(props.metricsNamespace);
    const sized = (metricName: TableMetric, tables: readonly string[]) =>
      tables.map((table) => metrics.table(metricName, table, { statistic: 'Maximum', period: SIZE_METRICS_PERIOD, label: table }));
    const graph = (title: string, left: cloudwatch.IMetric[], leftYAxis?: cloudwatch.YAxisProps) =>
      new cloudwatch.GraphWidget({ title, left, width: WIDTH, height: HEIGHT, ...(leftYAxis ? { leftYAxis } : {}) });
    const scheduled = SCHEDULED.filter((operation) => props.archive || operation !== 'archive');
    const perOperation = (metricName: OperationMetric) =>
      scheduled.map((operation) =>
        metrics.operation(metricName, operation, { statistic: 'Sum', period: Duration.hours(1), label: operation }),
      );
    const work = (metricName: OperationMetric, operation: HandlerOperation) =>
      metrics.operation(metricName, operation, { statistic: 'Sum', period: Duration.hours(1), label: metricName });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.days(7),
      widgets: [
        [
          graph('Database size', [metrics.database('DatabaseSizeBytes', { statistic: 'Maximum', label: 'database' })]),
          graph('Table size (data + indexes), every 6 hours', sized('TotalBytes', ALL_TABLES)),
        ],
        [
          ...(props.storageRunway
            ? [
                graph(
                  'Storage runway (days until full), every 6 hours',
                  [metrics.database('StorageRunwayDays', { statistic: 'Minimum', period: SIZE_METRICS_PERIOD, label: 'database' })],
                  { min: 0 },
                ),
              ]
            : []),
          // A median of the last week's closed days: it moves once a day, when a day closes.
          graph('Growth per day (bytes, median of the closed days of the last week)', sized('GrowthBytesPerDay', TIME_SERIES_TABLES), {
            min: 0,
          }),
        ],
        [
          graph("Rows in the trailing hour, every 6 hours (the log line has every run's)", sized('RowsLastHour', TIME_SERIES_TABLES)),
          graph(
            'Partition runway (days ahead, shortest table)',
            [metrics.database('PartitionRunwayDays', { statistic: 'Minimum', label: 'shortest table' })],
            { min: 0 },
          ),
        ],
        ...(props.dataAge
          ? [
              [
                graph('Data age (s): each exchange, its freshest table', [
                  ...SEEDED_EXCHANGES.map((exchange) =>
                    metrics.exchange('ExchangeDataAgeSeconds', exchange, { statistic: 'Maximum', label: exchange }),
                  ),
                ]),
                graph('Data age (s): the stalest table', [
                  metrics.database('DataAgeSeconds', { statistic: 'Maximum', label: 'stalest table' }),
                ]),
              ],
            ]
          : []),
        [
          graph(
            'Rows in DEFAULT partitions, and out of sight (backlogs), all tables',
            [
              metrics.database('DefaultPartitionRows', { statistic: 'Maximum', label: 'in DEFAULT partitions' }),
              metrics.database('BacklogRows', { statistic: 'Maximum', label: 'out of sight' }),
            ],
            { min: 0 },
          ),
          graph('Successful runs (per hour)', perOperation('Success')),
        ],
        [
          graph('Maintenance failures (per hour)', perOperation('Failure')),
          graph('Maintenance work (per hour)', [
            work('PartitionsCreated', 'partitions'),
            work('RowsMoved', 'partitions'),
            work('PartitionsDropped', 'prune'),
            ...(props.archive ? [work('PartitionsKept', 'prune')] : []),
            work('RowsDeleted', 'prune'),
            work('PartitionsSealed', 'vacuum'),
            work('TablesAnalyzed', 'vacuum'),
            ...(props.archive ? [work('ArchivedPartitions', 'archive')] : []),
          ]),
        ],
        ...(props.archive ? [archiveRow(metrics)] : []),
      ],
    });
  }
}

/** What the archive wrote per day, and the partitions it could not. */
function archiveRow(metrics: ServiceMetrics): cloudwatch.IWidget[] {
  const daily = (label: string) => ({ statistic: 'Sum', period: Duration.days(1), label });
  return [
    new cloudwatch.GraphWidget({
      title: 'Archived per day: rows',
      left: [metrics.operation('ArchivedRows', 'archive', daily('rows'))],
      width: WIDTH,
      height: HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: 'Archived per day: Parquet bytes (left), partitions that failed (right)',
      left: [metrics.operation('ArchivedBytes', 'archive', daily('bytes'))],
      right: [metrics.operation('ArchiveFailures', 'archive', daily('failed partitions'))],
      width: WIDTH,
      height: HEIGHT,
    }),
  ];
}
