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
