import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { OPERATIONS } from '../functions/operations/registry';
import { HANDLER_OPERATIONS, type HandlerOperation } from './bundling';
import type { StackConfig } from './config';
import { MaintenanceAlarms } from './constructs/alarms';
import { Archive, type ArchiveProps } from './constructs/archive';
import { StoreDashboard } from './constructs/dashboard';
import { createDatabase, type DatabaseTarget, NewDatabase } from './constructs/database';
import { DeletionProtection } from './constructs/deletion-protection';
import { DeployMigrations } from './constructs/deploy-trigger';
import { HandlerFunctions } from './constructs/functions';
import { keepProviderLogs } from './constructs/log-groups';
import { DatabaseLogins } from './constructs/logins';
import { MaintenanceSchedules } from './constructs/schedules';
import { STACK_OUTPUTS } from './stack-contract';

export interface PerpsStatsDbStackProps extends StackProps {
  readonly config: StackConfig;
  /** Where each function's code comes from (default: `dist/<op>/`, the handler bundles). */
  readonly assetDir?: (operation: HandlerOperation) => string;
}

/**
 * The perps-stats-db stack: database (new RDS, new Aurora, or an existing one), the functions,
 * their schedules, migrations on deploy, the archive (S3, Glue), alarms and a dashboard. It only composes;
 * each construct owns its concern. Environment-agnostic: synth needs no AWS account.
 */
export class PerpsStatsDbStack extends Stack {
  readonly database: DatabaseTarget;
  readonly handlers: HandlerFunctions;
  readonly schedules: MaintenanceSchedules;
  readonly deployMigrations: DeployMigrations;
  readonly alarms: MaintenanceAlarms;
  /** Undefined with `-c archive=false`. */
  readonly archive: Archive | undefined;
  /** A new database's deletion protection, turned on last; undefined for `existing` or `-c deletionProtection=false`. */
  readonly deletionProtection: DeletionProtection | undefined;
  /** The function logins' secrets (a new database); undefined for `existing`, whose one secret every function uses. */
  readonly logins: DatabaseLogins | undefined;

  constructor(scope: Construct, id: string, props: PerpsStatsDbStackProps) {
    super(scope, id, props);
    const { config } = props;
    const database = createDatabase(this, 'Database', config.database);
    this.database = database;
    this.archive = config.archive
      ? new Archive(this, 'Archive', { config: config.archive, database, endpoint: archiveEndpoint(config) })
      : undefined;
    this.logins = database instanceof NewDatabase ? new DatabaseLogins(this, 'Logins', { database }) : undefined;
    this.handlers = new HandlerFunctions(this, 'Functions', {
      database,
      config,
      archive: this.archive,
      logins: this.logins,
      assetDir: props.assetDir,
    });
    const { functions } = this.handlers;
    this.deployMigrations = new DeployMigrations(this, 'DeployMigrations', {
      migrate: functions.migrate,
      partitions: functions.partitions,
      after: [database, this.handlers.securityGroup, ...(this.logins?.attachments ?? [])],
    });
    if (this.logins) this.switchToLoginsAfter(this.logins);
    this.schedules = new MaintenanceSchedules(this, 'Schedules', { config, functions, after: [this.deployMigrations] });
    this.alarms = new MaintenanceAlarms(this, 'Alarms', {
      config,
      functions,
      deadLetterQueues: { FunctionFailures: this.handlers.failureQueue, ScheduleDeadLetters: this.schedules.deadLetterQueue },
    });
    const dashboard = new StoreDashboard(this, 'Dashboard', {
      metricsNamespace: config.metricsNamespace,
      archive: config.archive !== undefined,
      dataAge: config.dataAgeAlarmSeconds !== undefined,
      storageRunway: config.storageLimitBytes !== undefined,
    });

    this.addOutputs(config, dashboard);

    // After every other resource: a first deploy that fails anywhere before it can still delete
    // the database it created (see DeletionProtection).
    this.deletionProtection =
      database instanceof NewDatabase && config.database.kind !== 'existing' && config.database.deletionProtection
        ? new DeletionProtection(this, 'DatabaseProtection', { server: database.server, after: [...this.node.children] })
        : undefined;

    // Last: every function CDK adds on its own exists by now.
    keepProviderLogs(this);
  }

  /** What an operator needs after the deploy (`aws lambda invoke --function-name ...`), and what `npm run verify` reads. */
  private addOutputs(config: StackConfig, dashboard: StoreDashboard): void {
    for (const operation of HANDLER_OPERATIONS) {
      new CfnOutput(this, STACK_OUTPUTS.functionName(operation), { value: this.handlers.functions[operation].functionName });
    }
    new CfnOutput(this, STACK_OUTPUTS.secretArn, { value: this.database.secret.secretArn });
    new CfnOutput(this, STACK_OUTPUTS.alarmTopicArn, { value: this.alarms.topic.topicArn });
    new CfnOutput(this, STACK_OUTPUTS.dashboardName, { value: dashboard.dashboard.dashboardName });
    new CfnOutput(this, STACK_OUTPUTS.metricsNamespace, { value: config.metricsNamespace });
    if (this.archive) {
      new CfnOutput(this, STACK_OUTPUTS.archiveBucketName, { value: this.archive.bucket.bucketName });
      new CfnOutput(this, STACK_OUTPUTS.archiveGlueDatabase, { value: this.archive.glueDatabase.databaseName });
    }
  }

  /**
   * The functions that log in as a login migrate makes are created or updated only after the
   * migrate trigger ran: on an existing stack they keep the master secret until their login
   * exists. Not partitions: the trigger provider is one for both triggers, and its role names the
   * invoker, which names partitions' version, so that order would be a cycle; its scheduled run
   * (at :45) meeting the minute between its update and the trigger fails and is retried by
   * Lambda. The logins' rotation starts after the trigger too.
   */
  private switchToLoginsAfter(logins: DatabaseLogins): void {
    for (const operation of HANDLER_OPERATIONS) {
      if (OPERATIONS[operation].deploy.login === 'master' || operation === 'partitions') continue;
      this.handlers.functions[operation].node.addDependency(this.deployMigrations.migrate);
    }
    logins.rotateAfter(this.deployMigrations.migrate);
  }
}

/** Where the archive's S3 gateway endpoint goes (see ArchiveProps.endpoint). */
function archiveEndpoint(config: StackConfig): ArchiveProps['endpoint'] {
  if (config.database.kind !== 'existing') return { subnets: true };
  const routeTables = config.database.s3EndpointRouteTableIds;
  return routeTables.length > 0 ? { routeTables } : undefined;
}
