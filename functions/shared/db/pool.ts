import pg from 'pg';
import { parse as parseConnectionString } from 'pg-connection-string';
import { DatabaseUnavailableError, InsufficientPrivilegeError } from '../errors';
import type { Logger } from '../log';
import { shellWord } from '../printable';
import { quoteIdent } from './identifiers';
import { type ConnectionSettings, describeLogin, describeTarget, targetOf, urlParts } from './settings';
import {
  CONNECT_TIMEOUT_MESSAGE,
  errorCode,
  HOST_NAME_MISMATCH_CODE,
  isConnectionFailure,
  SQLSTATE,
  sqlState,
  UNTRUSTED_CERTIFICATE_CODES,
} from './sql-errors';

/**
 * node-postgres's settings from a database URL, as node-postgres reads it (pg-connection-string;
 * what the URL says wins over `options`, as with `connectionString`), except the database name:
 * pg-connection-string decodes the path with decodeURI, which leaves `%3B`, `%23`, `%3F`, `%2F`
 * ... encoded, so `/a%3Bb` asked the server for database "a%3Bb" while libpq, psql and our
 * messages read "a;b". The name is decoded as libpq decodes it. A URL it cannot read is passed
 * on as `connectionString`, for node-postgres to report when connecting.
 */
export function connectionConfig(url: string, options: pg.ClientConfig = {}): pg.ClientConfig {
  let parsed: ReturnType<typeof parseConnectionString>;
  let path: string;
  try {
    parsed = parseConnectionString(url);
    path = urlParts(url)?.database ?? '';
  } catch {
    return { ...options, connectionString: url };
  }
  const fromUrl = Object.fromEntries(Object.entries(parsed).filter(([, value]) => value !== null && value !== undefined));
  return { ...options, ...(fromUrl as pg.ClientConfig), ...(path ? { database: path } : {}) };
}

/** Each pool's connect timeout, for the message of a connect that timed out. */
const poolTimeouts = new WeakMap<pg.Pool, number>();

/** The connect timeout `pool` was made with (undefined for a pool createPool did not make). */
export function connectTimeoutOfPool(pool: pg.Pool): number | undefined {
  return poolTimeouts.get(pool);
}

/** The URL each pool was made from, for the messages of connection failures. */
const poolUrls = new WeakMap<pg.Pool, string>();

/** The URL `pool` connects to ('' for a pool createPool did not make). */
export function urlOfPool(pool: pg.Pool): string {
  return poolUrls.get(pool) ?? '';
}

export function createPool(settings: ConnectionSettings, log: Logger): pg.Pool {
  const options: pg.PoolConfig = {
    ...(settings.ssl === undefined ? {} : { ssl: settings.ssl }),
    max: settings.poolMax,
    min: settings.poolMin,
    connectionTimeoutMillis: settings.acquireTimeoutMs,
    idleTimeoutMillis: settings.idleTimeoutMs,
    application_name: settings.applicationName,
    statement_timeout: settings.statementTimeoutMs,
    // node-postgres parses timestamps only in ISO output; a database or role set to another
    // DateStyle must not turn our dates into nulls.
    options: '-c DateStyle=ISO,MDY',
    // TCP keepalive: a connection that died silently (a frozen Lambda, a dropped NAT entry) is
    // noticed by the socket instead of hanging the next query.
    keepAlive: true,
    keepAliveInitialDelayMillis: 30_000,
  };
  const pool = new pg.Pool(connectionConfig(settings.url, options) as pg.PoolConfig);
  poolUrls.set(pool, settings.url);
  poolTimeouts.set(pool, settings.acquireTimeoutMs);
  trackOpenClients(pool);
  // An idle client dying (server restart, failover) must not crash the process.
  pool.on('error', (error) => log.warn('idle database connection failed', { error: error.message }));
  return pool;
}

/** The clients of each pool whose connection is not closed yet (createPool's pools only). */
const openClients = new WeakMap<pg.Pool, Set<pg.Client>>();

function trackOpenClients(pool: pg.Pool): void {
  const open = new Set<pg.Client>();
  openClients.set(pool, open);
  pool.on('connect', (client) => {
    open.add(client);
    client.once('end', () => open.delete(client));
  });
}

/**
 * Ends `pool` and resolves once every connection it opened is closed. pg's Pool.end resolves as
 * soon as it has told its clients to end (Terminate sent), while the server may not have read
 * it yet: a session ended then by someone else (DROP DATABASE's cleanup, a failover) answers
 * with an error that the pool, still listening, reports as a failed idle connection.
 */
export async function endPool(pool: pg.Pool): Promise<void> {
  await pool.end();
  const closing = [...(openClients.get(pool) ?? [])].map((client) => new Promise((resolve) => client.once('end', resolve)));
  await Promise.all(closing);
}

