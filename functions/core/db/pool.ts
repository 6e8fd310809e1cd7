import pg from 'pg';
import { DatabaseUnavailableError } from '../errors';
import type { Logger } from '../log';
import { type ConnectionSettings, describeTarget, targetOf } from './settings';

/** SQLSTATE classes and codes that mean "cannot connect / not allowed in", not "bad query". */
const UNAVAILABLE_CODES = new Set(['28P01', '28000', '3D000', '57P03', '53300', '08001', '08006']);
const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH']);

export function createPool(settings: ConnectionSettings, log: Logger): pg.Pool {
  const pool = new pg.Pool({
    connectionString: settings.url,
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
  });
  // An idle client dying (server restart, failover) must not crash the process.
  pool.on('error', (error) => log.warn('idle database connection failed', { error: error.message }));
  return pool;
}

/** True when an error says the database is unreachable or refused us. */
export function isUnavailableError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || NETWORK_ERRORS.has(code) || isTlsCertificateCode(code))) return true;
  const message = error instanceof Error ? error.message : '';
  return /timeout expired|timeout exceeded when trying to connect|Connection terminated|does not support SSL|self[- ]signed|certificate/i.test(
    message,
  );
}

/** Node's TLS error codes for a certificate chain that does not lead to a trusted CA. */
const UNTRUSTED_CERTIFICATE_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
]);

function isTlsCertificateCode(code: string): boolean {
  return UNTRUSTED_CERTIFICATE_CODES.has(code) || code === 'ERR_TLS_CERT_ALTNAME_INVALID';
}

/**
 * What to do about a connection failure. The generic advice (server running? URL, user,
 * password?) sends a reader the wrong way when TLS is what failed, so each TLS failure gets its own.
 */
function adviceFor(error: unknown, host: string): string {
  const code = (error as { code?: unknown })?.code;
  const message = error instanceof Error ? error.message : '';
  if (typeof code === 'string' && UNTRUSTED_CERTIFICATE_CODES.has(code)) {
    return (
      `The server's TLS certificate could not be verified (${code}): trust the CA that signed it with ` +
      'DB_SSL_CA_FILE=/path/to/ca.pem (or sslrootcert= in the URL); DB_SSL=require encrypts without verifying, ' +
      'only for a network you trust.'
    );
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return (
      `The server's TLS certificate is not issued for the host name ${host}: connect with a host name the ` +
      'certificate names (for RDS, the instance or cluster endpoint, not an IP address or an alias).'
    );
  }
  if (/does not support SSL/i.test(message)) {
    return 'The server does not accept TLS connections: enable ssl on the server, or set DB_SSL=disable on a network you trust.';
  }
  // Older servers say "SSL off", newer ones "no encryption".
  if (code === '28000' && /no encryption|SSL off/i.test(message)) {
    return 'The server accepts this user only over TLS: set DB_SSL=verify-full (or sslmode in the URL).';
  }
  return 'Check that the server is running and the URL, user and password are right.';
}

/**
 * Turns a connection failure into a DatabaseUnavailableError naming host, port and database
 * (never the password) and saying what to do; other errors pass through unchanged.
 */
export function toUnavailableError(error: unknown, url: string): unknown {
  if (!isUnavailableError(error)) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new DatabaseUnavailableError(
    `cannot connect to ${describeTarget(url)}: ${reason}. ${adviceFor(error, targetOf(url)?.host ?? '(unparseable URL)')}`,
    {
      cause: error,
    },
  );
}

/**
 * Connects once, outside the pool, and asks for the database name, so an unreachable database
 * fails within `timeoutMs` with a clear message even though the pool may wait longer for a
 * connection under load. `ssl` is the same option the pool gets (DB_SSL, DB_SSL_CA_FILE): without
 * it the check connects the way the URL alone says, which may be without TLS.
 */
export async function verifyConnection(url: string, timeoutMs: number, ssl?: ConnectionSettings['ssl']): Promise<string> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs, ...(ssl === undefined ? {} : { ssl }) });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ name: string }>('SELECT current_database() AS name');
    return rows[0]?.name ?? '';
  } catch (error) {
    throw toUnavailableError(error, url);
  } finally {
    await client.end().catch(() => undefined);
  }
}
