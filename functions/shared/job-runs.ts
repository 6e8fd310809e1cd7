/**
 * The history of runs (migration 0008): table `job_runs`, written only through the function
 * `record_job_run` (SECURITY DEFINER, EXECUTE for perps_reader), which keeps the newest
 * JOB_RUNS_KEPT runs of each operation and its newest success. The handler records every run
 * (functions/lambda/job-history.ts); `stats` reads it.
 */
export const JOB_RUNS_TABLE = 'job_runs';

/** The recording function with its argument types, as to_regprocedure and GRANT name it. */
export const RECORD_JOB_RUN = 'public.record_job_run(text, bigint, text, text, boolean, jsonb, text)';

/** Runs kept per operation (besides its newest success): 100 is 8 hours of stats, 4 days of partitions, 100 nights of the rest. */
export const JOB_RUNS_KEPT = 100;

/** Where a run was invoked: a Lambda function (AWS_LAMBDA_FUNCTION_NAME is set) or the local runner. */
export type JobOrigin = 'lambda' | 'runner';
export type JobOutcome = 'succeeded' | 'failed';

/** Longest error text kept (the table refuses more): the error's name and the start of its message. */
export const JOB_ERROR_MAX_CHARS = 500;

/**
 * A job that succeeds at least once a day (the nightly prune, vacuum and archive, and partitions,
 * whose work is daily though it runs hourly) is overdue 26 hours after its last success: a
 * night's run and its retries within two hours of it have all failed or never ran.
 */
const DAILY_OVERDUE_MINUTES = 26 * 60;

/**
 * Every operation (registry order), with how long after its last success it is overdue: `stats`
 * flags it and counts it in OverdueJobs. Null: no schedule (migrate runs at deploys, restore by
 * hand), never overdue. Here rather than in each definition because stats reads it and an
 * operation may not import another (or the registry); a unit test holds it to the registry: every
 * operation, and a limit exactly for those with a schedule.
 */
export const OVERDUE_AFTER_MINUTES = {
  migrate: null,
  partitions: DAILY_OVERDUE_MINUTES,
  prune: DAILY_OVERDUE_MINUTES,
  // Three runs of the 5-minute schedule missed or failed.
  stats: 15,
  vacuum: DAILY_OVERDUE_MINUTES,
  archive: DAILY_OVERDUE_MINUTES,
  restore: null,
} as const satisfies Record<string, number | null>;

export type JobName = keyof typeof OVERDUE_AFTER_MINUTES;
export const JOB_NAMES = Object.keys(OVERDUE_AFTER_MINUTES) as JobName[];
