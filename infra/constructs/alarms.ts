import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { SEEDED_EXCHANGES } from '../../functions/shared/exchanges';
import type { HandlerOperation } from '../bundling';
import type { StackConfig } from '../config';
import { constructIdOf, RUNWAY_ALARM_DAYS } from '../stack-contract';
import { ServiceMetrics, SIZE_METRICS_PERIOD } from './service-metrics';

export interface MaintenanceAlarmsProps {
  readonly config: StackConfig;
  readonly functions: Record<HandlerOperation, lambda.IFunction>;
  /** Queues whose visible messages are failed events to look at: construct id -> queue. */
  readonly deadLetterQueues: Record<string, sqs.IQueue>;
}

/**
 * One alarm: what it watches and when it fires. `above`/`below` the threshold over
 * `periods` periods (default 1); missing data never breaches unless `missing` says so.
 */
export interface AlarmSpec {
  id: string;
  description: string;
  metric: cloudwatch.IMetric;
  threshold: number;
  when: 'above' | 'below';
  periods?: number;
  /** `notify`: missing data is itself the problem (INSUFFICIENT_DATA notifies). */
  missing?: 'notBreaching' | 'notify';
}

/** What the alarm specs read: the context, the service's metrics, the functions and the dead-letter queues. */
interface AlarmSources {
  config: StackConfig;
  metrics: ServiceMetrics;
  functions: Record<HandlerOperation, lambda.IFunction>;
  deadLetterQueues: Record<string, sqs.IQueue>;
}

/**
 * The alarms, all to one SNS topic (with an e-mail subscription when the context gives one),
 * both on ALARM and on OK. Missing data never breaches: where absence is itself the problem
 * (stats stopped), the stats-missing alarm notifies on INSUFFICIENT_DATA, so one outage pages once.
 */
export class MaintenanceAlarms extends Construct {
  readonly topic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: MaintenanceAlarmsProps) {
    super(scope, id);
    const { config } = props;
    this.topic = new sns.Topic(this, 'Topic', { displayName: 'perps-stats-db alarms', enforceSSL: true });
    if (config.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(config.alarmEmail));
    for (const spec of alarmSpecs({ ...props, metrics: new ServiceMetrics(config.metricsNamespace) })) this.add(spec);
    this.allowAlarmsToPublish();
  }

  private add(spec: AlarmSpec): void {
    const periods = spec.periods ?? 1;
    const alarm = new cloudwatch.Alarm(this, spec.id, {
      alarmDescription: spec.description,
      metric: spec.metric,
      threshold: spec.threshold,
      comparisonOperator:
        spec.when === 'above' ? cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD : cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: periods,
      datapointsToAlarm: periods,
      treatMissingData: spec.missing === 'notify' ? cloudwatch.TreatMissingData.MISSING : cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const action = new SnsAction(this.topic);
    alarm.addAlarmAction(action);
    alarm.addOkAction(action);
    if (spec.missing === 'notify') alarm.addInsufficientDataAction(action);
    this.alarms.push(alarm);
  }

  /**
   * With `enforceSSL` the topic policy replaces SNS's default one and holds only a Deny, so
   * CloudWatch may not publish and every alarm action fails ("not authorized to perform:
   * SNS:Publish"). Allow the CloudWatch service principal, for these alarms in this account only.
   */
  private allowAlarmsToPublish(): void {
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': Stack.of(this).account },
          ArnLike: { 'aws:SourceArn': this.alarms.map((alarm) => alarm.alarmArn) },
        },
      }),
    );
  }
}

/** Every alarm the stack makes, in order: the stored data, the functions, the stats heartbeat, overdue jobs, the queues. */
export function alarmSpecs(sources: AlarmSources): AlarmSpec[] {
  const { config } = sources;
  return [
    ...dataSpecs(sources),
    ...(config.dataAgeAlarmSeconds !== undefined ? dataAgeSpecs(sources.metrics, config.dataAgeAlarmSeconds) : []),
    ...storageSpecs(sources),
    ...functionSpecs(sources),
    heartbeatSpec(sources.metrics),
    overdueJobsSpec(sources.metrics),
    ...queueSpecs(sources.deadLetterQueues),
  ];
}

