import type { ConnectionOptions } from 'node:tls';

/** How to reach the database and how the pool behaves. Built by the entry points, never from process.env here. */
export interface ConnectionSettings {
  /** postgres:// URL; `sslmode` and other parameters in it are honoured by node-postgres. */
  url: string;
  /** TLS settings; an `sslmode` in the URL takes precedence in node-postgres, so entry points strip it when setting this. */
  ssl?: false | ConnectionOptions;
  /** Shown in pg_stat_activity so a DBA can tell our sessions apart. */
  applicationName: string;
  poolMax: number;
  poolMin: number;
  /** Longest wait for a connection, including connecting. */
  acquireTimeoutMs: number;
  /** Longest wait for the first connection check: an unreachable server fails this fast. */
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  statementTimeoutMs: number;
}

/** Pool defaults of the database guide: max 10, min 2, acquire 30 s, idle 600 s. */
export const DEFAULT_CONNECTION_SETTINGS: Omit<ConnectionSettings, 'url'> = {
  applicationName: 'perps-stats-db',
  poolMax: 10,
  poolMin: 2,
  acquireTimeoutMs: 30_000,
  connectTimeoutMs: 10_000,
  idleTimeoutMs: 600_000,
  statementTimeoutMs: 300_000,
};

/** Knobs of the maintenance operations: short DDL lock waits, bounded retries, bounded batches. */
export interface MaintenanceSettings {
  /** `lock_timeout` for every DDL statement: the longest any insert can queue behind us. */
  lockTimeoutMs: number;
  /** Attempts per DDL step before that table is reported failed. */
  ddlAttempts: number;
  /** First retry delay; doubled per attempt, with full jitter. */
  retryBaseDelayMs: number;
  /** Rows per transaction when deleting or moving rows. */
  batchSize: number;
  /** Partitions of one table `prune` drops in one transaction (see dropGroup in core/prune-drops.ts). */
  dropGroupSize: number;
  /** How long `migrate` waits for a concurrent runner to finish. */
  migrateLockWaitMs: number;
  /**
   * With a deadline (Lambda), no new step starts with less time than this left: a step (one
   * migration, one partition, one delete batch) must finish before the function is killed.
   */
  deadlineReserveMs: number;
}

/**
 * Partitions of one table dropped per transaction. The commit of a DROP scans the whole buffer
 * pool once for the dropped files' pages, however many it drops, after it has released its locks:
 * with shared_buffers=2GB that scan made a partition dropped alone cost ~16 ms of prune's time,
 * ~3-6 ms in groups of 8 (measured on 2 cores, docs/performance.md). What holds inserts back is
 * the group's DROP itself, ~1.5 ms per partition, plus the commit's WAL flush: 18 ms (median; 42
 * ms at most) from a group of 8's DROP to when an insert queued behind it went through, well under
 * the 50 ms we allow. Larger groups save little more and hold longer.
 */
export const DROP_GROUP_SIZE = 8;

export const DEFAULT_MAINTENANCE_SETTINGS: MaintenanceSettings = {
  lockTimeoutMs: 1_000,
  ddlAttempts: 5,
  retryBaseDelayMs: 200,
  batchSize: 10_000,
  dropGroupSize: DROP_GROUP_SIZE,
  migrateLockWaitMs: 300_000,
  deadlineReserveMs: 30_000,
};

/**
 * A database URL as a URL object. A Unix-socket URL names no host before the path
 * (`postgres://u:p@/perps?host=/var/run/postgresql`), which the WHATWG parser refuses; libpq and
 * node-postgres (pg-connection-string) accept it, so it is read with a stand-in host, the way
 * pg-connection-string does. Throws TypeError when it is no URL at all.
 */
export function parseDatabaseUrl(url: string): URL {
  try {
    return new URL(url);
  } catch (error) {
    if (!url.includes('@/')) throw error;
    const parsed = new URL(url.replace('@/', `@${SOCKET_STAND_IN}/`));
    // Only a socket URL has a stand-in host: one with neither host nor ?host= stays refused.
    if (!parsed.searchParams.get('host')) throw error;
    return parsed;
  }
}

/** A URL from parseDatabaseUrl as text again, a socket URL without its stand-in host. */
export function databaseUrlText(parsed: URL): string {
  return parsed.toString().replace(`@${SOCKET_STAND_IN}/`, '@/');
}

