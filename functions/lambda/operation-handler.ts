import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import middy, { type MiddlewareObj, type MiddyfiedHandler } from '@middy/core';
import type { Operation, OperationReport } from '../operations/registry';
import type { OperationContext } from '../shared/context';
import { assertPrivileges, toPrivilegeError } from '../shared/db/privileges';
import type { Logger } from '../shared/log';
import { DEFAULT_METRICS_NAMESPACE, DEFAULT_METRICS_OPTIONS } from '../shared/metric-names';
import type { ProgressReporter } from '../shared/progress';
import { databaseConnection, type HandlerContext, type HandlerInternal } from './connection';
import { databaseSecretSource } from './database-secret';
import { type HandlerEnvironment, parseHandlerEnvironment } from './environment';
import { validatePayload } from './event';
import { jobHistory } from './job-history';
import { loginSecretsSource } from './login-secrets';
import { createLambdaMetrics, handlerLogger } from './observability';
import { recordOutcome } from './outcome';
import { progressLog } from './progress-log';

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

export type OperationHandler = MiddyfiedHandler<unknown, OperationReport, Error, HandlerContext, HandlerInternal> & {
  /** Ends the module-scope pool, resolving once the server has closed its connection: for the local runner and tests, which must let the process exit. */
  close(): Promise<void>;
};

/** application_name is cut at 63 bytes by the server. */
const APPLICATION_NAME_MAX = 63;

/**
 * The Lambda handler of one registry entry: Powertools context -> outcome log and metrics ->
 * environment and payload validation -> the database secret (with DB_SECRET_ARN) -> connection
 * -> the operation. Every bundle and the local runner build theirs here, so they run the same chain.
 */
export function createOperationHandler(operation: Operation, options: OperationHandlerOptions = {}): OperationHandler {
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

  const { log, powertools } = handlerLogger(operation.id, options.log);
  const metrics = options.metrics ?? createLambdaMetrics(parsed?.metricsNamespace ?? DEFAULT_METRICS_NAMESPACE);
  const secret = parsed?.source.kind === 'secret' ? databaseSecretSource(parsed.source.secretArn) : undefined;
  const connection = databaseConnection({
    environment,
    secret,
    applicationName: () => (environment().functionName ?? `perps-stats-db/${operation.id}`).slice(0, APPLICATION_NAME_MAX),
    log,
  });

  const handler = middy<unknown, OperationReport, Error, HandlerContext, HandlerInternal>();
  if (powertools) handler.use(injectLambdaContext(powertools, { resetKeys: true }));
  const now = options.now ?? (() => new Date());
  handler
    .use(recordOutcome(operation, log, metrics, () => parsed?.metricsOptions ?? DEFAULT_METRICS_OPTIONS))
    .use(validatePayload(operation, () => environment().defaults[operation.id] ?? {}));
  // Input the database has no say in is refused before connecting.
  handler.use({
    before: async (request) => {
      if (request.context.payload) await operation.preflight?.(request.context.payload, { archive: environment().archive, now: now() });
    },
  });
  if (secret) handler.use(secret.middleware);
  for (const middleware of loginSecretsChain(operation, parsed)) handler.use(middleware);
  handler.use(connection);
  // After the connection: its `after` and `onError` run first, with the run's report or error.
  handler.use(
    jobHistory(operation, {
      origin: () => (parsed?.functionName ? 'lambda' : 'runner'),
      metricsOptions: () => parsed?.metricsOptions ?? DEFAULT_METRICS_OPTIONS,
      log,
    }),
  );
  handler.handler(async (_event, context) => {
    const { payload, database } = context;
    if (!payload || !database) throw new Error('the payload and connection middlewares did not run');
    const ctx: OperationContext = {
      pool: database.pool,
      log,
      now,
      settings: environment().maintenance,
      archive: environment().archive,
      progress: options.progress ?? progressLog(log),
      timeLeftMs: () => context.getRemainingTimeInMillis(),
      logins: context.logins,
    };
    const needs = operation.runsAs ?? 'owner';
    await assertPrivileges(database.pool, operation.id, needs);
    try {
      return await operation.run(ctx, payload);
    } catch (error) {
      throw toPrivilegeError(error, operation.id, needs);
    }
  });
  return Object.assign(handler, { close: connection.close });
}

type HandlerMiddleware = MiddlewareObj<unknown, OperationReport, Error, HandlerContext, HandlerInternal>;

/** migrate's login secrets, when the environment names them: fetched, checked, and put on the context. */
function loginSecretsChain(operation: Operation, environment: HandlerEnvironment | undefined): HandlerMiddleware[] {
  if (operation.id !== 'migrate' || !environment || Object.keys(environment.loginSecrets).length === 0) return [];
  const source = loginSecretsSource(environment.loginSecrets);
  const readLogins: HandlerMiddleware = {
    before: async (request) => {
      request.context.logins = await source.read(request as never);
    },
  };
  return [source.middleware as unknown as HandlerMiddleware, readLogins];
}
