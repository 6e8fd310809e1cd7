import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../infra/bundling';

// The suite's temp directory handling (test/support/scratch*.ts) and its quiet guard
// (test/support/quiet-setup.ts), proven in a child vitest run over fixtures that make temp
// files, fail, and print warnings (test/fixtures/guards/). The child gets a temp folder of its
// own: after it, nothing may be left there.

interface FileResult {
  name: string;
  status: string;
  message: string;
  assertionResults: { title: string; status: string }[];
}

/** Runs the fixtures with TMPDIR=`tmp`; returns the child's stdout and its results by file name. */
function runFixtures(tmp: string): { status: number | null; stdout: string; files: Record<string, FileResult> } {
  const report = join(mkdtempSync(join(tmpdir(), 'guards-report-')), 'report.json');
  const run = spawnSync(
    join(PROJECT_ROOT, 'node_modules/.bin/vitest'),
    ['run', '--config', 'test/fixtures/guards/vitest.config.ts', '--reporter=json', `--outputFile=${report}`],
    { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, TMPDIR: tmp, NO_COLOR: '1' } },
  );
  const results = (JSON.parse(readFileSync(report, 'utf8')) as { testResults: FileResult[] }).testResults;
  return {
    status: run.status,
    stdout: run.stdout,
    files: Object.fromEntries(results.map((file) => [file.name.replace(/^.*\//, ''), file])),
  };
}

describe('a vitest run of the suite', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'guards-tmp-'));
  // What a run killed outright left behind (its process is gone): the next run removes it.
  const deadPid = spawnSync(process.execPath, ['-e', '']).pid;
  const leftover = join(tmp, `perps-test-run-${deadPid}-Kd93jq`, 'file-x8Ue2c');
  mkdirSync(leftover, { recursive: true });
  writeFileSync(join(leftover, 'data'), 'x');
  const { status, stdout, files } = runFixtures(tmp);

  it('fails', () => {
    expect(status).toBe(1);
  });

  it('removes every temp file and directory it made, its failed tests and child processes included, and what killed runs left', () => {
    expect(files['temp.fixture.ts']?.assertionResults.map((test) => test.status)).toEqual(['passed', 'passed', 'failed']);
    const made = [...stdout.matchAll(/^made: (.+)$/gm)].map((match) => match[1] ?? '');
    expect(made).toHaveLength(4);
    for (const path of made) {
      expect(path.startsWith(`${tmp}/perps-test-run-`), path).toBe(true);
      expect(existsSync(path), path).toBe(false);
    }
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('fails a file that prints warnings, naming each, and passes one that captures them', () => {
    expect(files['quiet.fixture.ts']?.status).toBe('passed');
    const noisy = files['noisy.fixture.ts'];
    expect(noisy?.status).toBe('failed');
    expect(noisy?.message).toMatch(/^this file printed 3 warning\(s\); a passing run prints none\./);
    expect((noisy?.message ?? '').split('\n').filter((line) => line.startsWith('- '))).toEqual([
      '- stdout: {"level":"WARN","message":"idle database connection failed"}',
      expect.stringMatching(/^- stderr: \(node:\d+\) FixtureWarning: a warning nobody captured$/),
      '- console.warn: careful',
    ]);
  });
});
