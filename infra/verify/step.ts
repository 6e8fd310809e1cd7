import type { Writable } from 'node:stream';
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

/** One line per step (`ok      stats       ...`), then a `what to do:` line per line of advice. */
export function printStep(out: Writable, result: StepResult): void {
  out.write(`${(result.ok ? 'ok' : 'failed').padEnd(8)}${result.step.padEnd(12)}${result.detail}\n`);
  for (const line of result.todo?.split('\n') ?? []) out.write(`${''.padEnd(20)}what to do: ${line}\n`);
}

/** The closing line and the exit code: 0 when every step is ok, 1 when one failed. */
export function summarize(out: Writable, results: StepResult[]): number {
  const failed = results.filter((step) => !step.ok).length;
  out.write(failed === 0 ? `\nall ${results.length} steps ok\n` : `\n${failed} of ${results.length} steps failed\n`);
  return failed === 0 ? 0 : 1;
}
