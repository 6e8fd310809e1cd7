import type { MiddlewareObj, Request } from '@middy/core';
import type { Context } from 'aws-lambda';
import type pg from 'pg';
import { currentDatabase } from '../shared/catalog';
import { createPool, endPool, toUnavailableError } from '../shared/db/pool';
import { DEFAULT_CONNECTION_SETTINGS, databaseUrlText, parseDatabaseUrl } from '../shared/db/settings';
import { connectionFailure, SQLSTATE, sqlState } from '../shared/db/sql-errors';
import { PerpsDbError } from '../shared/errors';
import type { Logger } from '../shared/log';
import type { ManagedLogins } from '../shared/logins';
import { type DatabaseSecretSource, type SecretInternal, secretUrl } from './database-secret';
import type { HandlerEnvironment, SslMode } from './environment';
import { defaultSslMode, sslOptions } from './tls';

/** What the connection middleware hands the operation. */
export interface DatabaseConnection {
  pool: pg.Pool;
  /** current_database() as the server reports it. */
  database: string;
}

/** The Lambda context, plus what the middlewares put there for the invocation: the validated payload and the connection. */
export type HandlerContext = Context & { payload?: Record<string, unknown>; database?: DatabaseConnection; logins?: ManagedLogins };
/** request.internal: the secret middleware's value, when the handler reads a secret. */
export type HandlerInternal = SecretInternal;
type HandlerRequest = Request<unknown, unknown, Error, HandlerContext, HandlerInternal>;

/** What a connection is opened with: the URL node-postgres gets and the TLS mode for its `ssl` option. */
interface Target {
  url: string;
  /** Undefined: node-postgres follows the URL's own sslmode. */
  sslMode: SslMode | undefined;
}

