import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../support/cli';
import { type BundledHandler, type Invocation, invoke, loadHandler } from '../support/handlers';
import { registerSecret } from '../support/secret-guard';
import { type SdkSecretsEndpoint, useSecretsEndpoint } from '../support/secrets-endpoint';
import { startTestServer, type TestServer } from '../support/server';
import { makeTestCertificates, type TestCertificates } from '../support/tls-certs';

// A second PostgreSQL for this file only, with TLS on and a pg_hba.conf that admits nobody
// without TLS: any connection that gets in is encrypted. It listens on 127.0.0.1, 127.0.0.2 and
// 127.0.0.3; its certificate names localhost, 127.0.0.1 and 127.0.0.3, so 127.0.0.2 is the same
// server under a host name the certificate does not cover.

let certs: TestCertificates;
let server: TestServer;
let endpoint: SdkSecretsEndpoint;
const opened: BundledHandler[] = [];
const DATABASE = 'perps_tls';
let url: URL;
let caPem = '';

const atHost = (host: string, extra = '') => {
  const at = new URL(url);
  at.hostname = host;
  return `${at.toString()}${extra}`;
};

async function run(operation: 'migrate' | 'stats', env: Record<string, string | undefined>): Promise<Invocation> {
  const handler = await loadHandler(operation, { DB_SECRET_ARN: undefined, ...env });
  opened.push(handler);
  return invoke(handler, {});
}

/** An admin session over verified TLS (plain connections are refused by pg_hba.conf). */
async function adminQuery<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: server.url, ssl: { ca: caPem, rejectUnauthorized: true } });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** TLS state of the connection a warm handler keeps in its pool, found by its application_name. */
async function sslOfSession(applicationName: string) {
  return adminQuery<{ ssl: boolean; version: string }>(
    `SELECT s.ssl, s.version FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = $1`,
    [applicationName],
  );
}

beforeAll(async () => {
  certs = makeTestCertificates();
  caPem = readFileSync(certs.caFile, 'utf8');
  const hba = join(certs.dir, 'pg_hba.conf');
  // md5 also accepts SCRAM-stored passwords, so the same file serves PostgreSQL 12 to 18.
  writeFileSync(hba, ['127.0.0.1', '127.0.0.2', '127.0.0.3'].map((ip) => `hostssl all all ${ip}/32 md5\n`).join(''), { mode: 0o644 });
  server = await startTestServer({
    postgresFlags: [
      ...['-c', 'ssl=on', '-c', `ssl_cert_file=${certs.serverCertFile}`, '-c', `ssl_key_file=${certs.serverKeyFile}`],
      ...['-c', `hba_file=${hba}`, '-c', 'listen_addresses=127.0.0.1,127.0.0.2,127.0.0.3'],
    ],
  });
  await adminQuery(`CREATE DATABASE ${DATABASE}`);
  url = new URL(server.url);
  registerSecret(decodeURIComponent(url.password), "the TLS server's admin password");
  url.pathname = `/${DATABASE}`;
  endpoint = await useSecretsEndpoint();
});

afterAll(async () => {
  for (const handler of opened) await handler.close();
  await endpoint?.release();
  await server?.stop();
  certs?.remove();
});

