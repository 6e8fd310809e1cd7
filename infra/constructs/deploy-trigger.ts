import { join } from 'node:path';
import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as triggers from 'aws-cdk-lib/triggers';
import { Construct } from 'constructs';
import { PROJECT_ROOT } from '../bundling';
import { INVOKER_ENV } from '../deploy-invoker/environment';
import { acknowledgeManagedPolicies } from './functions';
import { createLogGroup } from './log-groups';

export interface DeployMigrationsProps {
  readonly migrate: lambda.Function;
  readonly partitions: lambda.Function;
  /**
   * Everything the functions need before they can run: the database, its secret and secret
   * attachment, the Secrets Manager endpoint and the security group rules.
   */
  readonly after: Construct[];
}

/** errorType of the maintenance lock being held by another run (functions/shared/errors.ts). */
const LOCK_BUSY = 'LockBusyError';

/**
 * Runs `migrate`, then `partitions`, synchronously during the deployment, whenever a function
 * changes (and on the first deploy). A fresh stack ends with the schema and today's partitions
 * in place. A failed migration (or an unreachable database) fails the deployment, and
 * CloudFormation rolls it back. `partitions` runs through a small invoker function that does
 * not fail the deployment when another maintenance run holds the lock (that run does the work:
 * a deploy during the nightly runs) or when the function is throttled (it is then invoked
 * asynchronously), nor a rollback: see infra/deploy-invoker. Each trigger waits a minute longer
 * than its function may run.
 *
 * CDK's Trigger also runs on a rollback's Update, with the previous versions: `migrate` then
 * reports a database ahead of it and changes nothing (functions/operations/migrate/migrate.ts), and the
 * invoker logs any failure of `partitions` while the stack is rolling back instead of failing.
 */
export class DeployMigrations extends Construct {
  readonly migrate: triggers.Trigger;
  readonly partitions: triggers.Trigger;
  /** Invokes the current version of `partitions` for the Trigger, tolerating LockBusyError, throttles and rollbacks. */
  readonly partitionsInvoker: nodejs.NodejsFunction;

  constructor(scope: Construct, id: string, props: DeployMigrationsProps) {
    super(scope, id);
    // The ids are new (they were Migrate and Partitions): CloudFormation creates these triggers
    // and deletes the old ones (a Trigger does nothing on Delete), so the rollback of the deploy
    // that brings them deletes them instead of running the old trigger's Update, which would
    // invoke the previous migrate version, one that fails on a database ahead of it.
    this.migrate = new triggers.Trigger(this, 'RunMigrate', {
      handler: props.migrate,
      // Longer than the function may run: a migrate that waits out the lock and then applies
      // must not outlive the trigger's wait (as for partitions, through its invoker).
      timeout: (props.migrate.timeout ?? Duration.minutes(15)).plus(Duration.minutes(1)),
      invocationType: triggers.InvocationType.REQUEST_RESPONSE,
      executeAfter: props.after,
    });
    this.partitionsInvoker = this.createInvoker('PartitionsInvoker', props.partitions);
    this.partitions = new triggers.Trigger(this, 'RunPartitions', {
      handler: this.partitionsInvoker,
      timeout: this.partitionsInvoker.timeout,
      invocationType: triggers.InvocationType.REQUEST_RESPONSE,
      executeAfter: [...props.after, this.migrate],
    });
  }

  /**
   * The invoker names the target's current version: a change to the target changes the
   * invoker's environment, hence its version, and so the Trigger runs again, as it would on
   * the target itself. It may invoke that version and nothing else; it needs no VPC.
   */
  private createInvoker(id: string, target: lambda.Function): nodejs.NodejsFunction {
    const version = target.currentVersion;
    const invoker = new nodejs.NodejsFunction(this, id, {
      description: `perps-stats-db: runs ${target.node.id} at deploy, tolerating a held maintenance lock and throttles`,
      entry: join(PROJECT_ROOT, 'infra', 'deploy-invoker', 'handler.ts'),
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 128,
      // The synchronous invocation lasts as long as the target may run.
      timeout: (target.timeout ?? Duration.minutes(15)).plus(Duration.minutes(1)),
      // The Trigger is the only caller; a retry would run the target twice.
      retryAttempts: 0,
      environment: {
        [INVOKER_ENV.target]: version.functionArn,
        [INVOKER_ENV.payload]: JSON.stringify({ whenLocked: 'skip' }),
        [INVOKER_ENV.tolerated]: LOCK_BUSY,
        [INVOKER_ENV.stack]: Stack.of(this).stackId,
      },
      logGroup: createLogGroup(this, `${id}Logs`),
      bundling: { minify: true, sourceMap: false, externalModules: ['@aws-sdk/*'], logLevel: nodejs.LogLevel.WARNING },
    });
    version.grantInvoke(invoker);
    // To tell a rollback (whose failures it logs instead of failing it) from a deploy.
    invoker.addToRolePolicy(new iam.PolicyStatement({ actions: ['cloudformation:DescribeStacks'], resources: [Stack.of(this).stackId] }));
    acknowledgeManagedPolicies(invoker, false);
    return invoker;
  }
}
