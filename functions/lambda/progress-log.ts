import type { Logger } from '../shared/log';
import { type ProgressReporter, progressMeter } from '../shared/progress';

/**
 * In Lambda a piece of work is logged at most this often, and at its end: a day's archive of a
 * few minutes writes a handful of entries, not one per batch (CloudWatch Logs bills each byte).
 */
export const LOG_EVERY_MS = 15_000;

/**
 * The handler's default progress: the same events as the runner shows, as structured log
 * entries ("progress", with the task, table, day, rows done and total, rate and time left), so
 * a Logs Insights query can follow a long run. `clock` gives milliseconds (tests inject one).
 */
export function progressLog(log: Logger, clock: () => number = () => performance.now()): ProgressReporter {
  const meter = progressMeter(clock, LOG_EVERY_MS);
  return (event) => {
    const { due, elapsedMs, rate, leftMs } = meter(event);
    if (!due) return;
    log.info('progress', {
      ...event,
      elapsedSeconds: Math.round(elapsedMs / 1000),
      ...(rate === undefined ? {} : { perSecond: Math.round(rate) }),
      ...(leftMs === undefined ? {} : { secondsLeft: Math.round(leftMs / 1000) }),
    });
  };
}