/** One alarm per concern over the time-series tables: the stats report and its log line name the table. */
function dataSpecs({ metrics }: AlarmSources): AlarmSpec[] {
  return [
    {
      id: 'PartitionRunway',
      description: `A time-series table has fewer than ${RUNWAY_ALARM_DAYS} days of partitions ahead. The stats report's runway_days names it; check the partitions function's errors and run it (docs/deploy.md, Alarms).`,
      metric: metrics.database('PartitionRunwayDays', { statistic: 'Minimum', period: Duration.minutes(15) }),
      threshold: RUNWAY_ALARM_DAYS,
      when: 'below',
    },
    {
      id: 'DefaultPartitionRows',
      description:
        "Rows in a DEFAULT partition (the stats report's default_rows names the table). Run partitions, which moves them into day partitions; look for rows with a far past or future ts.",
      metric: metrics.database('DefaultPartitionRows', { statistic: 'Maximum', period: Duration.minutes(15) }),
      threshold: 0,
      when: 'above',
    },
  ];
}

/**
 * The stalest table's newest row (a table every exchange stopped writing), and per exchange its
 * freshest table (a venue that delivers nothing at all). DataAgeSeconds is absent while no
 * table has a row, and an exchange's metric while it has none: no stall, and a stats run that
 * stops is the stats-missing alarm's to report.
 */
function dataAgeSpecs(metrics: ServiceMetrics, seconds: number): AlarmSpec[] {
  const fresh = { threshold: seconds, when: 'above', periods: 3 } as const;
  return [
    {
      id: 'DataAge',
      description: `A time-series table's newest row is older than ${seconds} s for 15 minutes: ingestion of that table has stalled for every exchange. The stats report's data_age_seconds names it; check the ingester, not this stack.`,
      metric: metrics.database('DataAgeSeconds', { statistic: 'Maximum' }),
      ...fresh,
    },
    ...SEEDED_EXCHANGES.map((exchange) => ({
      id: `${exchange}ExchangeDataAge`,
      description: `${exchange}: no new row in any table for ${seconds} s for 15 minutes: this exchange (or the ingester's feed of it) stopped. The stats report's "exchanges" section shows which tables and since when.`,
      metric: metrics.exchange('ExchangeDataAgeSeconds', exchange, { statistic: 'Maximum' }),
      ...fresh,
    })),
  ];
}

/**
 * Rows a stopped or failed partitions run left out of sight: the hourly partitions run brings
 * them back, so rows out of sight at every stats run of a whole hour mean it is not doing so (one
 * metric over all tables, for its cost); and the storage running out, where a limit is known.
 */
function storageSpecs({ config, metrics }: AlarmSources): AlarmSpec[] {
  const backlog: AlarmSpec = {
    id: 'BacklogRows',
    description:
      'Rows have been out of sight of queries (in backlog or unattached day tables left by a stopped or failed partitions run) for a whole hour: the hourly partitions run is not bringing them back. The stats report names the tables; check the partitions function errors, then run partitions (docs/deploy.md, Alarms).',
    metric: metrics.database('BacklogRows', { statistic: 'Minimum', period: Duration.hours(1) }),
    threshold: 0,
    when: 'above',
  };
  if (config.storageLimitBytes === undefined || config.storageRunwayAlarmDays === undefined) return [backlog];
  return [
    backlog,
    {
      id: 'StorageRunway',
      description: `The database fills its storage (${config.storageLimitBytes} bytes) in fewer than ${config.storageRunwayAlarmDays} days at the last week's growth: raise the storage limit, or shorten retention (docs/deploy.md, Alarms).`,
      metric: metrics.database('StorageRunwayDays', { statistic: 'Minimum', period: SIZE_METRICS_PERIOD }),
      threshold: config.storageRunwayAlarmDays,
      when: 'below',
    },
  ];
}

