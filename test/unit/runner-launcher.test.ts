import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RUNNER_ENTRY, RUNNER_SOURCES, runnerIsStale } from '../../scripts/local.mjs';

/** A project folder with a source file in each of the runner's sources and a build, every file at `at` (seconds). */
function project(at: number): string {
  const root = mkdtempSync(join(tmpdir(), 'launcher-'));
  const files = [RUNNER_ENTRY, 'functions/cli/main.ts', 'functions/shared/deep/er/file.ts', 'migrations/0001_schema.sql', 'package.json'];
  for (const file of files) touch(join(root, file), at);
  for (const dir of [
    'functions/cli',
    'functions/shared/deep/er',
    'functions/shared/deep',
    'functions/shared',
    'functions',
    'migrations',
    'dist/cli',
  ]) {
    utimesSync(join(root, dir), at, at);
  }
  return root;
}

function touch(path: string, at: number): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, '');
  utimesSync(path, at, at);
}

describe('the launcher of npm run local', () => {
  it('watches the functions, the migrations and the lock file', () => {
    expect(RUNNER_SOURCES).toEqual(expect.arrayContaining(['functions', 'migrations', 'package-lock.json']));
  });

  it('keeps a build no source is newer than', () => {
    const root = project(1_000_000);
    expect(runnerIsStale(root)).toBe(false);
    utimesSync(join(root, RUNNER_ENTRY), 2_000_000, 2_000_000);
    expect(runnerIsStale(root)).toBe(false);
  });

  it('rebuilds when any source, however deep, or the lock file is newer than the build', () => {
    for (const source of ['functions/shared/deep/er/file.ts', 'migrations/0002_new.sql', 'package-lock.json']) {
      const root = project(1_000_000);
      touch(join(root, source), 1_000_001);
      expect(runnerIsStale(root)).toBe(true);
    }
  });

  it('builds when there is no build', () => {
    const root = project(1_000_000);
    rmSync(join(root, RUNNER_ENTRY));
    expect(runnerIsStale(root)).toBe(true);
  });
});

describe('npm run local', () => {
  it('runs the launcher with plain node: no TypeScript compiled at start', () => {
    const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    expect(manifest.scripts.local).toBe('node scripts/local.mjs');
  });
});