/** URL parameters that set TLS: node-postgres lets them override the `ssl` option, so DB_SSL removes them. */
const URL_TLS_PARAMETERS = ['ssl', 'sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'uselibpqcompat'];

/**
 * A database URL and DB_SSL: with DB_SSL set, the URL's own TLS parameters give way to it
 * (node-postgres would let the URL's sslmode override the `ssl` option).
 */
function urlTarget(url: string, sslMode: SslMode | undefined): Target {
  if (!sslMode) return { url: withoutSslModeAlias(url), sslMode: undefined };
  const parsed = parseDatabaseUrl(url);
  for (const key of URL_TLS_PARAMETERS) parsed.searchParams.delete(key);
  return { url: databaseUrlText(parsed), sslMode };
}

/** The sslmodes node-postgres 8 treats as verify-full, printing a 9-line warning about it. */
const VERIFY_FULL_ALIASES = new Set(['prefer', 'require', 'verify-ca']);

/**
 * `sslmode=require` (or prefer, verify-ca) said as what node-postgres 8 does with it:
 * verify-full. The connection is the same; node-postgres's multi-line security warning, which
 * advises a URL parameter the user did not ask about, is not printed. DB_SSL=require is how to
 * encrypt without verifying (docs/configuration.md). With uselibpqcompat the URL means libpq's
 * modes and is left alone.
 */
function withoutSslModeAlias(url: string): string {
  let parsed: URL;
  try {
    parsed = parseDatabaseUrl(url);
  } catch {
    return url;
  }
  const mode = parsed.searchParams.get('sslmode');
  if (mode === null || !VERIFY_FULL_ALIASES.has(mode) || parsed.searchParams.has('uselibpqcompat')) return url;
  parsed.searchParams.set('sslmode', 'verify-full');
  return databaseUrlText(parsed);
}

export interface DatabaseConnectionOptions {
  environment: () => HandlerEnvironment;
  /** The secret's middleware, chained before this one, when the environment names a secret. */
  secret: DatabaseSecretSource | undefined;
  /** application_name in pg_stat_activity. */
  applicationName: () => string;
  log: Logger;
}

/**
 * Middleware: gives the operation one pool (max 1 connection), kept at module scope so it
 * survives warm invocations. With DB_SECRET_ARN the credentials come from the secret middleware
 * chained before this one; a password refused by the server (28P01, after a rotation) fetches
 * the secret again once and reconnects. With DATABASE_URL no AWS call is made. Each invocation
 * checks the connection first, so a connection broken while the function was frozen is
 * replaced, not reported as a failure.
 */
export function databaseConnection(
  options: DatabaseConnectionOptions,
): MiddlewareObj<unknown, unknown, Error, HandlerContext, HandlerInternal> & { close(): Promise<void> } {
  const pool = new ReusablePool(options);
  const databaseConnectionBefore = async (request: HandlerRequest) => {
    const environment = options.environment();
    const { source } = environment;
    if (source.kind === 'url') {
      request.context.database = await connect(pool, urlTarget(source.url, environment.ssl), environment);
      return;
    }
    if (!options.secret) throw new Error('the database secret middleware is not chained before the connection');
    request.context.database = await connectWithSecret(request, pool, options.secret, environment, options.log);
  };
  return { before: databaseConnectionBefore, close: () => pool.close() };
}

/**
 * Connects with the secret's credentials. Whatever went wrong may be fixed in the secret
 * (content, host, password), so a failure drops the cached copy: the next invocation reads it
 * again instead of failing on it until a cold start. A refused password is read again at once.
 */
async function connectWithSecret(
  request: HandlerRequest,
  pool: ReusablePool,
  secret: DatabaseSecretSource,
  environment: HandlerEnvironment,
  log: Logger,
): Promise<DatabaseConnection> {
  try {
    return await connectToSecret(request, pool, secret, environment);
  } catch (error) {
    secret.forget();
    if (!isPasswordRefused(error)) throw error;
    log.warn('the database refused the secret password: fetching the secret again (rotated?)', { secret: secret.secretArn });
  }
  try {
    await secret.refetch(request);
    return await connectToSecret(request, pool, secret, environment);
  } catch (retryError) {
    secret.forget();
    throw retryError;
  }
}

/** The secret's host gets verify-full TLS unless DB_SSL says otherwise (loopback: none). */
async function connectToSecret(
  request: HandlerRequest,
  pool: ReusablePool,
  secret: DatabaseSecretSource,
  environment: HandlerEnvironment,
): Promise<DatabaseConnection> {
  const value = await secret.read(request);
  return connect(pool, { url: secretUrl(value), sslMode: environment.ssl ?? defaultSslMode(value.host) }, environment);
}

/** Opens (or reuses) the pool for the target and checks it with one round trip. */
async function connect(pool: ReusablePool, target: Target, environment: HandlerEnvironment): Promise<DatabaseConnection> {
  const opened = await pool.open(target, environment);
  try {
    return { pool: opened, database: await checkedDatabaseName(opened) };
  } catch (error) {
    throw toUnavailableError(error, target.url, environment.connectTimeoutMs);
  }
}

/** The one pool of a handler, replaced when the target changes (a rotated password, an edited secret). */
class ReusablePool {
  private pool: pg.Pool | undefined;
  private url: string | undefined;
  private ending: Promise<void> = Promise.resolve();

  constructor(private readonly options: Pick<DatabaseConnectionOptions, 'applicationName' | 'log'>) {}

  async open(target: Target, environment: HandlerEnvironment): Promise<pg.Pool> {
    if (this.pool && this.url === target.url) return this.pool;
    await this.close();
    this.url = target.url;
    this.pool = createPool(
      {
        ...DEFAULT_CONNECTION_SETTINGS,
        url: target.url,
        // Built with the pool, not per invocation: the trust list is a few hundred certificates.
        ssl: target.sslMode && sslOptions(target.sslMode, environment.sslCaFile),
        applicationName: this.options.applicationName(),
        poolMax: 1,
        poolMin: 0,
        acquireTimeoutMs: environment.connectTimeoutMs,
        connectTimeoutMs: environment.connectTimeoutMs,
        statementTimeoutMs: environment.statementTimeoutMs,
      },
      this.options.log,
    );
    return this.pool;
  }

  /** Resolves once the server has closed the pool's connections; a second close meanwhile waits for the same. */
  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    this.url = undefined;
    if (pool) this.ending = endPool(pool).catch(() => undefined);
    await this.ending;
  }
}

/** One round trip; a connection that died while idle (frozen function, failover) is replaced once. */
async function checkedDatabaseName(pool: pg.Pool): Promise<string> {
  try {
    return await currentDatabase(pool);
  } catch (error) {
    if (connectionFailure(error) !== 'lost') throw error;
    return currentDatabase(pool);
  }
}

function isPasswordRefused(error: unknown): boolean {
  return sqlState(error instanceof PerpsDbError ? error.cause : error) === SQLSTATE.invalidPassword;
}