describe('TLS to a server with a private CA (real server, built bundles)', () => {
  it('verify-full with the right CA connects, encrypted, and runs the operations', async () => {
    const env = { DATABASE_URL: url.toString(), DB_SSL: 'verify-full', DB_SSL_CA_FILE: certs.caFile };
    const migrated = await run('migrate', { ...env, AWS_LAMBDA_FUNCTION_NAME: 'perps-tls-migrate' });
    expect(migrated.error).toBeUndefined();
    expect(migrated.result).toMatchObject({ operation: 'migrate' });
    const stats = await run('stats', { ...env, AWS_LAMBDA_FUNCTION_NAME: 'perps-tls-verified' });
    expect(stats.error).toBeUndefined();
    expect(stats.result).toMatchObject({ operation: 'stats' });
    // The warm handler's pooled session, as the server sees it.
    expect(await sslOfSession('perps-tls-verified')).toEqual([{ ssl: true, version: expect.stringMatching(/^TLSv1\.[23]$/) }]);
  });

  it('verify-full with an unrelated CA fails: the certificate could not be verified, and what to do', async () => {
    const run1 = await run('stats', { DATABASE_URL: url.toString(), DB_SSL: 'verify-full', DB_SSL_CA_FILE: certs.wrongCaFile });
    expect(run1.error?.name).toBe('DatabaseUnavailableError');
    expect(run1.error?.message).toMatch(
      new RegExp(
        `^cannot connect to 127\\.0\\.0\\.1:${url.port}/${DATABASE}: .*\\. The server's TLS certificate could not be verified \\(UNABLE_TO_VERIFY_LEAF_SIGNATURE\\): trust the CA that signed it with DB_SSL_CA_FILE=`,
      ),
    );
    expect(run1.error?.retryable).not.toBe(false);
  });

  it('verify-full to a host name the certificate does not name fails, saying so', async () => {
    const wrongHost = await run('stats', { DATABASE_URL: atHost('127.0.0.2'), DB_SSL: 'verify-full', DB_SSL_CA_FILE: certs.caFile });
    expect(wrongHost.error?.name).toBe('DatabaseUnavailableError');
    expect(wrongHost.error?.message).toMatch(/^cannot connect to 127\.0\.0\.2:\d+\/perps_tls: Hostname\/IP does not match/);
    expect(wrongHost.error?.message).toMatch(
      /The server's TLS certificate is not issued for the host name 127\.0\.0\.2: connect with a host name/,
    );
    // The same server under a name the certificate does cover: the failure was the name alone.
    const named = await run('stats', { DATABASE_URL: atHost('localhost'), DB_SSL: 'verify-full', DB_SSL_CA_FILE: certs.caFile });
    expect(named.error).toBeUndefined();
  });

  it('DB_SSL=require encrypts without verifying: it connects even with the wrong CA and the wrong host name', async () => {
    const unverified = await run('stats', {
      DATABASE_URL: atHost('127.0.0.2'),
      DB_SSL: 'require',
      DB_SSL_CA_FILE: certs.wrongCaFile,
      AWS_LAMBDA_FUNCTION_NAME: 'perps-tls-require',
    });
    expect(unverified.error).toBeUndefined();
    expect(await sslOfSession('perps-tls-require')).toEqual([{ ssl: true, version: expect.any(String) }]);
  });

  it('DB_SSL=disable against a server that admits only TLS fails, saying TLS is required', async () => {
    const plain = await run('stats', { DATABASE_URL: url.toString(), DB_SSL: 'disable' });
    expect(plain.error?.name).toBe('DatabaseUnavailableError');
    expect(plain.error?.message).toMatch(/no pg_hba\.conf entry for host "127\.0\.0\.1".*(no encryption|SSL off)/);
    expect(plain.error?.message).toMatch(/The server accepts this user only over TLS: set DB_SSL=verify-full/);
  });

  it("honours the URL's own sslmode=verify-full and sslrootcert when DB_SSL is not set", async () => {
    const fromUrl = await run('stats', { DATABASE_URL: `${url.toString()}?sslmode=verify-full&sslrootcert=${certs.caFile}` });
    expect(fromUrl.error).toBeUndefined();
    const wrong = await run('stats', { DATABASE_URL: `${url.toString()}?sslmode=verify-full&sslrootcert=${certs.wrongCaFile}` });
    expect(wrong.error?.name).toBe('DatabaseUnavailableError');
    expect(wrong.error?.message).toMatch(/TLS certificate could not be verified/);
  });

  it("DB_SSL wins over the URL's sslmode, in both directions", async () => {
    const upgraded = await run('stats', {
      DATABASE_URL: `${url.toString()}?sslmode=disable`,
      DB_SSL: 'verify-full',
      DB_SSL_CA_FILE: certs.caFile,
    });
    expect(upgraded.error).toBeUndefined();
    const downgraded = await run('stats', {
      DATABASE_URL: `${url.toString()}?sslmode=verify-full&sslrootcert=${certs.caFile}`,
      DB_SSL: 'disable',
    });
    expect(downgraded.error?.message).toMatch(/accepts this user only over TLS/);
  });
});