/**
 * What to do about a connection failure. The generic advice (server running? URL, user,
 * password?) sends a reader the wrong way when TLS or the database name is what failed, so each
 * of those gets its own.
 */
function adviceFor(error: unknown, url: string, connectTimeoutMs: number | undefined): string {
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : '';
  const { host, port, database } = targetOf(url) ?? { host: '(unparseable URL)', port: '5432', database: '' };
  if (CONNECT_TIMEOUT_MESSAGE.test(message)) {
    const limit = connectTimeoutMs === undefined ? '' : ` (${connectTimeoutMs} ms)`;
    return (
      `${host}:${port} did not answer within DB_CONNECT_TIMEOUT_MS${limit}: a firewall dropping the packets, or something ` +
      'on that port that is not PostgreSQL or is stuck; check the host and port, or raise DB_CONNECT_TIMEOUT_MS for a slow network.'
    );
  }
  if (sqlState(error) === SQLSTATE.unknownDatabase) {
    return (
      `The server is up, but has no database ${database}: create it with \`createdb -h ${shellWord(host)} -p ${port} ${shellWord(database)}\` ` +
      `or CREATE DATABASE (as a user allowed to create databases), then run \`init\`; or fix the database name in the URL.`
    );
  }
  if (code !== undefined && UNTRUSTED_CERTIFICATE_CODES.has(code)) {
    return (
      `The server's TLS certificate could not be verified (${code}): trust the CA that signed it with ` +
      'DB_SSL_CA_FILE=/path/to/ca.pem (or sslrootcert= in the URL); DB_SSL=require encrypts without verifying, ' +
      'only for a network you trust.'
    );
  }
  if (code === HOST_NAME_MISMATCH_CODE) {
    return (
      `The server's TLS certificate is not issued for the host name ${host}: connect with a host name the ` +
      'certificate names (for RDS, the instance or cluster endpoint, not an IP address or an alias).'
    );
  }
  if (/does not support SSL/i.test(message)) {
    return 'Enable ssl on the server, or set DB_SSL=disable (or sslmode=disable in the URL) on a network you trust.';
  }
  // Older servers say "SSL off", newer ones "no encryption".
  if (sqlState(error) === SQLSTATE.invalidAuthorization && /no encryption|SSL off/i.test(message)) {
    return 'The server accepts this user only over TLS: set DB_SSL=verify-full (or sslmode in the URL).';
  }
  if ((code === 'ENOENT' || code === 'ENOTDIR') && host.startsWith('/')) {
    return `No server socket is there: check that the server is running and that host= names its socket directory (the server's unix_socket_directories) and port= its port.`;
  }
  if (code === 'EACCES' && host.startsWith('/')) {
    return `This user may not open the server's socket in ${host}: run as a user the socket's directory and file let in, or connect over TCP.`;
  }
  return 'Check that the server is running and the URL, user and password are right.';
}

/**
 * Connecting needs CONNECT on the database; once migrate has revoked it from PUBLIC, only
 * perps_reader, perps_writer, the owner and superusers hold it (see role-grants.ts).
 */
function noConnectError(error: unknown, url: string): InsufficientPrivilegeError {
  const reason = error instanceof Error ? error.message : String(error);
  const { user: login = '', database = '' } = urlParts(url) ?? {};
  const who = login ? quoteIdent(login) : '<login>';
  // No database in the URL: libpq connects to the one named like the login.
  const target = database || login;
  const grantOn = target ? quoteIdent(target) : '<database>';
  return new InsufficientPrivilegeError(
    `cannot connect to ${describeLogin(url)}: ${reason}. Only perps_reader, perps_writer and the owner may connect (see README, Roles): ` +
      `make the login a member of one (GRANT perps_reader TO ${who}), or have the owner run GRANT CONNECT ON DATABASE ${grantOn} TO ${who}`,
    { cause: error },
  );
}

/**
 * Turns a connection failure into a DatabaseUnavailableError naming host, port and database
 * (never the password) and saying what to do, and a login refused for lack of CONNECT on the
 * database into an InsufficientPrivilegeError; other errors pass through unchanged.
 */
export function toUnavailableError(error: unknown, url: string, connectTimeoutMs?: number): unknown {
  if (sqlState(error) === SQLSTATE.insufficientPrivilege) return noConnectError(error, url);
  if (!isConnectionFailure(error)) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new DatabaseUnavailableError(
    `cannot connect to ${describeTarget(url)}: ${reason.replace(/\.$/, '')}. ${adviceFor(error, url, connectTimeoutMs)}`,
    {
      cause: error,
    },
  );
}
