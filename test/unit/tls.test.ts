import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sslOptions } from '../../functions/lambda/tls';
import { toUnavailableError } from '../../functions/shared/db/pool';
import { DatabaseUnavailableError } from '../../functions/shared/errors';
import { PROJECT_ROOT } from '../../infra/bundling';
import { sourceFiles } from '../support/source-files';

describe('TLS options', () => {
  it('turns certificate verification off only for DB_SSL=require, in one place', () => {
    // libpq's sslmode=require: encrypted, certificate not checked. Documented as such in docs/lambda.md.
    expect(sslOptions('require', undefined)).toEqual({ rejectUnauthorized: false });
    const offenders = ['functions', 'infra', 'scripts'].flatMap((dir) =>
      sourceFiles(join(PROJECT_ROOT, dir)).flatMap((file) =>
        readFileSync(file, 'utf8')
          .split('\n')
          .map((line, index) => ({ where: `${relative(PROJECT_ROOT, file)}:${index + 1}`, line }))
          .filter(
            ({ line }) => /rejectUnauthorized\s*:(?!\s*true\b)/.test(line) || /NODE_TLS_REJECT_UNAUTHORIZED|checkServerIdentity/.test(line),
          ),
      ),
    );
    expect(offenders.map((o) => o.where)).toEqual([expect.stringMatching(/^functions\/lambda\/tls\.ts:\d+$/)]);
    expect(offenders[0]?.line).toMatch(/if \(mode === 'require'\) return \{ rejectUnauthorized: false \}/);
  });
});

describe('connection failures say what to do', () => {
  const URL = 'postgres://app:secret-pw-123@db.example:5432/perps';
  const failure = (message: string, code: string) => Object.assign(new Error(message), { code });
  const messageOf = (error: unknown) => {
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    return (error as Error).message;
  };

  it('names the CA setting for an untrusted certificate and the host name for a mismatch', () => {
    expect(messageOf(toUnavailableError(failure('self-signed certificate in certificate chain', 'SELF_SIGNED_CERT_IN_CHAIN'), URL))).toBe(
      "cannot connect to db.example:5432/perps: self-signed certificate in certificate chain. The server's TLS certificate could not be verified (SELF_SIGNED_CERT_IN_CHAIN): trust the CA that signed it with DB_SSL_CA_FILE=/path/to/ca.pem (or sslrootcert= in the URL); DB_SSL=require encrypts without verifying, only for a network you trust.",
    );
    expect(messageOf(toUnavailableError(failure('certificate has expired', 'CERT_HAS_EXPIRED'), URL))).toMatch(/could not be verified/);
    expect(
      messageOf(toUnavailableError(failure("Hostname/IP does not match certificate's altnames", 'ERR_TLS_CERT_ALTNAME_INVALID'), URL)),
    ).toMatch(/The server's TLS certificate is not issued for the host name db\.example: connect with a host name the certificate names/);
  });

  it('says when the server has no TLS, or wants it, and keeps the generic advice otherwise', () => {
    // One statement of the problem (node-postgres's), then what to do, in our settings' terms.
    expect(messageOf(toUnavailableError(new Error('The server does not support SSL connections'), URL))).toBe(
      'cannot connect to db.example:5432/perps: The server does not support SSL connections. Enable ssl on the server, or set DB_SSL=disable (or sslmode=disable in the URL) on a network you trust.',
    );
    expect(
      messageOf(
        toUnavailableError(failure('no pg_hba.conf entry for host "10.0.0.1", user "app", database "perps", no encryption', '28000'), URL),
      ),
    ).toMatch(/accepts this user only over TLS: set DB_SSL=verify-full/);
    expect(messageOf(toUnavailableError(failure('database "perps" does not exist', '3D000'), URL))).toBe(
      'cannot connect to db.example:5432/perps: database "perps" does not exist. The server is up, but has no database perps: create it with `createdb -h db.example -p 5432 perps` or CREATE DATABASE (as a user allowed to create databases), then run `init`; or fix the database name in the URL.',
    );
    expect(messageOf(toUnavailableError(failure('connect ECONNREFUSED 10.0.0.1:5432', 'ECONNREFUSED'), URL))).toMatch(
      /Check that the server is running and the URL, user and password are right\.$/,
    );
  });
});
