import type pg from 'pg';
import type { OperationContext } from './context';
import { connectionLostError } from './db/sessions';
import { isConnectionFailure } from './db/sql-errors';
import { assertTimeForStep } from './deadline';
import { DatabaseUnavailableError, DeadlineError, PartialFailureError } from './errors';

/**
 * The one way an operation runs its planned steps: each under the deadline, a failure recorded
 * and the next step run, a lost session ending the run with the report so far.
 */
export interface StepRun<Step> {
  /** The operation's id, for the lost-session error. */
  operation: string;
  ctx: OperationContext;
  client: pg.ClientBase;
  /** The report with its totals, which a deadline or lost-session error carries. */
  reportSoFar: () => unknown;
  /** The step in the words of a deadline message ("seal trades_2026_01_01"). */
  name(step: Step): string;
  /** Runs one step; what it did goes into the report through the step. */
  run(step: Step): Promise<void>;
  /** Records a failed step in the report: its status, its error, a log line. */
  failed(step: Step, error: unknown): void;
  /** After each step that started, done or failed: its duration, the progress line. */
  settled?(step: Step, ms: number): void;
}

/** Runs `steps` in order (see StepRun): the deadline is checked before each. */
export async function runSteps<Step>(steps: Iterable<Step>, run: StepRun<Step>): Promise<void> {
  for (const step of steps) {
    assertTimeForStep(run.ctx, run.name(step), run.reportSoFar);
    await attemptStep(run, step);
  }
}

/** Runs one step with no deadline check of its own; false when it failed (and was recorded). */
export async function attemptStep<Step>(run: StepRun<Step>, step: Step): Promise<boolean> {
  const started = Date.now();
  try {
    await run.run(step);
    return true;
  } catch (error) {
    // Already the end of the run: the deadline, or a session a step found lost (and reported).
    if (error instanceof DeadlineError || error instanceof DatabaseUnavailableError) throw error;
    run.failed(step, error);
    throwIfSessionLost(run, error);
    return false;
  } finally {
    run.settled?.(step, Date.now() - started);
  }
}

/** A lost session ends the run: nothing after it could reach the database. */
export function throwIfSessionLost(run: Pick<StepRun<unknown>, 'operation' | 'client' | 'reportSoFar'>, error: unknown): void {
  if (isConnectionFailure(error)) throw connectionLostError(run.operation, run.client, error, run.reportSoFar());
}

/** The one totals rule's end: a run with failed steps fails, carrying its whole report. */
export function assertNoFailedSteps(
  operation: string,
  report: unknown,
  outcome: { failed: ReadonlyArray<{ error?: string }>; total: number; noun: string },
): void {
  const { failed, total, noun } = outcome;
  if (failed.length === 0) return;
  throw new PartialFailureError(`${operation}: ${failed.length} of ${total} ${noun}, first: ${failed[0]?.error}`, { report });
}
