import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

/** PostgreSQL's own default (scram_iterations, 4096 since SCRAM came in PostgreSQL 10). */
const ITERATIONS = 4096;
/** What SASLprep leaves unchanged: printable ASCII, so the verifier is the one the server would compute. */
const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;

/** Whether `password` can be hashed here exactly as the server would (see {@link scramVerifier}). */
export function isHashablePassword(password: string): boolean {
  return PRINTABLE_ASCII.test(password);
}

/**
 * The SCRAM-SHA-256 verifier of `password` (RFC 5802/7677, in pg_authid's format), so that
 * `ALTER ROLE ... PASSWORD` never carries the password itself: a failed statement is written
 * to the server log with its text. Printable ASCII only (SASLprep would change other input).
 */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16)): string {
  if (!isHashablePassword(password)) throw new Error('only printable ASCII passwords can be hashed here');
  const salted = pbkdf2Sync(password, salt, ITERATIONS, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${ITERATIONS}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