/**
 * Each function's errors; with archiving, the archive's failed days too: a day it could not
 * export or verify is kept by prune, so the database grows until it is fixed, while the function
 * may still succeed (the other days went on).
 */
function functionSpecs({ config, metrics, functions }: AlarmSources): AlarmSpec[] {
  const errors: AlarmSpec[] = Object.entries(functions).map(([operation, fn]) => ({
    id: `${constructIdOf(operation as HandlerOperation)}Errors`,
    description: `The ${operation} function failed. Its log group has one "${operation} failed" line with the errorType and the report.`,
    metric: fn.metricErrors({ statistic: 'Sum', period: Duration.minutes(5) }),
    threshold: 0,
    when: 'above',
  }));
  if (!config.archive) return errors;
  return [
    ...errors,
    {
      id: 'ArchiveFailures',
      description:
        'The archive could not export or verify a day partition: prune keeps that day until it is archived. The archive log group has the report, with the table, the day and why (docs/deploy.md, Archive).',
      metric: metrics.operation('ArchiveFailures', 'archive', { statistic: 'Sum', period: Duration.minutes(5) }),
      threshold: 0,
      when: 'above',
    },
  ];
}

/**
 * DatabaseSizeBytes is published once by every stats run that succeeded: its absence means stats
 * stopped running or keeps failing, and so every other alarm is blind. Absence is CloudWatch's
 * INSUFFICIENT_DATA, which notifies here. Not "missing data breaches": that fires on every first
 * deploy (and metricsNamespace change), before stats has ever reported, while a new alarm starts
 * in INSUFFICIENT_DATA and so stays silent until stats has reported once. A present SampleCount
 * is at least 1: this alarm is never in ALARM.
 */
function heartbeatSpec(metrics: ServiceMetrics): AlarmSpec {
  return {
    id: 'StatsMissing',
    description:
      'No stats metrics for 15 minutes (INSUFFICIENT_DATA): the other alarms are blind. Check the stats schedule, the StatsErrors alarm and the stats function.',
    metric: metrics.database('DatabaseSizeBytes', { statistic: 'SampleCount' }),
    threshold: 1,
    when: 'below',
    periods: 3,
    missing: 'notify',
  };
}

/**
 * A scheduled job whose last success (the database's history of runs, read by every stats run)
 * is older than its schedule allows: 26 hours for partitions, prune, vacuum and archive. It
 * catches what the Errors alarms cannot: a schedule that stopped firing, a run that never ends
 * well but never fails either (out of time every night). OverdueJobs is published only when not
 * 0, so no data is none overdue; a stopped stats is StatsMissing's to report.
 */
function overdueJobsSpec(metrics: ServiceMetrics): AlarmSpec {
  return {
    id: 'JobsOverdue',
    description:
      "A scheduled job has not succeeded for longer than its schedule allows (26 hours for partitions, prune, vacuum and archive). Run stats: its jobs table (or the report's jobs) names the job, its last run and its error; check that function's schedule and log group (docs/deploy.md, Alarms).",
    metric: metrics.database('OverdueJobs', { statistic: 'Maximum', period: Duration.minutes(15) }),
    threshold: 0,
    when: 'above',
  };
}

/** A failed event in a dead-letter queue: read it, fix the cause, purge. */
function queueSpecs(queues: Record<string, sqs.IQueue>): AlarmSpec[] {
  return Object.entries(queues).map(([name, queue]) => ({
    id: `${name}Messages`,
    description: `Failed events in ${name}: read them (aws sqs receive-message), fix the cause, then purge the queue.`,
    metric: queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: Duration.minutes(5) }),
    threshold: 0,
    when: 'above',
  }));
}
