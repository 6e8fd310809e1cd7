import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import prettyBytes from 'pretty-bytes';
import type { ArchiveReport } from '../../functions/operations/archive/archive';
import type { PruneReport } from '../../functions/operations/prune/prune';
import type { StatsReport, TimeSeriesTableStats } from '../../functions/operations/stats/stats';
import type { VacuumReport } from '../../functions/operations/vacuum/vacuum';
import { ALL_TABLES, TIME_SERIES_TABLES } from '../../functions/shared/tables';
import type { HandlerOperation } from '../bundling';
import { RUNWAY_ALARM_DAYS } from '../stack-contract';
import type { DeployedStack } from './stack-step';
import { failedAwsStep, type StepResult } from './step';

/** A synchronous invocation's result: the report, the function's error, or the call's. */
type Invocation = { report: Record<string, unknown> } | { errorType: string; errorMessage: string } | { awsError: unknown };

/** What to do when a function fails with this errorType (docs/lambda.md, Failures). */
const ADVICE: Record<string, string> = {
  DatabaseUnavailableError:
    'the function cannot reach or log in to the database: check that the database is available, the security-group rules and the Secrets Manager endpoint (docs/lambda.md, Failures)',
  MigrationError:
    'the schema is not installed, or a migration failed: invoke migrate and read its report (docs/deploy.md, Running a function by hand)',
  LockBusyError: 'another maintenance run holds the lock (the nightly runs are 01:00-02:15 UTC): run verify again when it has finished',
  InputError: "the function refused the check's payload: deploy this version of the stack (npx cdk deploy)",
  InsufficientPrivilegeError:
    'the login in the database secret lacks a privilege this operation needs (the message names it): migrate, partitions, prune, vacuum and archive run as the owner of the tables (the role that ran migrate), stats needs SELECT (perps_reader); point the secret at that login, or grant what is missing (docs/lambda.md, Failures; docs/design.md, Roles)',
};

/** The advice for an error the function returned. */
function adviceFor(operation: HandlerOperation, errorType: string): string {
  return (
    ADVICE[errorType] ??
    `read the ${operation} function's log group: one "${operation} failed" line has the errorType and the report so far`
  );
}

/** Invokes a function synchronously with the user's credentials. */
async function invoke(lambda: LambdaClient, functionName: string, payload: unknown): Promise<Invocation> {
  try {
    const response = await lambda.send(
      new InvokeCommand({ FunctionName: functionName, Payload: new TextEncoder().encode(JSON.stringify(payload)) }),
    );
    const body = JSON.parse(new TextDecoder().decode(response.Payload ?? new Uint8Array()) || 'null') as Record<string, unknown>;
    if (!response.FunctionError) return { report: body };
    return { errorType: String(body?.errorType ?? response.FunctionError), errorMessage: String(body?.errorMessage ?? '') };
  } catch (error) {
    return { awsError: error };
  }
}

/** A step that ended before a report: the call failed, or the function did. */
function failedStep(step: HandlerOperation, invocation: Exclude<Invocation, { report: unknown }>): StepResult {
  if ('awsError' in invocation) return failedAwsStep(step, invocation.awsError, 'Lambda', `lambda:InvokeFunction on the ${step} function`);
  return { step, ok: false, detail: `${invocation.errorType}: ${invocation.errorMessage}`, todo: adviceFor(step, invocation.errorType) };
}

/**
 * Invokes `stats` (read-only) and checks its report: every table there, and every time-series
 * table with the partitions ahead the runway alarm asks for.
 */
export async function checkStats(lambda: LambdaClient, stack: DeployedStack): Promise<StepResult> {
  const invocation = await invoke(lambda, stack.functions.stats, {});
  if (!('report' in invocation)) return failedStep('stats', invocation);
  const report = invocation.report as Partial<StatsReport>;
  const missing = ALL_TABLES.filter((table) => !report.tables?.[table]);
  if (report.operation !== 'stats' || missing.length > 0) {
    return {
      step: 'stats',
      ok: false,
      detail: `the report lacks ${missing.length > 0 ? `the tables ${missing.join(', ')}` : 'its operation'}`,
      todo: 'deploy this version of the stack (npx cdk deploy), then invoke migrate',
    };
  }
  const tables = report.tables as StatsReport['tables'];
  const runway = TIME_SERIES_TABLES.map((table) => (tables[table] as TimeSeriesTableStats).runway_days);
  const shortest = Math.min(...runway);
  const series = TIME_SERIES_TABLES.map((table) => tables[table] as TimeSeriesTableStats);
  const lastHour = `${series.every((t) => t.rows_last_hour_exact) ? '' : '~'}${series.reduce((sum, t) => sum + t.rows_last_hour, 0)}`;
  const detail = `database ${report.database?.name} ${prettyBytes(report.database?.size_bytes ?? 0, { binary: true })}, ${ALL_TABLES.length} tables, ${shortest}-${Math.max(...runway)} days of partitions ahead, ${lastHour} rows ingested in the last hour`;
  if (shortest >= RUNWAY_ALARM_DAYS) return { step: 'stats', ok: true, detail };
  return {
    step: 'stats',
    ok: false,
    detail,
    todo: `a table has fewer than ${RUNWAY_ALARM_DAYS} days of partitions ahead: invoke partitions and read its report (docs/deploy.md, Running a function by hand)`,
  };
}

