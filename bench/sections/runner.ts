import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROJECT_ROOT } from '../../infra/bundling';
import { type Summary, summarize } from '../support/timing';

const LAUNCHER = join(PROJECT_ROOT, 'scripts', 'local.mjs');
const PEAK_RSS = fileURLToPath(new URL('../support/peak-rss.mjs', import.meta.url));

export interface RunnerBenchResult {
  /** `--version` wall time, process start to exit, by how the runner is started. */
  version: { how: string; ms: Summary }[];
  /** `init` on a new embedded database (PGlite): wall time and the process's peak RSS. */
  init: { ms: Summary; peakRssMiB: Summary };
}

/**
 * Issue 27's figures of the local runner: how long `--version` takes to start (the prebuilt
 * runner through npm, the launcher alone, and the TypeScript entry through tsx as before the
 * build, in the same run), and what `init` costs on a new embedded database: time and peak
 * memory of the process (read by a preloaded module at exit, as /usr/bin/time's %M).
 */
export function runnerBench(runs: number, log: (line: string) => void): RunnerBenchResult {
  // Untimed: builds dist/cli/ when a source is newer, as a user's first run would.
  run(process.execPath, [LAUNCHER, '--version']);
  const starts: [string, string, string[]][] = [
    ['npm run local -- --version', 'npm', ['run', '--silent', 'local', '--', '--version']],
    ['node scripts/local.mjs --version (the launcher alone)', process.execPath, [LAUNCHER, '--version']],
    [
      'tsx functions/cli/main.ts --version (compiled at start, as before)',
      join(PROJECT_ROOT, 'node_modules', '.bin', 'tsx'),
      ['functions/cli/main.ts', '--version'],
    ],
  ];
  const samples = starts.map(() => [] as number[]);
  // Interleaved, so that a busy moment of the machine falls on every way alike.
  for (let i = 0; i < Math.max(runs, 5); i++) {
    for (const [index, [, command, args]] of starts.entries()) samples[index]?.push(run(command, args).ms);
  }
  const version = starts.map(([how], index) => ({ how, ms: summarize(samples[index] ?? []) }));
  const times: number[] = [];
  const peaks: number[] = [];
  for (let i = 0; i < runs; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-embedded-'));
    const peakFile = join(dir, 'peak-rss');
    const init = run(process.execPath, ['--import', PEAK_RSS, LAUNCHER, 'init'], {
      cwd: dir,
      env: { PERPS_EMBEDDED_DIR: join(dir, 'pglite'), BENCH_PEAK_RSS_FILE: peakFile },
    });
    times.push(init.ms);
    peaks.push(Number(readFileSync(peakFile, 'utf8')) / 1024);
    log(`runner: init on a new embedded database in ${(init.ms / 1000).toFixed(1)} s, peak RSS ${Math.round(peaks.at(-1) ?? 0)} MiB`);
  }
  return { version, init: { ms: summarize(times), peakRssMiB: summarize(peaks) } };
}

/** Runs a command to its end (it must succeed); its wall time. No DATABASE_URL: the runner's own environment only. */
function run(command: string, args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): { ms: number } {
  const started = performance.now();
  const child = spawnSync(command, args, {
    cwd: options.cwd ?? PROJECT_ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: process.env.TMPDIR, ...options.env },
    encoding: 'utf8',
  });
  const ms = performance.now() - started;
  if (child.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${child.status}: ${child.stderr}`);
  return { ms };
}
