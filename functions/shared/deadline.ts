import type { OperationContext } from './context';
import { DeadlineError } from './errors';

/**
 * Called before each step of a long operation: throws DeadlineError, carrying the report so far,
 * when less than the reserve is left before the deadline. The run then ends between two steps
 * with nothing half-done, instead of being killed in the middle of one. No deadline (the command
 * line), no check; no time at all, an interrupted run (see localLambdaContext). `nextRun` says what
 * running again does (by default: it carries on).
 */
export function assertTimeForStep(
  ctx: OperationContext,
  step: string,
  reportSoFar: () => unknown,
  nextRun = 'the next run carries on from there',
): void {
  ctx.onStep?.(step);
  const left = ctx.timeLeftMs?.();
  if (left === undefined || left >= ctx.settings.deadlineReserveMs) return;
  // No time at all: the local runner's answer once Ctrl-C or SIGTERM asked the run to stop (a
  // Lambda is killed before its remaining time reaches 0).
  if (left <= 0) {
    throw new DeadlineError(
      `stopped before ${step}: the run was interrupted (Ctrl-C or SIGTERM). Every step before it is complete and in the report; ${nextRun}`,
      { report: reportSoFar() },
    );
  }
  throw new DeadlineError(
    `stopped before ${step}: ${seconds(left)} left before the Lambda deadline, less than the ${seconds(ctx.settings.deadlineReserveMs)} reserved for one step (DEADLINE_RESERVE_MS). Every step before it is complete and in the report; ${nextRun} (raise the function timeout if this repeats)`,
    { report: reportSoFar() },
  );
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
