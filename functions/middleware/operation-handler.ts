import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import middy, { type MiddyfiedHandler } from '@middy/core';
import type { OperationContext } from '../core/context';
import type { Logger, ProgressReporter } from '../core/log';
import { type OperationId, type OperationReport, type OperationRequest, runOperation } from '../core/operations';
import { databaseConnection, type OperationLambdaContext } from './connection';
import { type HandlerEnvironment, parseHandlerEnvironment } from './environment';
import { validateEvent } from './event';
import { createLambdaMetrics, DEFAULT_METRICS_NAMESPACE, handlerLogger } from './observability';
import { recordOutcome } from './outcome';

export interface OperationHandlerOptions {
  /** Defaults to process.env, read once: a Lambda's environment is fixed for its lifetime. */
  env?: Record<string, string | undefined>;
  /** Defaults to Powertools Logger (JSON lines with the Lambda context). */
  log?: Logger;
  /** Defaults to Powertools Metrics (EMF on stdout). */
  metrics?: Metrics;
  progress?: ProgressReporter;
  now?: () => Date;
}

export type OperationHandler = MiddyfiedHandler<unknown, OperationReport, Error, OperationLambdaContext> & {
  /** Ends the module-scope pool: for the local runner and tests, which must let the process exit. */
  close(): Promise<void>;
};

/** application_name is cut at 63 bytes by the server. */
const APPLICATION_NAME_MAX = 63;

/**
 * The Lambda handler of one operation: Powertools context -> outcome log and metrics ->
 * environment and payload validation -> connection (secret or URL) -> the core operation. Every
 * handler folder and the local runner build theirs here, so they run the same chain.
 */
export function createOperationHandler(operation: OperationId, options: OperationHandlerOptions = {}): OperationHandler {
  // Parsed once at cold start; a bad value fails every invocation with the same clear error
  // rather than the import (an import failure reaches the caller as Runtime.ImportModuleError).
  let environmentError: unknown;
  let parsed: HandlerEnvironment | undefined;
  try {
    parsed = parseHandlerEnvironment(options.env ?? process.env);
  } catch (error) {
    environmentError = error;
  }
  const environment = (): HandlerEnvironment => {
    if (!parsed) throw environmentError;
    return parsed;
  };

  const { log, powertools } = handlerLogger(operation, options.log);
  const metrics = options.metrics ?? createLambdaMetrics(parsed?.metricsNamespace ?? DEFAULT_METRICS_NAMESPACE);
  const connection = databaseConnection({
    environment,
    applicationName: () => (environment().functionName ?? `perps-stats-db/${operation}`).slice(0, APPLICATION_NAME_MAX),
    log,
  });

  const handler = middy<unknown, OperationReport, Error, OperationLambdaContext>();
  if (powertools) handler.use(injectLambdaContext(powertools, { resetKeys: true }));
  handler
    .use(recordOutcome(operation, log, metrics))
    .use(validateEvent(operation, () => environment().defaults))
    .use(connection)
    .handler(async (event, context) => {
      if (!context.database) throw new Error('the connection middleware did not run');
      const ctx: OperationContext = {
        pool: context.database.pool,
        log,
        now: options.now ?? (() => new Date()),
        settings: environment().maintenance,
        progress: options.progress,
        timeLeftMs: () => context.getRemainingTimeInMillis(),
      };
      return runOperation(ctx, { operation, event } as OperationRequest);
    });
  return Object.assign(handler, { close: connection.close });
}
