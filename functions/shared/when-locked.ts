import * as z from 'zod';
import { LockBusyError } from './errors';

/**
 * What a run does when another maintenance run holds the lock: `fail` (LockBusyError, the
 * default: a manual run should say so) or `skip` (end successfully with a report saying it was
 * skipped: for a caller to whom "someone else is doing it" is success, like the deploy).
 */
export const WHEN_LOCKED = z.enum(['fail', 'skip'], { error: 'must be "fail" or "skip"' }).optional();
/** Undefined means `fail`. */
export type WhenLocked = z.infer<typeof WHEN_LOCKED>;

/** The report of a run that did nothing because another run held the maintenance lock. */
export interface SkippedReport<Operation extends string> {
  operation: Operation;
  skipped: 'lock_busy';
  /** The LockBusyError's message: who holds the lock. */
  reason: string;
}

/** Runs `run`; with `skip`, a busy maintenance lock ends the run with a SkippedReport instead of LockBusyError. */
export async function runUnlessLocked<Operation extends string, Report>(
  operation: Operation,
  whenLocked: WhenLocked,
  run: () => Promise<Report>,
): Promise<Report | SkippedReport<Operation>> {
  try {
    return await run();
  } catch (error) {
    if (whenLocked !== 'skip' || !(error instanceof LockBusyError)) throw error;
    return { operation, skipped: 'lock_busy', reason: error.message };
  }
}

/** Whether a report is a skipped run's. */
export function isSkipped<Operation extends string>(report: { operation: Operation }): report is SkippedReport<Operation> {
  return 'skipped' in report;
}