describe('TLS for a host from a secret, with no DB_SSL (the RDS default)', () => {
  const ARN = 'arn:aws:secretsmanager:eu-west-1:000000000000:secret:perps-tls-AbCdEf';
  const secretFor = (host: string) =>
    JSON.stringify({
      engine: 'postgres',
      host,
      port: Number(url.port),
      username: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
      dbname: DATABASE,
    });

  it('verifies by default: the right CA connects, no extra CA or a wrong host name is refused', async () => {
    // 127.0.0.3 is not one of the loopback names that default to no TLS, so it stands for a remote host.
    endpoint.put(`${ARN}-named`, secretFor('127.0.0.3'));
    const trusted = await run('stats', { DB_SECRET_ARN: `${ARN}-named`, DATABASE_URL: undefined, DB_SSL_CA_FILE: certs.caFile });
    expect(trusted.error).toBeUndefined();

    // Only the RDS bundle and the public roots: the private CA is not trusted, so no connection.
    const untrusted = await run('stats', { DB_SECRET_ARN: `${ARN}-named`, DATABASE_URL: undefined });
    expect(untrusted.error?.name).toBe('DatabaseUnavailableError');
    expect(untrusted.error?.message).toMatch(/TLS certificate could not be verified/);

    endpoint.put(`${ARN}-unnamed`, secretFor('127.0.0.2'));
    const wrongHost = await run('stats', { DB_SECRET_ARN: `${ARN}-unnamed`, DATABASE_URL: undefined, DB_SSL_CA_FILE: certs.caFile });
    expect(wrongHost.error?.name).toBe('DatabaseUnavailableError');
    expect(wrongHost.error?.message).toMatch(/not issued for the host name 127\.0\.0\.2/);
  });
});

describe('TLS through the local runner', () => {
  it('verify-full with the right CA runs stats; the wrong CA exits 3 with the reason', async () => {
    const ok = await cli(['stats', '--database-url', url.toString(), '--format', 'json'], {
      env: { DB_SSL: 'verify-full', DB_SSL_CA_FILE: certs.caFile },
    });
    // Only the line naming the target (and the warning that the URL's password shows in ps): no TLS warning or error.
    expect(ok.stderr).toMatch(/^target: [^\n]+ \(URL from --database-url\)\nwarning: the password in --database-url [^\n]+\n$/);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ operation: 'stats' });

    const wrong = await cli(['stats', '--database-url', url.toString()], {
      env: { DB_SSL: 'verify-full', DB_SSL_CA_FILE: certs.wrongCaFile },
    });
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toMatch(
      /^error: cannot connect to 127\.0\.0\.1:\d+\/perps_tls: .*TLS certificate could not be verified.*DB_SSL_CA_FILE/m,
    );
    expect(wrong.stderr).toContain('(URL from --database-url)');
  });

  // The last test of the file: it empties the data tables.
  it('reads the name a truncate confirms over the same TLS settings', async () => {
    const wrong = await cli(['clean', '--truncate', '--yes', '--database-url', url.toString()], {
      env: { DB_SSL: 'verify-full', DB_SSL_CA_FILE: certs.wrongCaFile },
    });
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toMatch(/TLS certificate could not be verified.*DB_SSL_CA_FILE/);
    const right = await cli(['clean', '--truncate', '--yes', '--database-url', url.toString()], {
      env: { DB_SSL: 'verify-full', DB_SSL_CA_FILE: certs.caFile },
    });
    expect(right.stderr).not.toMatch(/^error:/m);
    expect(right.code).toBe(0);
  });
});
