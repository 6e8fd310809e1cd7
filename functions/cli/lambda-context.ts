import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';

/** Lambda's longest timeout: the local runner gives each invocation that budget. */
const LOCAL_TIMEOUT_MS = 15 * 60_000;

/**
 * A budget no run reaches (23 days), for "no deadline": middy arms a timer from the remaining
 * time, and a timer beyond 2^31 - 1 ms (or Infinity) fires at once.
 */
export const NO_DEADLINE_MS = 2_000_000_000;

/**
 * A Lambda-like context for invoking a handler outside Lambda (local runner, tests). Once `stop`
 * aborts (Ctrl-C), no time is left: an operation stops before its next step, as at a deadline,
 * and says so (see assertTimeForStep).
 */
export function localLambdaContext(functionName: string, timeoutMs = LOCAL_TIMEOUT_MS, stop?: AbortSignal): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => (stop?.aborted ? 0 : Math.max(0, deadline - Date.now())),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
