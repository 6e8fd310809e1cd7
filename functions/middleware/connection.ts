import type { MiddlewareObj, Request } from '@middy/core';
import secretsManager from '@middy/secrets-manager';
import { clearCache, getInternal } from '@middy/util';
import type { Context } from 'aws-lambda';
import type pg from 'pg';
import { currentDatabase } from '../core/catalog';
import { createPool, toUnavailableError } from '../core/db/pool';
import { isConnectionLost } from '../core/db/sessions';
import { DEFAULT_CONNECTION_SETTINGS } from '../core/db/settings';
import { DatabaseUnavailableError, PerpsDbError } from '../core/errors';
import type { Logger } from '../core/log';
import { parseDatabaseSecret, secretUrl } from './database-secret';
import type { HandlerEnvironment, SslMode } from './environment';
import { defaultSslMode, sslOptions } from './tls';

/** What the connection middleware hands the operation. */
export interface DatabaseConnection {
  pool: pg.Pool;
  /** current_database() as the server reports it. */
  database: string;
}

/** The Lambda context, plus the connection this middleware opened for the invocation. */
export type OperationLambdaContext = Context & { database?: DatabaseConnection };
type OperationRequest = Request<unknown, unknown, Error, OperationLambdaContext>;

/** What a connection is opened with: the URL node-postgres gets and the TLS mode for its `ssl` option. */
export interface Target {
  url: string;
  /** Undefined: node-postgres follows the URL's own sslmode. */
  sslMode: SslMode | undefined;
}

