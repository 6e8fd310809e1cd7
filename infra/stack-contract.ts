import type { HandlerOperation } from './bundling';

/**
 * What the stack and `npm run verify` agree on: construct and output names, and the runway the
 * alarms hold the store to. This module imports no CDK, so the check starts fast.
 */

/** PascalCase construct id of an operation: `Migrate`, `Partitions`, ... */
export function constructIdOf(operation: HandlerOperation): string {
  return operation.charAt(0).toUpperCase() + operation.slice(1);
}

/** The stack's outputs, by key. */
export const STACK_OUTPUTS = {
  functionName: (operation: HandlerOperation) => `${constructIdOf(operation)}FunctionName`,
  secretArn: 'DatabaseSecretArn',
  alarmTopicArn: 'AlarmTopicArn',
  dashboardName: 'DashboardName',
  metricsNamespace: 'MetricsNamespace',
  /** With archiving on: the archive bucket and the Glue database Athena queries. */
  archiveBucketName: 'ArchiveBucketName',
  archiveGlueDatabase: 'ArchiveGlueDatabase',
} as const;

/** Alarm when a table has fewer days of partitions ahead than this: partitions has failed for days. */
export const RUNWAY_ALARM_DAYS = 2;
