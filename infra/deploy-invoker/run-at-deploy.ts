import { type CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { InvokeCommand, type InvokeCommandOutput, type LambdaClient, TooManyRequestsException } from '@aws-sdk/client-lambda';

/** What to run at deploy time, and which of its failures mean that another run does the work. */
export interface DeployRun {
  /** The function (version) ARN to invoke. */
  readonly functionName: string;
  readonly payload: Record<string, unknown>;
  /** errorType values that are no failure of the deploy: another run holds the work (LockBusyError). */
  readonly tolerated: readonly string[];
  /** The stack's id: a failure while it rolls back is logged, not thrown (see {@link stackStatusOf}). */
  readonly stackId?: string;
}

/** How a deploy-time run ended, when it did not fail the deploy. */
export type DeployRunOutcome =
  | { outcome: 'done'; functionName: string; report: unknown }
  | { outcome: 'skipped'; functionName: string; errorType: string; errorMessage: string }
  | { outcome: 'queued'; functionName: string; reason: string }
  | { outcome: 'failed_in_rollback'; functionName: string; stackStatus: string; error: string };

/** One structured log line (the handler writes it as JSON to the function's log group). */
export type DeployLog = (entry: { level: 'INFO' | 'WARN'; message: string } & Record<string, unknown>) => void;

/** The function failed for a reason no other run covers: the deploy must fail with it. */
export class DeployRunError extends Error {
  constructor(
    readonly errorType: string,
    readonly errorMessage: string,
    functionName: string,
  ) {
    super(`${functionName} failed at deploy: ${errorType}: ${errorMessage}`);
    this.name = 'DeployRunError';
  }
}

/**
 * Invokes a function synchronously during a deploy, as CDK's Trigger does, with three outcomes
 * that do not fail the deploy: a tolerated error (another maintenance run holds the lock and
 * does this work) is logged and skipped; a throttle (the function's reserved or the account's
 * concurrency in use, after the SDK's own retries) becomes an asynchronous invocation, which
 * Lambda queues and retries on throttles for up to the function's maximum event age; and any
 * failure while the stack rolls back (`stackStatus` of `run.stackId`) is logged, not thrown.
 */
export async function runAtDeploy(
  lambda: LambdaClient,
  run: DeployRun,
  log: DeployLog,
  stackStatus?: (stackId: string) => Promise<string>,
): Promise<DeployRunOutcome> {
  try {
    return await invokeAtDeploy(lambda, run, log);
  } catch (error) {
    if (!run.stackId || !stackStatus) throw error;
    // CDK's Trigger runs on the rollback's Update too, with the previous function version, which
    // may not know the schema the failed deploy left (a newer migration): failing there would
    // leave the stack in UPDATE_ROLLBACK_FAILED. The rollback restores the functions; the next
    // scheduled run, or the next deploy, does this work.
    const status = await stackStatus(run.stackId).catch((statusError: unknown) => {
      log({ level: 'WARN', message: `could not read the stack status of ${run.stackId}`, error: String(statusError) });
      return undefined;
    });
    if (!status || !ROLLING_BACK.test(status)) throw error;
    const message = error instanceof Error ? error.message : String(error);
    log({
      level: 'WARN',
      message: `${run.functionName} failed during a rollback (${status}): not failing the rollback`,
      functionName: run.functionName,
      stackStatus: status,
      error: message,
    });
    return { outcome: 'failed_in_rollback', functionName: run.functionName, stackStatus: status, error: message };
  }
}

/** The stack states in which CloudFormation runs a rollback (UPDATE_ROLLBACK_IN_PROGRESS, ROLLBACK_IN_PROGRESS). */
const ROLLING_BACK = /ROLLBACK_IN_PROGRESS$/;

/** The stack's status (DescribeStacks on its id). */
export async function stackStatusOf(cloudformation: CloudFormationClient, stackId: string): Promise<string> {
  const { Stacks } = await cloudformation.send(new DescribeStacksCommand({ StackName: stackId }));
  const status = Stacks?.[0]?.StackStatus;
  if (!status) throw new Error(`DescribeStacks returned no status for ${stackId}`);
  return status;
}

async function invokeAtDeploy(lambda: LambdaClient, run: DeployRun, log: DeployLog): Promise<DeployRunOutcome> {
  const { functionName } = run;
  const Payload = new TextEncoder().encode(JSON.stringify(run.payload));
  let response: InvokeCommandOutput;
  try {
    response = await lambda.send(new InvokeCommand({ FunctionName: functionName, InvocationType: 'RequestResponse', Payload }));
  } catch (error) {
    if (!(error instanceof TooManyRequestsException)) throw error;
    await lambda.send(new InvokeCommand({ FunctionName: functionName, InvocationType: 'Event', Payload }));
    const reason = `throttled (${error.Reason ?? error.message}): invoked asynchronously instead; Lambda retries it while it is throttled`;
    log({ level: 'WARN', message: `${functionName} queued at deploy`, functionName, reason });
    return { outcome: 'queued', functionName, reason };
  }
  const body = response.Payload ? new TextDecoder().decode(response.Payload) : '';
  if (!response.FunctionError) {
    const report = body ? (JSON.parse(body) as unknown) : null;
    log({ level: 'INFO', message: `${functionName} done at deploy`, functionName, report });
    return { outcome: 'done', functionName, report };
  }
  const { errorType, errorMessage } = functionErrorOf(body);
  if (!run.tolerated.includes(errorType)) throw new DeployRunError(errorType, errorMessage, functionName);
  log({
    level: 'WARN',
    message: `${functionName} skipped at deploy: another maintenance run holds the lock and does this work`,
    functionName,
    errorType,
    errorMessage,
  });
  return { outcome: 'skipped', functionName, errorType, errorMessage };
}

/** Lambda's error payload: `{"errorType": ..., "errorMessage": ..., "trace": [...]}`, or anything when the runtime itself failed. */
function functionErrorOf(body: string): { errorType: string; errorMessage: string } {
  try {
    const parsed = JSON.parse(body) as { errorType?: unknown; errorMessage?: unknown };
    return { errorType: String(parsed.errorType ?? 'Unknown'), errorMessage: String(parsed.errorMessage ?? body) };
  } catch {
    return { errorType: 'Unknown', errorMessage: body };
  }
}