/**
 * `partitions` has no dry run of its own: Lambda's DryRun invocation checks that the function
 * exists and that these credentials may invoke it, and runs nothing. Whether it has done its
 * work shows in the stats step's runway.
 */
export async function checkPartitions(lambda: LambdaClient, stack: DeployedStack): Promise<StepResult> {
  try {
    await lambda.send(new InvokeCommand({ FunctionName: stack.functions.partitions, InvocationType: 'DryRun' }));
    return {
      step: 'partitions',
      ok: true,
      detail: 'may be invoked (Lambda dry run: checked, nothing ran); its runway is in the stats line',
    };
  } catch (error) {
    return failedStep('partitions', { awsError: error });
  }
}

/** A function that answered a dry run with something else: a version from before the check. */
function notADryRun(step: 'prune' | 'vacuum' | 'archive'): StepResult {
  return { step, ok: false, detail: `the answer is no ${step} dry-run report`, todo: 'deploy this version of the stack (npx cdk deploy)' };
}

/** The message of the handler's InputError when prune has neither a payload action nor scheduled defaults. */
const NO_RETENTION = /PRUNE_OLDER_THAN_DAYS and PRUNE_DROP_PARTITIONS_OLDER_THAN_DAYS .* are not set/;

/** Invokes `prune` as a dry run of its scheduled retention: the plan, nothing changed. */
export async function checkPrune(lambda: LambdaClient, stack: DeployedStack): Promise<StepResult> {
  const invocation = await invoke(lambda, stack.functions.prune, { dryRun: true });
  if ('errorType' in invocation && invocation.errorType === 'InputError' && NO_RETENTION.test(invocation.errorMessage)) {
    return { step: 'prune', ok: true, detail: 'retention is off (both retention context keys): nothing to preview' };
  }
  if (!('report' in invocation)) return failedStep('prune', invocation);
  const report = invocation.report as Partial<PruneReport>;
  if (report.operation !== 'prune' || report.dry_run !== true) return notADryRun('prune');
  const drops = (report.actions ?? []).filter((action) => action.action === 'drop_partition').length;
  const rows = (report.actions ?? []).reduce(
    (sum, action) => sum + ('rows' in action && typeof action.rows === 'number' ? action.rows : 0),
    0,
  );
  return { step: 'prune', ok: true, detail: `dry run: would drop ${drops} partitions and delete ${rows} rows; nothing was changed` };
}

/** Invokes `vacuum` as a dry run: the seals and analyzes its next run would do, none run. */
export async function checkVacuum(lambda: LambdaClient, stack: DeployedStack): Promise<StepResult> {
  const invocation = await invoke(lambda, stack.functions.vacuum, { dryRun: true });
  if (!('report' in invocation)) return failedStep('vacuum', invocation);
  const report = invocation.report as Partial<VacuumReport>;
  if (report.operation !== 'vacuum' || report.dry_run !== true) return notADryRun('vacuum');
  const steps = report.steps ?? [];
  const seals = steps.filter((step) => step.action === 'seal').length;
  return {
    step: 'vacuum',
    ok: true,
    detail: `dry run: would seal ${seals} partitions and analyze ${steps.length - seals} tables, ${report.partitions_already_sealed ?? 0} partitions already sealed; nothing was run`,
  };
}

/**
 * Invokes `archive` as a dry run: it may read the partitions and the ledger, and lists the day
 * partitions its next run would export; nothing is written. Skipped when the stack has no archive.
 */
export async function checkArchive(lambda: LambdaClient, stack: DeployedStack): Promise<StepResult> {
  if (!stack.archiveBucket) return { step: 'archive', ok: true, detail: 'archiving is off (archive=false): nothing to check' };
  const invocation = await invoke(lambda, stack.functions.archive, { dryRun: true });
  if (!('report' in invocation)) return failedStep('archive', invocation);
  const report = invocation.report as Partial<ArchiveReport>;
  if (report.operation !== 'archive' || report.dry_run !== true) return notADryRun('archive');
  const waiting = report.partitions?.length ?? 0;
  return {
    step: 'archive',
    ok: true,
    detail: `dry run: would archive ${waiting} day partitions to ${report.location}, ${report.partitions_already_archived ?? 0} already archived; nothing was written`,
  };
}