/** URL parameters that set TLS: node-postgres lets them override the `ssl` option, so DB_SSL removes them. */
const URL_TLS_PARAMETERS = ['ssl', 'sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'uselibpqcompat'];

/**
 * The URL without its TLS parameters, for a connection whose `ssl` option comes from DB_SSL:
 * node-postgres would let the URL's sslmode override it. Every connection made under DB_SSL
 * (the pool here, the runner's truncate confirmation) must go through this.
 */
function withoutTlsParameters(url: string): string {
  const parsed = new URL(url);
  for (const key of URL_TLS_PARAMETERS) parsed.searchParams.delete(key);
  return parsed.toString();
}

/** A database URL and DB_SSL: with DB_SSL set, the URL's own TLS parameters give way to it. */
export function urlTarget(url: string, sslMode: SslMode | undefined): Target {
  return sslMode ? { url: withoutTlsParameters(url), sslMode } : { url, sslMode: undefined };
}

/** Secrets Manager calls must end in bounded time: an unreachable endpoint fails the run within seconds. */
const SECRETS_CLIENT_OPTIONS = {
  maxAttempts: 2,
  requestHandler: { connectionTimeout: 3_000, requestTimeout: 5_000, throwOnRequestTimeout: true },
};

const SECRET_KEY = 'databaseSecret';

/** @middy/util cache key of one secret, so a failed connection can drop exactly that entry. */
const secretCacheKey = (secretArn: string) => `secrets-manager:${secretArn}`;

export interface DatabaseConnectionOptions {
  environment: () => HandlerEnvironment;
  /** application_name in pg_stat_activity. */
  applicationName: () => string;
  log: Logger;
}

/**
 * Middleware: gives the operation one pool (max 1 connection), kept at module scope so it
 * survives warm invocations. With DB_SECRET_ARN the credentials come from Secrets Manager
 * through @middy/secrets-manager (fetched on first use, cached across invocations); a password
 * refused by the server (28P01, after a rotation) refetches the secret once and reconnects.
 * With DATABASE_URL no AWS call is made. Each invocation checks the connection first, so a
 * connection broken while the function was frozen is replaced, not reported as a failure.
 */
export function databaseConnection(
  options: DatabaseConnectionOptions,
): MiddlewareObj<unknown, unknown, Error, OperationLambdaContext> & { close(): Promise<void> } {
  let pool: pg.Pool | undefined;
  let poolUrl: string | undefined;
  // Typed loosely: the middleware is generic over its own request shape and only writes request.internal.
  let secrets: { before?: (request: never) => unknown } | undefined;

  const secretsMiddleware = (secretArn: string) => {
    secrets ??= secretsManager({
      fetchData: { [SECRET_KEY]: secretArn },
      cacheKey: secretCacheKey(secretArn),
      cacheExpiry: -1,
      // Prefetching would call AWS at import; the first invocation fetches instead.
      disablePrefetch: true,
      awsClientOptions: SECRETS_CLIENT_OPTIONS,
    });
    return secrets;
  };

  const resolveTarget = async (request: OperationRequest, environment: HandlerEnvironment): Promise<Target> => {
    if (environment.source.kind === 'url') return urlTarget(environment.source.url, environment.ssl);
    const { secretArn } = environment.source;
    await secretsMiddleware(secretArn).before?.(request as never);
    let value: unknown;
    try {
      value = ((await getInternal([SECRET_KEY], request)) as Record<string, unknown>)[SECRET_KEY];
    } catch (error) {
      throw new DatabaseUnavailableError(`cannot read the database secret ${secretArn}: ${describeAwsError(error)}`, { cause: error });
    }
    const secret = parseDatabaseSecret(value, secretArn);
    return { url: secretUrl(secret), sslMode: environment.ssl ?? defaultSslMode(secret.host) };
  };

  const openPool = async (target: Target, environment: HandlerEnvironment): Promise<pg.Pool> => {
    if (pool && poolUrl === target.url) return pool;
    await pool?.end().catch(() => undefined);
    poolUrl = target.url;
    pool = createPool(
      {
        ...DEFAULT_CONNECTION_SETTINGS,
        url: target.url,
        // Built with the pool, not per invocation: the trust list is a few hundred certificates.
        ssl: target.sslMode && sslOptions(target.sslMode, environment.sslCaFile),
        applicationName: options.applicationName(),
        poolMax: 1,
        poolMin: 0,
        acquireTimeoutMs: environment.connectTimeoutMs,
        connectTimeoutMs: environment.connectTimeoutMs,
        statementTimeoutMs: environment.statementTimeoutMs,
      },
      options.log,
    );
    return pool;
  };

  const connect = async (request: OperationRequest, environment: HandlerEnvironment): Promise<DatabaseConnection> => {
    const target = await resolveTarget(request, environment);
    const opened = await openPool(target, environment);
    try {
      return { pool: opened, database: await checkedDatabaseName(opened) };
    } catch (error) {
      throw toUnavailableError(error, target.url);
    }
  };

  const databaseConnectionBefore = async (request: OperationRequest) => {
    const environment = options.environment();
    if (environment.source.kind === 'url') {
      request.context.database = await connect(request, environment);
      return;
    }
    const { secretArn } = environment.source;
    const forgetSecret = () => clearCache([secretCacheKey(secretArn)]);
    try {
      request.context.database = await connect(request, environment);
    } catch (error) {
      // Whatever went wrong may be fixed in the secret (content, host, password): the next
      // invocation reads it again instead of failing on the cached copy until a cold start.
      forgetSecret();
      if (!isPasswordRefused(error)) throw error;
      options.log.warn('the database refused the secret password: fetching the secret again (rotated?)', { secret: secretArn });
      try {
        request.context.database = await connect(request, environment);
      } catch (retryError) {
        forgetSecret();
        throw retryError;
      }
    }
  };

  return {
    before: databaseConnectionBefore,
    async close() {
      await pool?.end().catch(() => undefined);
      pool = undefined;
      poolUrl = undefined;
    },
  };
}

/** One round trip; a connection that died while idle (frozen function, failover) is replaced once. */
async function checkedDatabaseName(pool: pg.Pool): Promise<string> {
  try {
    return await currentDatabase(pool);
  } catch (error) {
    if (!isConnectionLost(error)) throw error;
    return currentDatabase(pool);
  }
}

function isPasswordRefused(error: unknown): boolean {
  const cause = error instanceof PerpsDbError ? error.cause : error;
  return (cause as { code?: unknown })?.code === '28P01';
}

/** The SDK's error names say what went wrong (ResourceNotFoundException, AccessDeniedException, ...). */
function describeAwsError(error: unknown): string {
  const causes = (error as { cause?: { data?: unknown[] } })?.cause?.data ?? [error];
  return causes.map((cause) => (cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause))).join('; ');
}
