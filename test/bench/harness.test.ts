import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { adminUrl } from '../support/database';
import { recordOutput } from '../support/secret-guard';

const root = fileURLToPath(new URL('../../', import.meta.url));

/**
 * `npm run bench` at a tiny scale against the test server, so the harness keeps working: every
 * section reports, every measurement has figures, and no insert of the writer failed. The
 * figures themselves are not judged here (timing belongs to the benchmark, not the tests).
 */
describe('npm run bench', () => {
  it('runs every section at a tiny scale and reports no failed insert', { timeout: 240_000 }, () => {
    const run = spawnSync(
      `${root}node_modules/.bin/tsx`,
      [
        `${root}bench/run.ts`,
        '--rows',
        '2e3,4e3',
        '--runs',
        '1',
        '--prune-rows',
        '2e3',
        '--backlog-rows',
        '2e3',
        '--old-days',
        '10',
        '--vacuum-rows',
        '2e3',
        '--archive-rows',
        '5e3',
      ],
      {
        cwd: root,
        // One cold start per bundle instead of fifteen: the harness checks the section, not the figures.
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          TMPDIR: process.env.TMPDIR,
          BENCH_DATABASE_URL: adminUrl(),
          BENCH_RUNS: '1',
        },
        encoding: 'utf8',
        timeout: 230_000,
      },
    );
    // For the suite-wide password guard: the admin URL's password must not show in the output.
    recordOutput('npm run bench stdout', run.stdout);
    recordOutput('npm run bench stderr', run.stderr);
    const file = /raw figures: (\S+\.json)/.exec(run.stderr)?.[1];
    // Figures of a tiny run are no result: leave bench/results/ as it was, pass or fail.
    if (file) onTestFinished(() => rmSync(file, { force: true }));
    expect(run.status, run.stderr).toBe(0);
    const out = run.stdout;
    for (const heading of [
      '**1. Stats cost',
      '**2-3. Partitions and prune',
      '**4. Ingestion impact',
      '**5. Cold start',
      '**6. The local runner',
    ]) {
      expect(out).toContain(heading);
    }
    expect(out).toMatch(/^\| 4e\+3 \| [\d.]+ ms .*\| [\d.]+x \|$/m);
    expect(out).toMatch(/^\| prune --older-than, delete 2e\+3 rows in batches \| .* \| 2000 rows deleted \|$/m);
    expect(out).toMatch(/^\| one plain DELETE of the same 2e\+3 rows \| .* \| 2000 rows deleted \|$/m);
    expect(out).toMatch(
      /^\| partitions, empty a default holding 2e3 rows over 10 days \| .* \| 2000 rows moved, 10 partitions created \|$/m,
    );
    expect(out).toMatch(/^\| prune, drop 10 days of partitions x 4 tables \| .* \| 40 partitions dropped \|$/m);
    expect(out).toMatch(/^\| prune, drop 10 days of partitions x 4 tables, one per transaction \| .* \| 40 partitions dropped \|$/m);
    expect(out).toMatch(/first invocation \(connects\) [\d.]+ ms/);
    expect(out).toContain('**Archive and restore**: one closed day of trades to Parquet');
    expect(out).toMatch(
      /^\| 5e\+3 \| [\d.]+ ms \| [\d.]+ (ms|s) \| [\d.]+x \| \d+ MiB, [\d.]+ s \| [\d.]+ ms \([\d.]+ s\) \| [\d.]+ (ms|s) \| [\d.]+x \| \d+ MiB, [\d.]+ s \([\d.]+ s\) \|/m,
    );
    expect(out).toMatch(/^\| npm run local -- --version \| [\d.]+ (ms|s) \([\d.]+ (ms|s)\.\.[\d.]+ (ms|s)\) \| - \|$/m);
    expect(out).toMatch(/^\| node scripts\/local\.mjs --version \(the launcher alone\) \| [\d.]+ (ms|s) .* \| - \|$/m);
    expect(out).toMatch(/^\| tsx functions\/cli\/main\.ts --version \(compiled at start, as before\) \| [\d.]+ (ms|s) .* \| - \|$/m);
    expect(out).toMatch(/^\| init on a new embedded database \(PGlite\) \| [\d.]+ (ms|s) .* \| \d+ MiB \(\d+\.\.\d+\) \|$/m);
    expect(file).toBeDefined();
    const raw = JSON.parse(readFileSync(file ?? '', 'utf8')) as {
      maintenance: { ingestion: { during: string; inserts: number; failed: number }[] };
      archive: { rows: number; parquetBytes: number; peakRssMiB: number; restorePeakRssMiB: number; during: { failed: number } }[];
    };
    expect(raw.archive).toHaveLength(1);
    expect(raw.archive[0]).toMatchObject({ rows: 5000, during: { failed: 0 } });
    expect(raw.archive[0]?.parquetBytes).toBeGreaterThan(0);
    expect(raw.archive[0]?.peakRssMiB).toBeGreaterThan(0);
    expect(raw.archive[0]?.restorePeakRssMiB).toBeGreaterThan(0);
    expect(raw.maintenance.ingestion).toHaveLength(8);
    for (const phase of raw.maintenance.ingestion) expect(phase, phase.during).toMatchObject({ failed: 0 });
    expect(raw.maintenance.ingestion[0]).toMatchObject({ during: 'at rest (3 s)' });
    expect(raw.maintenance.ingestion[0]?.inserts).toBeGreaterThan(0);
  });
});
