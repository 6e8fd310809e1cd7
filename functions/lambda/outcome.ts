import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { MiddlewareObj, Request } from '@middy/core';
import type { Operation, OperationReport } from '../operations/registry';
import { PerpsDbError } from '../shared/errors';
import type { Logger } from '../shared/log';
import type { MetricsOptions } from '../shared/metric-names';
import { publishOutcomeMetrics, publishReportMetrics } from './metrics';

/**
 * Logs the end of every invocation once, with the report (per-symbol detail lives there, not in
 * metrics), and publishes its metrics. On failure the log line
 * carries the error and the report so far; the error itself is left for middy to rethrow, so
 * the invocation fails and the function's retry or failure destination applies.
 */
export function recordOutcome(operation: Operation, log: Logger, metrics: Metrics, options: () => MetricsOptions): MiddlewareObj {
  const started = new WeakMap<Request, number>();
  const elapsed = (request: Request) => Date.now() - (started.get(request) ?? Date.now());

  const recordOutcomeBefore = (request: Request) => {
    started.set(request, Date.now());
  };
  const recordOutcomeAfter = (request: Request) => {
    const report = request.response as OperationReport;
    const durationMs = elapsed(request);
    log.info(`${operation.id} finished`, { duration_ms: durationMs, report });
    const { counts, ...perTable } = operation.metrics(report, options());
    publishOutcomeMetrics(metrics, operation.id, 'success', counts);
    publishReportMetrics(metrics, perTable);
  };
  const recordOutcomeOnError = (request: Request) => {
    const error = request.error;
    // An operation's errors carry its own report so far.
    const report = error instanceof PerpsDbError ? (error.report as OperationReport | undefined) : undefined;
    const durationMs = elapsed(request);
    log.error(`${operation.id} failed`, {
      duration_ms: durationMs,
      error: {
        name: error?.name ?? 'Error',
        message: error?.message ?? String(error),
        retryable: error instanceof PerpsDbError && error.retryable,
      },
      ...(report ? { report } : {}),
    });
    publishOutcomeMetrics(metrics, operation.id, 'failure', report && operation.metrics(report, options()).counts);
  };
  return { before: recordOutcomeBefore, after: recordOutcomeAfter, onError: recordOutcomeOnError };
}
