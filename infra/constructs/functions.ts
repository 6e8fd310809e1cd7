import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ARCHIVE_VARIABLES } from '../../functions/shared/archive/layout';
import { bundleDir, HANDLER_OPERATIONS, type HandlerOperation, LAMBDA_HANDLER } from '../bundling';
import type { StackConfig } from '../config';
import { constructIdOf } from '../stack-contract';
import { type Archive, type ArchiveAccess, allowArchiveTraffic } from './archive';
import type { DatabaseTarget } from './database';
import { createLogGroup } from './log-groups';
import { type DatabaseLogins, FUNCTION_LOGINS } from './logins';

/** How each function runs: sized to its work and to how its failures are best retried. */
interface FunctionSettings {
  /** migrate waits up to 5 minutes for the maintenance lock before it starts applying files. */
  timeout: Duration;
  /**
   * Reserved with `-c reservedConcurrency=true` only: 1 keeps a second run of an operation from
   * starting at all (the maintenance lock already makes it fail fast), and keeps capacity for it
   * when the account is busy. Off by default: an account must keep 10 executions unreserved, and
   * new accounts often have a quota of 10 in total, where any reservation fails the deploy.
   */
  reservedConcurrency: number | undefined;
  /** Lambda's own retries of an asynchronous (scheduled) invocation that failed. */
  retryAttempts: number;
  maxEventAge: Duration;
  /** statement_timeout below the function timeout, so a slow query fails with a report, not a kill. */
  statementTimeout: Duration | undefined;
  /** MB; default {@link DEFAULT_MEMORY_MB}. Lambda's CPU share grows with it (1,769 MB is one vCPU). */
  memorySize?: number;
}

/** What a function gets unless its settings say otherwise: the maintenance work is SQL the database does. */
export const DEFAULT_MEMORY_MB = 256;

/**
 * The archive access of each operation that uses the archive: the archive function writes
 * objects, restore reads them back, and prune reads the ledger's objects before it drops a day.
 */
export const ARCHIVE_ACCESS: Partial<Record<HandlerOperation, ArchiveAccess>> = {
  archive: 'write',
  restore: 'read',
  prune: 'read',
};

export const FUNCTION_SETTINGS: Record<HandlerOperation, FunctionSettings> = {
  // Runs on every deploy (synchronously, through the trigger) and by hand: a failure is a
  // migration error or a lock wait already spent, which retrying unattended will not fix.
  migrate: {
    timeout: Duration.minutes(10),
    reservedConcurrency: 1,
    retryAttempts: 0,
    maxEventAge: Duration.hours(1),
    statementTimeout: undefined,
  },
  // Daily: a LockBusyError (prune holding the lock) or a partial failure clears on a retry.
  partitions: {
    timeout: Duration.minutes(10),
    reservedConcurrency: 1,
    retryAttempts: 2,
    maxEventAge: Duration.hours(6),
    statementTimeout: undefined,
  },
  // Batched deletes of a large table take the longest; the day's next run picks up the rest.
  prune: {
    timeout: Duration.minutes(15),
    reservedConcurrency: 1,
    retryAttempts: 2,
    maxEventAge: Duration.hours(6),
    statementTimeout: undefined,
  },
  // Daily, after prune: one VACUUM per closed partition not yet sealed; the deadline stops it
  // between two steps and the next run (a retry, or tomorrow's) carries on from there.
  vacuum: {
    timeout: Duration.minutes(15),
    reservedConcurrency: 1,
    retryAttempts: 2,
    maxEventAge: Duration.hours(6),
    statementTimeout: undefined,
  },
  // Manual only (one day back from the archive): a failure says what to put right, so no retry.
  // 1024 MB: a row group of Parquet and its rows in memory, and the CPU share (about 0.6 vCPU)
  // to decode them.
  restore: {
    timeout: Duration.minutes(15),
    memorySize: 1024,
    reservedConcurrency: 1,
    retryAttempts: 0,
    maxEventAge: Duration.hours(1),
    statementTimeout: undefined,
  },
  // Every 5 minutes, catalog reads only: a failed run is superseded by the next one.
  stats: {
    timeout: Duration.minutes(1),
    reservedConcurrency: undefined,
    retryAttempts: 0,
    maxEventAge: Duration.minutes(5),
    statementTimeout: Duration.seconds(50),
  },
  // Daily: each closed day partition exported, verified and recorded in turn; the deadline stops
  // it between two (or abandons the one in progress just before) and a retry or the next day's
  // run carries on. 1024 MB: the Parquet writer holds a 20k-row group (~230 MiB peak
  // measured), and CPU grows with memory (about 0.6 vCPU here, 1/7 at 256 MB).
  archive: {
    timeout: Duration.minutes(15),
    memorySize: 1024,
    reservedConcurrency: 1,
    retryAttempts: 2,
    maxEventAge: Duration.hours(6),
    statementTimeout: undefined,
  },
};

