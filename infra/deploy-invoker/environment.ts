import type { DeployRun } from './run-at-deploy';

/** The environment the stack gives the invoker (infra/constructs/deploy-trigger.ts writes it). */
export const INVOKER_ENV = {
  target: 'TARGET_FUNCTION',
  payload: 'TARGET_PAYLOAD',
  tolerated: 'TOLERATED_ERRORS',
  stack: 'STACK_ID',
} as const;

/** Reads the run from the environment; a missing or malformed value is a bug in the stack, named here. */
export function deployRunFromEnv(env: Record<string, string | undefined>): DeployRun {
  const functionName = env[INVOKER_ENV.target];
  if (!functionName) throw new Error(`${INVOKER_ENV.target} is not set: the stack must name the function to run`);
  let payload: unknown;
  try {
    payload = JSON.parse(env[INVOKER_ENV.payload] ?? '{}');
  } catch (error) {
    throw new Error(`${INVOKER_ENV.payload} is not JSON: ${(error as Error).message}`);
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new Error(`${INVOKER_ENV.payload} must be a JSON object`);
  }
  const tolerated = (env[INVOKER_ENV.tolerated] ?? '').split(',').filter(Boolean);
  const stackId = env[INVOKER_ENV.stack] || undefined;
  return { functionName, payload: payload as Record<string, unknown>, tolerated, ...(stackId ? { stackId } : {}) };
}
