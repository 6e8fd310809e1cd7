import type pg from 'pg';
import { JOB_NAMES, JOB_RUNS_TABLE, type JobName, type JobOrigin, type JobOutcome, OVERDUE_AFTER_MINUTES } from '../../shared/job-runs';

/** One recorded run (job_runs), as stats reports it. */
export interface JobRun {
  started_at: string;
  finished_at: string;
  outcome: JobOutcome;
  origin: JobOrigin;
  /** False for a dry run or a run skipped for a busy lock: it succeeded without doing the job. */
  did_work: boolean;
  /** The report's counts. */
  summary: Record<string, number>;
  /** A failed run's `Name: message`, its first 500 characters. */
  error: string | null;
}

/** What stats says of one operation: its last run, its last success, and whether it is overdue. */
export interface JobStatus {
  /** Null: never run (since the history began, migration 0008). */
  last_run: JobRun | null;
  /** When the newest run that succeeded and did the job finished; null: none in the history. */
  last_success_at: string | null;
  seconds_since_success: number | null;
  /** OVERDUE_AFTER_MINUTES of the operation in seconds; null: no schedule, never overdue. */
  overdue_after_seconds: number | null;
  /**
   * Its last success is older than overdue_after_seconds; without one, its oldest recorded run
   * is (it runs, and has not succeeded for that long). An operation never run is not overdue:
   * whether a deployment schedules it (prune with retention, archive with a bucket) is the
   * stack's to know, and this database cannot tell "not scheduled" from "never fired".
   */
  overdue: boolean;
}

export type JobsStats = Record<JobName, JobStatus>;

interface JobRow {
  operation: JobName;
  started_ms: number | null;
  finished_ms: number | null;
  outcome: JobOutcome | null;
  origin: JobOrigin | null;
  did_work: boolean | null;
  summary: Record<string, number> | null;
  error: string | null;
  success_ms: number | null;
  first_ms: number | null;
}

/**
 * Each operation's last run, last success and oldest recorded run: three index probes per
 * operation on (operation, started_at), the last success scanning back over at most the ~100
 * runs kept of it. The table is bounded (JOB_RUNS_KEPT per operation), so the cost stays the
 * same as data grows. Null when the history table does not exist (not migrated to 0008).
 */
export async function readJobs(client: pg.ClientBase, now: Date): Promise<JobsStats | null> {
  const { rows: present } = await client.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [JOB_RUNS_TABLE]);
  if (!present[0]?.present) return null;
  const { rows } = await client.query<JobRow>(JOBS_SQL, [JOB_NAMES]);
  return Object.fromEntries(rows.map((row) => [row.operation, jobStatus(row, now)])) as JobsStats;
}

const JOBS_SQL = `
SELECT o.operation,
       (extract(epoch FROM l.started_at) * 1000)::float8 AS started_ms, (extract(epoch FROM l.finished_at) * 1000)::float8 AS finished_ms,
       l.outcome, l.origin, l.did_work, l.summary, l.error,
       (extract(epoch FROM s.finished_at) * 1000)::float8 AS success_ms, (extract(epoch FROM f.started_at) * 1000)::float8 AS first_ms
  FROM unnest($1::text[]) WITH ORDINALITY AS o(operation, position)
  LEFT JOIN LATERAL (SELECT * FROM ${JOB_RUNS_TABLE} r WHERE r.operation = o.operation
                      ORDER BY r.started_at DESC, r.id DESC LIMIT 1) l ON true
  LEFT JOIN LATERAL (SELECT r.finished_at FROM ${JOB_RUNS_TABLE} r
                      WHERE r.operation = o.operation AND r.outcome = 'succeeded' AND r.did_work
                      ORDER BY r.started_at DESC, r.id DESC LIMIT 1) s ON true
  LEFT JOIN LATERAL (SELECT r.started_at FROM ${JOB_RUNS_TABLE} r WHERE r.operation = o.operation
                      ORDER BY r.started_at, r.id LIMIT 1) f ON true
 ORDER BY o.position`;

function jobStatus(row: JobRow, now: Date): JobStatus {
  const minutes: number | null = OVERDUE_AFTER_MINUTES[row.operation];
  const threshold = minutes === null ? null : minutes * 60;
  const secondsSince = (ms: number | null) => (ms === null ? null : Math.max(0, Math.round((now.getTime() - ms) / 1000)));
  const sinceSuccess = secondsSince(row.success_ms);
  // Without a success, how long it has run without one (the history keeps the newest success, so none is none).
  const withoutSuccess = sinceSuccess ?? secondsSince(row.first_ms);
  return {
    last_run: lastRun(row),
    last_success_at: isoOf(row.success_ms),
    seconds_since_success: sinceSuccess,
    overdue_after_seconds: threshold,
    overdue: threshold !== null && withoutSuccess !== null && withoutSuccess > threshold,
  };
}

function lastRun(row: JobRow): JobRun | null {
  if (row.started_ms === null || row.finished_ms === null || !row.outcome || !row.origin) return null;
  return {
    started_at: new Date(row.started_ms).toISOString(),
    finished_at: new Date(row.finished_ms).toISOString(),
    outcome: row.outcome,
    origin: row.origin,
    did_work: row.did_work ?? true,
    summary: row.summary ?? {},
    error: row.error,
  };
}

const isoOf = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** How many operations are overdue: the OverdueJobs metric. */
export const overdueCount = (jobs: JobsStats | null) => Object.values(jobs ?? {}).filter((job) => job.overdue).length;
