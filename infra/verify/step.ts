import { describeAwsError } from './aws-errors';

/** One step's outcome: what was checked, and when it failed, what to do about it. */
export interface StepResult {
  step: string;
  ok: boolean;
  detail: string;
  todo?: string;
}

/**
 * A step an AWS error ended: the error, and the permission the caller most likely lacks. An
 * unreachable AWS (or refused credentials) is rethrown instead: it ends the whole check.
 */
export function failedAwsStep(step: string, error: unknown, service: string, permission: string): StepResult {
  return { step, ok: false, detail: describeAwsError(error, service), todo: `your credentials need ${permission}` };
}
