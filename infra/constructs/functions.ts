import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { OPERATIONS } from '../../functions/operations/registry';
import { bundleDir, HANDLER_OPERATIONS, type HandlerOperation, LAMBDA_HANDLER } from '../bundling';
import type { StackConfig } from '../config';
import { constructIdOf } from '../stack-contract';
import { type Archive, allowArchiveTraffic } from './archive';
import type { DatabaseTarget } from './database';
import { createLogGroup } from './log-groups';
import type { DatabaseLogins } from './logins';

/** What a function gets unless its definition says otherwise: the maintenance work is SQL the database does. */
export const DEFAULT_MEMORY_MB = 256;

/**
 * How each function runs, from its operation's definition (functions/operations/<op>/definition.ts):
 * sized to its work and to how its failures are best retried. `reservedConcurrency` applies with
 * `-c reservedConcurrency=true` only: 1 keeps a second run of an operation from starting at all
 * (the maintenance lock already makes it fail fast); off by default, as Lambda keeps 100
 * executions unreserved and new accounts often have a quota of 10 in total.
 */
export function functionSettings(operation: HandlerOperation) {
  const deploy = OPERATIONS[operation].deploy;
  return {
    timeout: Duration.minutes(deploy.timeoutMinutes),
    memorySize: deploy.memoryMb ?? DEFAULT_MEMORY_MB,
    reservedConcurrency: deploy.reservedConcurrency,
    retryAttempts: deploy.retryAttempts,
    maxEventAge: Duration.minutes(deploy.maxEventAgeMinutes),
    statementTimeout: deploy.statementTimeoutSeconds === undefined ? undefined : Duration.seconds(deploy.statementTimeoutSeconds),
    archiveAccess: deploy.archiveAccess,
  };
}

export interface HandlerFunctionsProps {
  readonly database: DatabaseTarget;
  readonly config: StackConfig;
  /** The archive, when archiving is on: its bucket and prefix go to the functions in ARCHIVE_ACCESS. */
  readonly archive?: Archive;
  /** The function logins' secrets (a new database): each function then reads only its own login's (its definition's deploy.login). */
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
    const { database } = props;
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
      HANDLER_OPERATIONS.map((operation) => [operation, this.createFunction(operation, props, archiveEnvironment)]),
    ) as Record<HandlerOperation, lambda.Function>;
  }

  /** One operation's function, its secrets and archive access granted. */
  private createFunction(
    operation: HandlerOperation,
    props: HandlerFunctionsProps,
    archiveEnvironment: Record<string, string> | undefined,
  ): lambda.Function {
    const { database, config, logins } = props;
    const settings = functionSettings(operation);
    const fn = new lambda.Function(this, constructIdOf(operation), {
      description: `perps-stats-db ${operation}`,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      handler: LAMBDA_HANDLER,
      // The bundle the handler tests run; the source map stays behind (it doubles the package).
      code: lambda.Code.fromAsset((props.assetDir ?? bundleDir)(operation), { exclude: ['*.map'] }),
      memorySize: settings.memorySize,
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
        ...handlerEnvironment(operation, config, loginSecretOf(operation, database, logins).secretArn, archiveEnvironment),
        ...loginSecretsEnvironment(operation, logins),
      },
      vpc: database.vpc,
      vpcSubnets: database.subnets,
      securityGroups: [this.securityGroup],
      logGroup: createLogGroup(this, `${constructIdOf(operation)}Logs`),
    });
    grantSecretRead(fn, secretsOf(operation, database, logins), database);
    if (props.archive && settings.archiveAccess) props.archive.grant(fn, settings.archiveAccess);
    acknowledgeManagedPolicies(fn, true);
    return fn;
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
  const { statementTimeout, archiveAccess } = functionSettings(operation);
  return {
    DB_SECRET_ARN: secretArn,
    METRICS_NAMESPACE: config.metricsNamespace,
    ...(statementTimeout ? { DB_STATEMENT_TIMEOUT_MS: String(statementTimeout.toMilliseconds()) } : {}),
    ...OPERATIONS[operation].deploy.environment?.(config),
    // Prune gets the archive exactly when archiving is on: then it refuses to drop a day the archive has not verified.
    ...(archiveEnvironment && archiveAccess ? archiveEnvironment : {}),
  };
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
  const login = OPERATIONS[operation].deploy.login;
  return login === 'master' ? [database.secret, logins.secrets.maintenance, logins.secrets.stats] : [logins.secrets[login]];
}

/** The secret of the login a function logs in as (DB_SECRET_ARN). */
function loginSecretOf(operation: HandlerOperation, database: DatabaseTarget, logins: DatabaseLogins | undefined): secretsmanager.ISecret {
  const login = OPERATIONS[operation].deploy.login;
  return logins && login !== 'master' ? logins.secrets[login] : database.secret;
}

/** migrate's DB_MAINTENANCE_SECRET_ARN and DB_STATS_SECRET_ARN: the logins it makes. */
function loginSecretsEnvironment(operation: HandlerOperation, logins: DatabaseLogins | undefined): Record<string, string> {
  if (!logins || OPERATIONS[operation].deploy.login !== 'master') return {};
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
