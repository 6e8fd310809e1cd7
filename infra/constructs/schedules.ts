import { Duration, Stack, TimeZone } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { OPERATIONS } from '../../functions/operations/registry';
import { HANDLER_OPERATIONS, type HandlerOperation } from '../bundling';
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
 * The schedules the context asks for, from each operation's definition (its deploy.schedule): the
 * hourly partitions run at :45, the nightly archive (when on) at 01:20, prune at 02:00 and vacuum
 * at 03:00, an hour apart at the maintenance lock and each done within 15 minutes, stats every 5
 * minutes; restore never (it is a manual repair).
 */
export function scheduleSpecs(config: StackConfig): ScheduleSpec[] {
  return HANDLER_OPERATIONS.flatMap((operation) => {
    const schedule = OPERATIONS[operation].deploy.schedule?.(config);
    if (!schedule) return [];
    const { cron, input, retryAttempts, maxEventAgeMinutes } = schedule;
    return [{ operation, cron, input, retryAttempts, maxEventAge: Duration.minutes(maxEventAgeMinutes) }];
  });
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
