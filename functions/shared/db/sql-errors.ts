/**
 * What a database error means, in one place: the SQLSTATEs the maintenance code reacts to, by
 * name, and the one classification of connection failures.
 */

/** The SQLSTATEs we react to (PostgreSQL, Appendix A). */
export const SQLSTATE = {
  /** 28P01: the password was refused (after a rotation, the secret is read again). */
  invalidPassword: '28P01',
  /** 28000: no pg_hba.conf entry, or TLS required. */
  invalidAuthorization: '28000',
  /** 3D000: no such database. */
  unknownDatabase: '3D000',
  /** 53300: too many connections. */
  tooManyConnections: '53300',
  /** 57P01: the session was terminated (pg_terminate_backend, shutdown). */
  adminShutdown: '57P01',
  /** 57P02: the server crashed. */
  crashShutdown: '57P02',
  /** 57P03: the server is starting up or in recovery. */
  cannotConnectNow: '57P03',
  /** 42501: the login lacks a privilege (permission denied). */
  insufficientPrivilege: '42501',
  /** 55P03: lock_timeout expired. */
  lockNotAvailable: '55P03',
  /** 40P01: chosen as the victim of a deadlock. */
  deadlockDetected: '40P01',
  /** 57014: statement_timeout expired (or the query was cancelled). */
  queryCanceled: '57014',
} as const;

/** Class 08, connection exception: the connection is gone. */
const CONNECTION_EXCEPTION_CLASS = '08';

const SQLSTATE_SHAPE = /^[0-9A-Z]{5}$/;

/** The SQLSTATE of a server error (node-postgres puts it in `code`); undefined for any other error. */
export function sqlState(error: unknown): string | undefined {
  const code = errorCode(error);
  return code !== undefined && SQLSTATE_SHAPE.test(code) ? code : undefined;
}

/** Node's error code (`ECONNREFUSED`, a TLS code such as `CERT_HAS_EXPIRED`), or a server's SQLSTATE. */
export function errorCode(error: unknown): string | undefined {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/**
 * How a connection failed:
 * - `lost`: a connection that was open is gone (terminated, failover, reset, server restarting).
 *   The session cannot run another step; a new connection may work at once.
 * - `refused`: no connection could be made (network, TLS, password, no such database, too many
 *   connections). Trying again at once fails the same way.
 */
export type ConnectionFailure = 'lost' | 'refused';

const LOST_STATES = new Set<string>([SQLSTATE.adminShutdown, SQLSTATE.crashShutdown, SQLSTATE.cannotConnectNow]);
const REFUSED_STATES = new Set<string>([
  SQLSTATE.invalidPassword,
  SQLSTATE.invalidAuthorization,
  SQLSTATE.unknownDatabase,
  SQLSTATE.tooManyConnections,
]);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/** Node's TLS error codes for a certificate chain that does not lead to a trusted CA. */
export const UNTRUSTED_CERTIFICATE_CODES = new Set([
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
/** Node's TLS error code for a certificate issued for another host name. */
export const HOST_NAME_MISMATCH_CODE = 'ERR_TLS_CERT_ALTNAME_INVALID';

/** node-postgres and Node report these without a code, in the message only. */
/** A connect that got no answer in time: node-postgres says "Connection terminated due to connection timeout". */
export const CONNECT_TIMEOUT_MESSAGE = /due to connection timeout|timeout exceeded when trying to connect|timeout expired/i;
const LOST_MESSAGE = /Connection terminated|Client has encountered a connection error|ECONNRESET/i;
const REFUSED_MESSAGE = /timeout expired|timeout exceeded when trying to connect|does not support SSL|self[- ]signed|certificate/i;

/**
 * Whether, and how, an error is a connection failure. Steps wrap what they hit (with what they did
 * about it), so the cause chain is searched too. Server errors are judged by SQLSTATE alone: a
 * migration failing on a table named "certificate" is not a TLS problem.
 */
export function connectionFailure(error: unknown): ConnectionFailure | undefined {
  for (let e = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const failure = ownConnectionFailure(e);
    if (failure) return failure;
  }
  return undefined;
}

function ownConnectionFailure(error: unknown): ConnectionFailure | undefined {
  const state = sqlState(error);
  if (state !== undefined) {
    if (state.startsWith(CONNECTION_EXCEPTION_CLASS) || LOST_STATES.has(state)) return 'lost';
    return REFUSED_STATES.has(state) ? 'refused' : undefined;
  }
  const code = errorCode(error);
  if (code === 'ECONNRESET') return 'lost';
  if (code !== undefined && (NETWORK_CODES.has(code) || UNTRUSTED_CERTIFICATE_CODES.has(code) || code === HOST_NAME_MISMATCH_CODE)) {
    return 'refused';
  }
  // Any failed connect(2): a Unix socket that is not there (ENOENT, ENOTDIR) or not ours to open
  // (EACCES). Judged by the system call, not the code alone: a missing archive file is ENOENT too.
  if (code !== undefined && (error as { syscall?: unknown }).syscall === 'connect') return 'refused';
  const message = error instanceof Error ? error.message : '';
  // Never connected: not a session lost while idle (which is worth one more try).
  if (CONNECT_TIMEOUT_MESSAGE.test(message)) return 'refused';
  if (LOST_MESSAGE.test(message)) return 'lost';
  return REFUSED_MESSAGE.test(message) ? 'refused' : undefined;
}

/**
 * Any connection failure, lost or refused: a session that saw one cannot run another step (the
 * run ends, the client is discarded), and an entry point reports it as DatabaseUnavailableError.
 */
export function isConnectionFailure(error: unknown): boolean {
  return connectionFailure(error) !== undefined;
}

/** lock_timeout expired or a deadlock was broken: the step may be retried after a pause. */
export function isLockConflict(error: unknown): boolean {
  const state = sqlState(error);
  return state === SQLSTATE.lockNotAvailable || state === SQLSTATE.deadlockDetected;
}
