import type { MiddlewareObj, Request } from '@middy/core';
import type { Operation, OperationReport } from '../operations/registry';
import { withClient } from '../shared/db/sessions';
import { isConnectionFailure } from '../shared/db/sql-errors';
import { DatabaseUnavailableError, PerpsDbError } from '../shared/errors';
import { JOB_ERROR_MAX_CHARS, JOB_RUNS_TABLE, type JobOrigin, type JobOutcome, RECORD_JOB_RUN } from '../shared/job-runs';
import type { Logger } from '../shared/log';
import type { MetricsOptions } from '../shared/metric-names';
import type { HandlerContext } from './connection';

/** The recording's statements may take this long: it must not hold up the run's answer. */
const RECORD_STATEMENT_TIMEOUT_MS = 2_000;
/** Time the invocation must have left to record at all (a Lambda past its deadline is killed mid-statement). */
const RECORD_RESERVE_MS = 3_000;

interface JobHistoryOptions {
  origin: () => JobOrigin;
  metricsOptions: () => MetricsOptions;
  log: Logger;
}

type HistoryRequest = Request<unknown, OperationReport, Error, HandlerContext>;

/**
 * Middleware: records each run that reached the database in `job_runs` (outcome, duration, the
 * report's counts, the error's first 500 characters), after the operation and before the
 * outcome's log line. Never changes the run's result: a recording that fails is a warning, and a
 * run whose database is out of reach, or one not migrated to 0008 yet (migrate's first run
 * creates the function, then records itself), or a login that may not record this run (perps_writer
 * has no EXECUTE; perps_reader may record stats runs only) records nothing.
 */
export function jobHistory(
  operation: Operation,
  options: JobHistoryOptions,
): MiddlewareObj<unknown, OperationReport, Error, HandlerContext> {
  const started = new WeakMap<object, number>();
  const record = async (request: HistoryRequest, outcome: JobOutcome, report: OperationReport | undefined, error?: unknown) => {
    const database = request.context.database;
    if (!database || unreachable(error) || request.context.getRemainingTimeInMillis() < RECORD_RESERVE_MS) return;
    const durationMs = Math.max(0, Date.now() - (started.get(request) ?? Date.now()));
    try {
      const summary = report ? (operation.metrics(report, options.metricsOptions()).counts ?? {}) : {};
      await withClient(database.pool, async (client) => {
        await client.query('BEGIN');
        try {
          // The function's own rule too: a login outside the table's owner records stats runs only.
          const { rows } = await client.query<{ may: boolean | null }>(
            `SELECT set_config('statement_timeout', $1, true), set_config('lock_timeout', $1, true),
                    has_function_privilege(to_regprocedure($2), 'EXECUTE')
                    AND ($3 = 'stats' OR pg_has_role(session_user, (SELECT relowner FROM pg_class WHERE oid = to_regclass($4)), 'USAGE')) AS may`,
            [String(RECORD_STATEMENT_TIMEOUT_MS), RECORD_JOB_RUN, operation.id, `public.${JOB_RUNS_TABLE}`],
          );
          if (rows[0]?.may) {
            await client.query('SELECT public.record_job_run($1, $2, $3, $4, $5, $6, $7)', [
              operation.id,
              durationMs,
              outcome,
              options.origin(),
              didWork(request.context.payload, report),
              JSON.stringify(summary),
              error === undefined ? null : errorText(error),
            ]);
          }
          await client.query('COMMIT');
        } catch (failure) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw failure;
        }
      });
    } catch (failure) {
      options.log.warn(`${operation.id}: the run was not recorded in job_runs (the run itself is unaffected)`, {
        error: failure instanceof Error ? failure.message : String(failure),
      });
    }
  };
  return {
    before: (request) => {
      started.set(request, Date.now());
    },
    after: (request) => record(request, 'succeeded', request.response ?? undefined),
    onError: (request) => {
      const error = request.error;
      const report = error instanceof PerpsDbError ? (error.report as OperationReport | undefined) : undefined;
      return record(request, 'failed', report, error ?? new Error('unknown error'));
    },
  };
}

/** A dry run and a run skipped for a busy lock succeed without doing the job. */
const didWork = (payload: Record<string, unknown> | undefined, report: OperationReport | undefined) =>
  payload?.dryRun !== true && !(report && 'skipped' in report);

/** The database was out of reach: recording would only wait for the connect timeout again. */
const unreachable = (error: unknown) => error instanceof DatabaseUnavailableError || isConnectionFailure(error);

/** `Name: message`, cut to what the table keeps: messages name tables and days, never a password (URLs are shown without one). */
function errorText(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.slice(0, JOB_ERROR_MAX_CHARS);
}
