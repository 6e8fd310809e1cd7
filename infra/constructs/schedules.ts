import { Duration, Stack, TimeZone } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { HandlerOperation } from '../bundling';
import type { StackConfig } from '../config';
import { createEncryptedQueue } from './functions';

/** One schedule: when (cron fields, UTC), the payload, and how hard Scheduler tries to deliver it. */
export interface ScheduleSpec {
  readonly operation: HandlerOperation;
  readonly cron: { minute: string; hour: string };
  readonly input: Record<string, unknown>;
  readonly retryAttempts: number;
  readonly maxEventAge: Duration;
}

/**
 * The schedules the context asks for. partitions runs every hour at minute 45: a run stopped at
 * its deadline (or failed) leaves rows out of sight of queries until a run places them, so the
 * next one must come within the hour; a run with nothing to do costs milliseconds. Minute 45
 * keeps it off the nightly runs' usual time at the maintenance lock: archive (when on) at 01:20,
 * prune at 02:00 and vacuum at 03:00, an hour apart (vacuum after prune: it does not seal what
 * prune is about to drop), each done within 15 minutes. stats every 5 minutes; restore never (it
 * is a manual repair). Prune is left out when both retention actions are off: its payload would
 * name no action, which the handler rejects.
 */
export function scheduleSpecs(config: StackConfig): ScheduleSpec[] {
  const daily = { retryAttempts: 3, maxEventAge: Duration.hours(2) };
  const prune = {
    ...(config.deleteRowsOlderThanDays ? { olderThanDays: config.deleteRowsOlderThanDays } : {}),
    ...(config.dropPartitionsOlderThanDays ? { dropPartitionsOlderThanDays: config.dropPartitionsOlderThanDays } : {}),
  };
  return [
    // A run Scheduler could not deliver is superseded by the next hour's.
    {
      operation: 'partitions',
      cron: { minute: '45', hour: '*' },
      input: { daysAhead: config.daysAhead },
      retryAttempts: 3,
      maxEventAge: Duration.hours(1),
    },
    // Before prune, so that prune finds last night's days archived: 40 minutes
    // for a run of up to 15 and Lambda's first retry. Its payload defaults (ARCHIVE_AFTER_DAYS)
    // are in its environment, so a manual `{}` does the same.
    ...(config.archive ? [{ operation: 'archive' as const, cron: { minute: '20', hour: '1' }, input: {}, ...daily }] : []),
    ...(Object.keys(prune).length > 0 ? [{ operation: 'prune' as const, cron: { minute: '0', hour: '2' }, input: prune, ...daily }] : []),
    { operation: 'vacuum', cron: { minute: '0', hour: '3' }, input: {}, ...daily },
    // A stats run that could not be delivered is superseded by the next one 5 minutes later.
    { operation: 'stats', cron: { minute: '0/5', hour: '*' }, input: {}, retryAttempts: 1, maxEventAge: Duration.minutes(5) },
  ];
}

export interface MaintenanceSchedulesProps {
  readonly config: StackConfig;
  readonly functions: Record<HandlerOperation, lambda.IFunction>;
  /**
   * What must have run before any schedule exists: the deploy's migrations. A schedule created
   * earlier can fire first (stats every 5 minutes) and fail on a database without its schema,
   * leaving a message in the failure queue and its alarm in ALARM.
   */
  readonly after: Construct[];
}

/**
 * EventBridge Scheduler schedules (UTC) invoking the functions with fixed JSON input, each
 * with an explicit retry policy (Scheduler's default is 185 retries over 24 hours) and one
 * encrypted dead-letter queue for events Scheduler could not deliver.
 */
export class MaintenanceSchedules extends Construct {
  readonly deadLetterQueue: sqs.Queue;
  readonly schedules: scheduler.Schedule[];

  constructor(scope: Construct, id: string, props: MaintenanceSchedulesProps) {
    super(scope, id);
    this.deadLetterQueue = createEncryptedQueue(this, 'DeadLetterQueue');
    const specs = scheduleSpecs(props.config);
    const role = this.createRole(specs.map((spec) => props.functions[spec.operation]));
    this.schedules = specs.map((spec) => {
      const schedule = new scheduler.Schedule(this, spec.operation, {
        description: `perps-stats-db ${spec.operation}`,
        schedule: scheduler.ScheduleExpression.cron({ ...spec.cron, timeZone: TimeZone.ETC_UTC }),
        target: new targets.LambdaInvoke(props.functions[spec.operation], {
          input: scheduler.ScheduleTargetInput.fromObject(spec.input),
          retryAttempts: spec.retryAttempts,
          maxEventAge: spec.maxEventAge,
          deadLetterQueue: this.deadLetterQueue,
          role,
        }),
      });
      schedule.node.addDependency(...props.after);
      return schedule;
    });
  }

  /**
   * One role for the schedules, with exact statements: invoke the scheduled functions (their
   * unqualified ARNs; the target's own grant would add `ARN:*` for every version) and send to
   * the dead-letter queue. Returned immutable, so the targets cannot widen it.
   */
  private createRole(scheduled: lambda.IFunction[]): iam.IRole {
    const stack = Stack.of(this);
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
      inlinePolicies: {
        invoke: new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: scheduled.map((fn) => fn.functionArn) }),
            new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.deadLetterQueue.queueArn] }),
          ],
        }),
      },
    });
    return role.withoutPolicyUpdates();
  }
}
