import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import type { OperationMetric } from '../../functions/operations/registry';
import { SEEDED_EXCHANGES } from '../../functions/shared/exchanges';
import type { TableMetric } from '../../functions/shared/metric-names';
import { ALL_TABLES, TIME_SERIES_TABLES } from '../../functions/shared/tables';
import { HANDLER_OPERATIONS, type HandlerOperation } from '../bundling';
import { ServiceMetrics } from './service-metrics';

export interface StoreDashboardProps {
  readonly metricsNamespace: string;
  /** Archiving is on: a row of what the archive wrote. */
  readonly archive: boolean;
}

const WIDTH = 12;
const HEIGHT = 6;

/**
 * One CloudWatch dashboard of the store: database and table sizes, rows ingested per hour per
 * table, data age, partition runway, and the outcomes and counts of the maintenance runs.
 */
export class StoreDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: StoreDashboardProps) {
    super(scope, id);
    const metrics = new ServiceMetrics(props.metricsNamespace);
    const perTable = (metricName: TableMetric, statistic: string, tables: readonly string[] = TIME_SERIES_TABLES) =>
      tables.map((table) => metrics.table(metricName, table, { statistic, label: table }));
    const graph = (title: string, left: cloudwatch.IMetric[], leftYAxis?: cloudwatch.YAxisProps) =>
      new cloudwatch.GraphWidget({ title, left, width: WIDTH, height: HEIGHT, ...(leftYAxis ? { leftYAxis } : {}) });
    const maintenanceCount = (metricName: OperationMetric, operation: Exclude<HandlerOperation, 'stats'>) =>
      metrics.operation(metricName, operation, { statistic: 'Sum', period: Duration.hours(1), label: metricName });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.days(7),
      widgets: [
        [
          graph('Database size', [metrics.database('DatabaseSizeBytes', { statistic: 'Maximum', label: 'database' })]),
          graph('Table size (data + indexes)', perTable('TotalBytes', 'Maximum', ALL_TABLES)),
        ],
        [
          graph('Storage runway (days until full)', [metrics.database('StorageRunwayDays', { statistic: 'Minimum', label: 'database' })], {
            min: 0,
          }),
          // A median of the last week's closed days: it moves once a day, when a day closes.
          graph(
            'Growth per day (bytes, median of the closed days of the last week)',
            perTable('GrowthBytesPerDay', 'Maximum', TIME_SERIES_TABLES),
            {
              min: 0,
            },
          ),
        ],
        [
          // RowsLastHour is a trailing hour at each stats run: its Maximum per hour is the hour's rows.
          graph('Rows per hour', perTable('RowsLastHour', 'Maximum')),
          graph('Data age (s): newest row', perTable('DataAgeSeconds', 'Maximum')),
        ],
        [
          graph(
            'Exchange data age (s): freshest table',
            SEEDED_EXCHANGES.map((exchange) => metrics.freshestExchangeAge(exchange, exchange)),
          ),
          graph(
            'Exchange data age (s): trades',
            SEEDED_EXCHANGES.map((exchange) =>
              metrics.exchange('ExchangeDataAgeSeconds', exchange, 'trades', { statistic: 'Maximum', label: exchange }),
            ),
          ),
        ],
        [
          graph('Partition runway (days ahead)', perTable('PartitionRunwayDays', 'Minimum'), { min: 0 }),
          graph(
            'Rows in DEFAULT partitions, and out of sight (backlogs)',
            [
              ...perTable('DefaultPartitionRows', 'Maximum'),
              metrics.database('BacklogRows', { statistic: 'Maximum', label: 'out of sight (all tables)' }),
            ],
            { min: 0 },
          ),
        ],
        [
          graph(
            'Maintenance failures (per hour)',
            HANDLER_OPERATIONS.map((operation) =>
              metrics.operation('Failure', operation, { statistic: 'Sum', period: Duration.hours(1), label: operation }),
            ),
          ),
          graph('Maintenance work (per hour)', [
            maintenanceCount('MigrationsApplied', 'migrate'),
            maintenanceCount('PartitionsCreated', 'partitions'),
            maintenanceCount('RowsMoved', 'partitions'),
            maintenanceCount('PartitionsDropped', 'prune'),
            ...(props.archive ? [maintenanceCount('PartitionsKept', 'prune')] : []),
            maintenanceCount('RowsDeleted', 'prune'),
            maintenanceCount('PartitionsSealed', 'vacuum'),
            ...(props.archive ? [maintenanceCount('ArchivedPartitions', 'archive')] : []),
            maintenanceCount('RowsRestored', 'restore'),
            maintenanceCount('TablesAnalyzed', 'vacuum'),
          ]),
        ],
        ...(props.archive
          ? [
              [
                graph('Archived per day: rows', [
                  metrics.operation('ArchivedRows', 'archive', { statistic: 'Sum', period: Duration.days(1), label: 'rows' }),
                ]),
                new cloudwatch.GraphWidget({
                  title: 'Archived per day: Parquet bytes (left), partitions that failed (right)',
                  left: [metrics.operation('ArchivedBytes', 'archive', { statistic: 'Sum', period: Duration.days(1), label: 'bytes' })],
                  right: [
                    metrics.operation('ArchiveFailures', 'archive', {
                      statistic: 'Sum',
                      period: Duration.days(1),
                      label: 'failed partitions',
                    }),
                  ],
                  width: WIDTH,
                  height: HEIGHT,
                }),
              ],
            ]
          : []),
        [
          graph(
            'Run duration (ms)',
            HANDLER_OPERATIONS.map((operation) =>
              metrics.operation('Duration', operation, { statistic: 'Maximum', period: Duration.hours(1), label: operation }),
            ),
          ),
          graph(
            'Successful runs (per hour)',
            HANDLER_OPERATIONS.map((operation) =>
              metrics.operation('Success', operation, { statistic: 'Sum', period: Duration.hours(1), label: operation }),
            ),
          ),
        ],
      ],
    });
  }
}
