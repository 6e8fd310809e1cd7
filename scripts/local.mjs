#!/usr/bin/env node
/**
 * `npm run local -- <command>`: the local runner, prebuilt. Plain JavaScript, so that nothing
 * is compiled at start: it rebuilds dist/cli/ (esbuild, a few seconds) only when a source is
 * newer than the build, then imports dist/cli/main.mjs, which runs the command in this process.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** What the build is made from: a change to any of them means a new build. */
export const RUNNER_SOURCES = [
  'functions',
  'migrations',
  'package.json',
  'package-lock.json',
  'infra/bundling.ts',
  'scripts/build-runner.ts',
];

/** The build's entry, relative to the project. */
export const RUNNER_ENTRY = join('dist', 'cli', 'main.mjs');

/** The newest modification time (ms) of a file or of any file under a folder; 0 for none. */
function newestChange(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestChange(join(path, entry)));
  return newest;
}

/** Whether `root`'s runner build is missing or older than one of its sources (a walk of some 300 files: a few ms). */
export function runnerIsStale(root = ROOT) {
  const entry = join(root, RUNNER_ENTRY);
  if (!existsSync(entry)) return true;
  const built = statSync(entry).mtimeMs;
  return RUNNER_SOURCES.some((source) => newestChange(join(root, source)) > built);
}

/** Builds `root`'s runner (scripts/build-runner.ts, through tsx); esbuild's errors go to stderr. */
export function buildRunner(root = ROOT) {
  const build = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'scripts', 'build-runner.ts')], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (build.status !== 0) {
    throw new Error(`could not build the runner (scripts/build-runner.ts exited ${build.status ?? build.signal}): see the errors above`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    if (runnerIsStale()) buildRunner();
  } catch (error) {
    process.stderr.write(`error: ${error.message}\n`);
    process.exit(1);
  }
  await import(pathToFileURL(join(ROOT, RUNNER_ENTRY)).href);
}