export interface HandlerFunctionsProps {
  readonly database: DatabaseTarget;
  readonly config: StackConfig;
  /** The archive, when archiving is on: its bucket and prefix go to the functions in ARCHIVE_ACCESS. */
  readonly archive?: Archive;
  /** The function logins' secrets (a new database): each function then reads only its own login's (FUNCTION_LOGINS). */
  readonly logins?: DatabaseLogins;
  /** Where each function's code comes from: by default the handler bundle `dist/<op>/` that `buildHandlers()` writes. */
  readonly assetDir?: (operation: HandlerOperation) => string;
}

/**
 * The handlers, one per operation, as Lambda functions (Node.js 24, arm64) in the database's VPC, one shared
 * security group allowed into the database, each with its log group, and asynchronous failures
 * (after the retries) sent to one encrypted queue. Each may read its login's secret (migrate:
 * the master secret and, to make the logins, theirs); without logins, the one database secret.
 */
export class HandlerFunctions extends Construct {
  readonly functions: Record<HandlerOperation, lambda.Function>;
  readonly securityGroup: ec2.SecurityGroup;
  /** Asynchronous invocations that failed after Lambda's retries. */
  readonly failureQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: HandlerFunctionsProps) {
    super(scope, id);
    const { database, config } = props;
    const assetDir = props.assetDir ?? bundleDir;
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: database.vpc,
      description: 'perps-stats-db functions: out to PostgreSQL and Secrets Manager only',
      allowAllOutbound: false,
    });
    database.allowFrom(this.securityGroup);
    if (!database.secretsManagerEndpoint) {
      // The existing VPC's own way to Secrets Manager (NAT or an endpoint of its own) is unknown here.
      this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'Secrets Manager API');
    }
    if (props.archive) allowArchiveTraffic(this.securityGroup);
    this.failureQueue = createEncryptedQueue(this, 'FailureQueue');
    const archiveEnvironment = props.archive?.environment();

    this.functions = Object.fromEntries(
      HANDLER_OPERATIONS.map((operation) => {
        const settings = FUNCTION_SETTINGS[operation];
        const fn = new lambda.Function(this, constructIdOf(operation), {
          description: `perps-stats-db ${operation}`,
          runtime: lambda.Runtime.NODEJS_24_X,
          architecture: lambda.Architecture.ARM_64,
          handler: LAMBDA_HANDLER,
          // The bundle the handler tests run; the source map stays behind (it doubles the package).
          code: lambda.Code.fromAsset(assetDir(operation), { exclude: ['*.map'] }),
          memorySize: settings.memorySize ?? DEFAULT_MEMORY_MB,
          timeout: settings.timeout,
          reservedConcurrentExecutions: config.reservedConcurrency ? settings.reservedConcurrency : undefined,
          retryAttempts: settings.retryAttempts,
          maxEventAge: settings.maxEventAge,
          onFailure: new SqsDestination(this.failureQueue),
          // Lambda's async-invoke config is per function, version or alias: the one above covers
          // $LATEST only. The deploy-time invoker names a version (currentVersion) and, when
          // throttled, invokes that version asynchronously: it needs the same retries and the
          // same failure queue, or its failures would go nowhere.
          currentVersionOptions: {
            retryAttempts: settings.retryAttempts,
            maxEventAge: settings.maxEventAge,
            onFailure: new SqsDestination(this.failureQueue),
          },
          environment: {
            ...handlerEnvironment(operation, config, loginSecretOf(operation, database, props.logins).secretArn, archiveEnvironment),
            ...loginSecretsEnvironment(operation, props.logins),
          },
          vpc: database.vpc,
          vpcSubnets: database.subnets,
          securityGroups: [this.securityGroup],
          logGroup: createLogGroup(this, `${constructIdOf(operation)}Logs`),
        });
        grantSecretRead(fn, secretsOf(operation, database, props.logins), database);
        const archiveAccess = ARCHIVE_ACCESS[operation];
        if (props.archive && archiveAccess) props.archive.grant(fn, archiveAccess);
        acknowledgeManagedPolicies(fn, true);
        return [operation, fn];
      }),
    ) as Record<HandlerOperation, lambda.Function>;
  }
}

/**
 * A function's environment (functions/lambda/environment.ts reads it): the secret, the
 * namespace, and its operation's payload defaults, so a manual `{}` invoke does what the
 * schedule does. No DB_SSL: TLS stays verify-full against the embedded RDS CA bundle.
 */
