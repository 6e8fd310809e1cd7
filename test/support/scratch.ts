import { chmodSync, type Dirent, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';

/*
 * Where a test run's temporary files go, so that every run removes what it made: when its tests
 * pass, when they fail, and (through the sweep) after a run that was killed outright.
 *
 * A run makes `<tmp>/perps-test-run-<pid>-XXXXXX` and points TMPDIR at it, so the test server,
 * the test workers and every child process they pass TMPDIR to write inside it; each test file
 * gets its own directory in it (scratch-setup.ts), removed after the file. The run's directory
 * goes when its process exits. Nothing here needs vitest: the benchmark uses it too.
 */

const RUN_PREFIX = 'perps-test-run-';

/** Cleanups for the moment this process exits, newest first: a server before its directory. */
const exitCleanups: Array<() => void> = [];
let exitHooked = false;

/**
 * Runs `cleanup` synchronously when this process exits, however it exits short of SIGKILL (a
 * failed run, an uncaught error, Ctrl-C). Returns a function that cancels it, for when the
 * owner cleaned up itself.
 */
export function atExit(cleanup: () => void): () => void {
  if (!exitHooked) {
    exitHooked = true;
    process.once('exit', () => {
      for (const run of exitCleanups.splice(0).reverse()) {
        try {
          run();
        } catch {
          // One failed cleanup must not keep the others from running.
        }
      }
    });
    // A signal ends Node without 'exit' unless someone listens: exit on it, so the cleanups run.
    // A process that handles the signal itself (vitest does) exits its own way.
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      if (process.listenerCount(signal) === 0) process.once(signal, () => process.exit(128 + constants.signals[signal]));
    }
  }
  exitCleanups.push(cleanup);
  return () => {
    const at = exitCleanups.indexOf(cleanup);
    if (at >= 0) exitCleanups.splice(at, 1);
  };
}

/** Removes a directory tree; nothing if it is already gone. */
export function removeTree(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

/** Blocks this thread for `ms` milliseconds (only for exit handlers, which cannot await). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Whether a process with this id runs. A zombie (exited, not yet reaped: a server this very
 * process started and cannot reap while an exit handler blocks it) does not.
 */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists, owned by someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no /proc (macOS): kill(0) is all we know
  }
}

/**
 * Stops the PostgreSQL whose data directory is `dataDir` at once (SIGQUIT: immediate shutdown,
 * no checkpoint, its shared memory released) and waits up to 5 s until it is gone. For exit
 * handlers and leftovers: the data is thrown away anyway.
 */
export function stopPostmasterNow(dataDir: string): void {
  let pid: number;
  try {
    pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return; // never started, or already stopped
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isRunning(pid)) return;
  try {
    process.kill(pid, 'SIGQUIT');
  } catch {
    return;
  }
  for (let waited = 0; waited < 5_000 && isRunning(pid); waited += 20) sleepSync(20);
}

/** Every `postmaster.pid` under `dir`, a few levels down: servers a killed run may have left running. */
function dataDirsUnder(dir: string, depth = 4): string[] {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  if (entries.some((entry) => entry.name === 'postmaster.pid')) return [dir];
  if (depth === 0) return [];
  return entries.filter((entry) => entry.isDirectory()).flatMap((entry) => dataDirsUnder(join(dir, entry.name), depth - 1));
}

/** Removes the directories of runs whose process is gone (killed before its exit handler ran), servers first. */
function sweepDeadRuns(parent: string): void {
  for (const name of readdirSync(parent)) {
    const pid = Number(name.slice(RUN_PREFIX.length).split('-')[0]);
    if (!name.startsWith(RUN_PREFIX) || !Number.isInteger(pid) || isRunning(pid)) continue;
    const dir = join(parent, name);
    for (const dataDir of dataDirsUnder(dir)) stopPostmasterNow(dataDir);
    removeTree(dir);
  }
}

/**
 * A new directory in `parent`, open to the unprivileged `postgres` user a test server runs as
 * when the tests run as root (mkdtemp makes it 0700): its data directory may be inside.
 */
export function makeScratchDir(parent: string, prefix: string): string {
  const dir = mkdtempSync(join(parent, prefix));
  chmodSync(dir, 0o755);
  return dir;
}

/** The run directory of this process, once made; shared by every vitest project's global setup. */
const RUN_KEY = Symbol.for('perps-test-run-dir');
type WithRunDir = typeof globalThis & { [RUN_KEY]?: string };

/**
 * Makes this process's run directory (once; later calls return it), points TMPDIR at it for this
 * process and the processes it starts, and removes it when this process exits. First removes
 * what dead runs left in the same temp folder.
 */
export function useRunScratch(): string {
  const state = globalThis as WithRunDir;
  const existing = state[RUN_KEY];
  if (existing) return existing;
  const parent = tmpdir();
  sweepDeadRuns(parent);
  const dir = makeScratchDir(parent, `${RUN_PREFIX}${process.pid}-`);
  state[RUN_KEY] = dir;
  process.env.TMPDIR = dir;
  atExit(() => removeTree(dir));
  return dir;
}