/** The host parseDatabaseUrl puts in a URL that has none (a Unix socket in ?host=). */
const SOCKET_STAND_IN = 'unix-socket.invalid';

/** `postgres://user:secret@host/db` -> `postgres://user:***@host/db`, secret-named query parameters too; never throws. */
export function maskUrl(url: string): string {
  return redactUrl(url, '***');
}

/** The URL without its password and secret-named query parameters (`?password=`, `?sslpassword=`), to suggest in a command; never throws. */
export function urlWithoutSecrets(url: string): string {
  return redactUrl(url, undefined);
}

/** Query parameters that hold a secret (pg reads `password` from the query string too). */
const SECRET_PARAMETER = /pass|secret|key/i;

/** The password and secret-named query parameters replaced by `mask`, or removed without one. */
function redactUrl(url: string, mask: string | undefined): string {
  try {
    const parsed = parseDatabaseUrl(url);
    if (parsed.password) parsed.password = mask ?? '';
    for (const key of [...parsed.searchParams.keys()]) {
      if (!SECRET_PARAMETER.test(key)) continue;
      if (mask === undefined) parsed.searchParams.delete(key);
      else parsed.searchParams.set(key, mask);
    }
    return databaseUrlText(parsed);
  } catch {
    return mask === undefined ? url.replace(/(\/\/[^:/@]*):[^@]*@/, '$1@') : url.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@');
  }
}

/** `host:port/database` of a URL, for messages. */
export function describeTarget(url: string): string {
  const target = targetOf(url);
  return target ? `${target.host}:${target.port}/${target.database}` : '(unparseable URL)';
}

/** `host:port/database as user`, for the line naming a run's target; never the password. */
export function describeLogin(url: string): string {
  const user = urlParts(url)?.user;
  return `${describeTarget(url)}${user ? ` as ${user}` : ''}`;
}

/**
 * The login and the database a URL names, decoded as libpq decodes them ('' for one it leaves
 * out; libpq then takes the login's name for the database); undefined when it does not parse.
 */
export function urlParts(url: string): { user: string; database: string } | undefined {
  try {
    const parsed = parseDatabaseUrl(url);
    return { user: decodeURIComponent(parsed.username), database: decodeURIComponent(parsed.pathname.replace(/^\//, '')) };
  } catch {
    return undefined;
  }
}

/** Host, port and database of a URL, with libpq's defaults; undefined when it does not parse. */
export function targetOf(url: string): { host: string; port: string; database: string } | undefined {
  try {
    const parsed = parseDatabaseUrl(url);
    const hostname = parsed.hostname === SOCKET_STAND_IN ? '' : parsed.hostname;
    return {
      // ?host= wins over the authority, as in libpq; a socket directory is a path.
      host: parsed.searchParams.get('host') || hostname || 'localhost',
      port: parsed.searchParams.get('port') || parsed.port || '5432',
      database: urlParts(url)?.database || '(default database)',
    };
  } catch {
    return undefined;
  }
}

/** Why a database URL is unusable ("is not a URL ..."), or undefined when it looks right. Never echoes the password. */
export function urlProblem(url: string): string | undefined {
  if (url.trim() === '') return `is empty: expected ${URL_SHAPE}`;
  let parsed: URL;
  try {
    parsed = parseDatabaseUrl(url);
  } catch {
    // The URL parser only says "Invalid URL"; a port out of range is worth naming. Only digits
    // with no "@" after them are echoed: otherwise they may be part of a password with an
    // unencoded "/" in it.
    const port = /^[a-z][\w+.-]*:\/\/(?:[^/?#]*@)?(?:\[[^\]]*\]|[^:/?#@]*):(\d+)(?:[/?#][^@]*)?$/i.exec(url)?.[1];
    if (port !== undefined && !isPort(port)) return badPort(port);
    return `is not a URL (${maskUrl(url)}): expected ${URL_SHAPE}`;
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    return `must start with postgres:// or postgresql:// (got ${parsed.protocol}//)`;
  }
  if (!parsed.hostname && !parsed.searchParams.get('host')) return `has no host: expected ${URL_SHAPE}`;
  if (parsed.port === '0') return badPort('0');
  return undefined;
}

const URL_SHAPE = 'postgres://user:password@host:5432/database';

function isPort(digits: string): boolean {
  return Number(digits) >= 1 && Number(digits) <= 65_535;
}

const badPort = (digits: string) => `has a bad port ${digits}: expected a number from 1 to 65535, as in ${URL_SHAPE}`;