export function handlerEnvironment(
  operation: HandlerOperation,
  config: StackConfig,
  secretArn: string,
  archiveEnvironment?: Record<string, string>,
): Record<string, string> {
  const environment: Record<string, string> = { DB_SECRET_ARN: secretArn, METRICS_NAMESPACE: config.metricsNamespace };
  const statementTimeout = FUNCTION_SETTINGS[operation].statementTimeout;
  if (statementTimeout) environment.DB_STATEMENT_TIMEOUT_MS = String(statementTimeout.toMilliseconds());
  if (operation === 'partitions') environment.PARTITIONS_DAYS_AHEAD = String(config.daysAhead);
  if (operation === 'stats' && config.storageLimitBytes) environment.DB_STORAGE_LIMIT_BYTES = String(config.storageLimitBytes);
  if (operation === 'stats' && config.dataAgeAlarmSeconds === undefined) environment.STATS_DATA_AGE_METRICS = 'false';
  if (operation === 'prune' && config.deleteRowsOlderThanDays) environment.PRUNE_OLDER_THAN_DAYS = String(config.deleteRowsOlderThanDays);
  if (operation === 'prune' && config.dropPartitionsOlderThanDays) {
    environment.PRUNE_DROP_PARTITIONS_OLDER_THAN_DAYS = String(config.dropPartitionsOlderThanDays);
  }
  // Prune gets the archive exactly when archiving is on: then it refuses to drop a day the archive has not verified.
  if (archiveEnvironment && ARCHIVE_ACCESS[operation]) Object.assign(environment, archiveEnvironment);
  if (config.archive && ARCHIVE_ACCESS[operation] === 'write') environment[ARCHIVE_VARIABLES.afterDays] = String(config.archive.afterDays);
  return environment;
}

/** An SQS queue for failed events: SQS-managed encryption, TLS required, 14 days to look at them. */
export function createEncryptedQueue(scope: Construct, id: string): sqs.Queue {
  const queue = new sqs.Queue(scope, id, {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  Validations.of(queue).acknowledge({
    id: 'AwsSolutions-SQS3',
    reason: 'This queue is itself the dead-letter destination of failed invocations; the DLQ alarm watches it.',
  });
  return queue;
}

/**
 * The secrets a function reads, its own login's first: with logins, migrate reads the master
 * secret and the logins' (it makes the logins from them), every other function its login's only.
 */
function secretsOf(operation: HandlerOperation, database: DatabaseTarget, logins: DatabaseLogins | undefined): secretsmanager.ISecret[] {
  if (!logins) return [database.secret];
  const login = FUNCTION_LOGINS[operation];
  return login === 'master' ? [database.secret, logins.secrets.maintenance, logins.secrets.stats] : [logins.secrets[login]];
}

/** The secret of the login a function logs in as (DB_SECRET_ARN). */
function loginSecretOf(operation: HandlerOperation, database: DatabaseTarget, logins: DatabaseLogins | undefined): secretsmanager.ISecret {
  const login = FUNCTION_LOGINS[operation];
  return logins && login !== 'master' ? logins.secrets[login] : database.secret;
}

/** migrate's DB_MAINTENANCE_SECRET_ARN and DB_STATS_SECRET_ARN: the logins it makes. */
function loginSecretsEnvironment(operation: HandlerOperation, logins: DatabaseLogins | undefined): Record<string, string> {
  if (!logins || FUNCTION_LOGINS[operation] !== 'master') return {};
  return { DB_MAINTENANCE_SECRET_ARN: logins.secrets.maintenance.secretArn, DB_STATS_SECRET_ARN: logins.secrets.stats.secretArn };
}

/**
 * GetSecretValue on the function's secrets (the handlers call nothing else), and Decrypt on the
 * database secret's customer managed key when it has one, only through Secrets Manager.
 */
function grantSecretRead(fn: lambda.Function, secrets: secretsmanager.ISecret[], database: DatabaseTarget): void {
  fn.addToRolePolicy(
    new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: secrets.map((secret) => secret.secretArn) }),
  );
  if (database.secretKey) {
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: [database.secretKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(fn).region}.amazonaws.com` } },
      }),
    );
  }
}

/** Acknowledges the AWS managed policies Lambda gives a function's role: logging, and in a VPC, its network interfaces. */
export function acknowledgeManagedPolicies(fn: lambda.Function, inVpc: boolean): void {
  const role = fn.role;
  if (!role) return;
  Validations.of(role).acknowledge(
    {
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: 'AWS managed policy for writing to CloudWatch Logs; it is what Lambda documents for this and grants nothing else.',
    },
    ...(inVpc
      ? [
          {
            id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
            reason: 'AWS managed policy for the network interfaces of a function in a VPC; its ec2 actions cannot be scoped to resources.',
          },
        ]
      : []),
  );
}
