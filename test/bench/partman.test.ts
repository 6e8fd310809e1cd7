import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { adminUrl } from '../support/database';
import { recordOutput } from '../support/secret-guard';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** `npm run bench -- <args>` with only `env` beyond PATH, HOME and TMPDIR. */
function bench(args: string[], env: Record<string, string> = {}) {
  const run = spawnSync(`${root}node_modules/.bin/tsx`, [`${root}bench/run.ts`, ...args], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: process.env.TMPDIR, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  // For the suite-wide password guard: the admin URL's password must not show in the output.
  recordOutput('npm run bench stdout', run.stdout);
  recordOutput('npm run bench stderr', run.stderr);
  return run;
}

/**
 * `--partman` refuses, before it creates anything, a run it cannot do. The comparison itself needs
 * a server with pg_partman, which CI has not: it runs by hand (docs/performance.md).
 */
describe('npm run bench -- --partman', () => {
  it('says how to get a pg_partman server when BENCH_PARTMAN_URL is not set', () => {
    const run = bench(['--partman']);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(
      /^error: --partman needs BENCH_PARTMAN_URL, a superuser URL of a PostgreSQL server that has the pg_partman 4\.x/,
    );
    expect(run.stderr).toContain('apt-get install postgresql-15 postgresql-15-partman');
    expect(run.stdout).toBe('');
  });

  it('refuses a server without pg_partman, and creates nothing there', async () => {
    const run = bench(['--partman'], { BENCH_PARTMAN_URL: adminUrl() });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/error: the server at BENCH_PARTMAN_URL has no pg_partman extension available/);
    const client = new pg.Client(adminUrl());
    await client.connect();
    try {
      const created = await client.query("SELECT datname FROM pg_database WHERE datname LIKE 'bench\\_partman%'");
      expect(created.rows).toEqual([]);
    } finally {
      await client.end();
    }
  });

  it('refuses to run with --scale or --recovery, which take a server of their own', () => {
    const run = bench(['--partman', '--recovery', '1e3'], { BENCH_PARTMAN_URL: adminUrl() });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(
      'error: --partman runs on its own, on the server at BENCH_PARTMAN_URL: run --scale and --recovery in a separate run',
    );
  });
});
