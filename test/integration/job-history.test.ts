import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localLambdaContext } from '../../functions/cli/lambda-context';
import { LocalMetrics } from '../../functions/cli/metrics';
import { createOperationHandler } from '../../functions/lambda/operation-handler';
import { EMBEDDED_MIGRATIONS } from '../../functions/operations/migrate/embedded-migrations';
import { OPERATIONS } from '../../functions/operations/registry';
import { JOB_RUNS_KEPT } from '../../functions/shared/job-runs';
import type { Logger } from '../../functions/shared/log';
import { cli } from '../support/cli';
import {
  connect,
  createTestDatabase,
  ensureGroupRoles,
  holdInTransaction,
  holdMaintenanceLock,
  loginRole,
  withClient,
} from '../support/database';

// The history of runs (migration 0008, job_runs): every invocation that reached a migrated
// database records itself through the handler chain, which the runner and Lambda share; the
// table stays bounded; and the logins that may read it cannot rewrite it.

interface RunRow {
  operation: string;
  outcome: string;
  origin: string;
  did_work: boolean;
  summary: Record<string, number>;
  error: string | null;
  seconds: number;
}

async function runs(url: string, operation?: string): Promise<RunRow[]> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<RunRow>(
      `SELECT operation, outcome, origin, did_work, summary, error, extract(epoch FROM finished_at - started_at)::float8 AS seconds
         FROM job_runs WHERE $1::text IS NULL OR operation = $1 ORDER BY id`,
      [operation ?? null],
    );
    return rows;
  });
}

const NOT_RECORDED = /not recorded in job_runs/;

describe('the handler records every run in job_runs', () => {
  let url: string;
  beforeAll(async () => {
    url = await createTestDatabase();
  });

  it('records nothing and warns of nothing before migrate: the table does not exist yet', async () => {
    const result = await cli(['partitions', '--database-url', url]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).not.toMatch(NOT_RECORDED);
    const { rows } = await withClient(url, (client) => client.query(`SELECT to_regclass('job_runs') AS table`));
    expect(rows[0].table).toBeNull();
  });

  it("records migrate's first run (which creates the table), a success with its counts, a failure with its error, a dry run as no work", async () => {
    const migrated = await cli(['migrate', '--database-url', url]);
    expect(migrated.code).toBe(0);
    expect(await cli(['partitions', '--database-url', url])).toMatchObject({ code: 0 });
    const lock = await holdMaintenanceLock(url);
    const busy = await cli(['vacuum', '--database-url', url]).finally(() => lock.release());
    expect(busy.code).toBe(4);
    expect(await cli(['vacuum', '--dry-run', '--database-url', url])).toMatchObject({ code: 0 });

    const recorded = await runs(url);
    expect(recorded.map(({ seconds, ...row }) => row)).toEqual([
      {
        operation: 'migrate',
        outcome: 'succeeded',
        origin: 'runner',
        did_work: true,
        summary: { MigrationsApplied: EMBEDDED_MIGRATIONS.length },
        error: null,
      },
      expect.objectContaining({ operation: 'partitions', outcome: 'succeeded', origin: 'runner', did_work: true, error: null }),
      expect.objectContaining({ operation: 'vacuum', outcome: 'failed', origin: 'runner', summary: {} }),
      expect.objectContaining({ operation: 'vacuum', outcome: 'succeeded', origin: 'runner', did_work: false, error: null }),
    ]);
    expect(recorded[1]?.summary.PartitionsCreated).toBeGreaterThan(0);
    expect(recorded[2]?.error).toMatch(/^LockBusyError: /);
    for (const row of recorded) expect(row.seconds).toBeGreaterThanOrEqual(0);
    for (const result of [migrated, busy]) expect(result.stderr).not.toMatch(NOT_RECORDED);
  });

  it('records a Lambda invocation as from lambda (AWS_LAMBDA_FUNCTION_NAME is set)', async () => {
    const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
    const handler = createOperationHandler(OPERATIONS.stats, {
      env: { DATABASE_URL: url, AWS_LAMBDA_FUNCTION_NAME: 'perps-stats-db-stats' },
      log: quiet,
      metrics: new LocalMetrics(() => undefined),
    });
    try {
      await handler({}, localLambdaContext('perps-stats-db-stats'));
    } finally {
      await handler.close();
    }
    expect((await runs(url, 'stats')).at(-1)).toMatchObject({ outcome: 'succeeded', origin: 'lambda', summary: {} });
  });

  it('never turns a run into a failure nor hides its error: a recording that cannot finish is one warning', async () => {
    // The history table locked by another transaction: the recording gives up at its short lock timeout.
    const blocker = await holdInTransaction(url, 'LOCK TABLE job_runs IN ACCESS EXCLUSIVE MODE');
    const lock = await holdMaintenanceLock(url);
    let succeeded: Awaited<ReturnType<typeof cli>>;
    let failed: Awaited<ReturnType<typeof cli>>;
    try {
      failed = await cli(['vacuum', '--database-url', url]);
      await lock.release();
      succeeded = await cli(['vacuum', '--database-url', url]);
    } finally {
      await lock.release().catch(() => undefined);
      await blocker.release();
    }
    expect(succeeded.code).toBe(0);
    expect(succeeded.stderr).toMatch(/vacuum: the run was not recorded in job_runs \(the run itself is unaffected\)/);
    expect(failed.code).toBe(4);
    expect(failed.stderr).toMatch(/another run holds the maintenance lock|maintenance lock/i);
    expect(failed.stderr).toMatch(NOT_RECORDED);
  });

  it('does not try on an unreachable database', async () => {
    const result = await cli(['stats', '--database-url', 'postgres://app:x@127.0.0.1:1/nowhere']);
    expect(result.code).toBe(3);
    expect(result.stderr).not.toMatch(NOT_RECORDED);
  });
});

describe('job_runs stays bounded', () => {
  let url: string;
  beforeAll(async () => {
    url = await createTestDatabase();
    expect(await cli(['migrate', '--database-url', url])).toMatchObject({ code: 0 });
  });

  const record = (client: pg.ClientBase, operation: string, outcome: string, didWork = true) =>
    client.query(`SELECT record_job_run($1, 10, $2, 'runner', $3, '{}', NULL)`, [operation, outcome, didWork]);

  it(`keeps the newest ${JOB_RUNS_KEPT} runs of each operation and its newest success that did work, trimming as it records`, async () => {
    await withClient(url, async (client) => {
      await record(client, 'vacuum', 'succeeded');
      await record(client, 'vacuum', 'succeeded', false);
      for (let i = 0; i < JOB_RUNS_KEPT + 20; i++) await record(client, 'vacuum', 'failed');
      await record(client, 'prune', 'succeeded');
      const { rows } = await client.query<{ operation: string; outcome: string; did_work: boolean; n: number }>(
        `SELECT operation, outcome, did_work, count(*)::int AS n FROM job_runs WHERE operation IN ('vacuum', 'prune')
          GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
      );
      expect(rows).toEqual([
        { operation: 'prune', outcome: 'succeeded', did_work: true, n: 1 },
        { operation: 'vacuum', outcome: 'failed', did_work: true, n: JOB_RUNS_KEPT },
        { operation: 'vacuum', outcome: 'succeeded', did_work: true, n: 1 },
      ]);
    });
  });
});

describe('the logins that read job_runs cannot rewrite it', () => {
  let url: string;
  let reader: pg.Client;
  let writer: pg.Client;
  let readerUrl: string;
  beforeAll(async () => {
    await ensureGroupRoles();
    url = await createTestDatabase();
    expect(await cli(['migrate', '--database-url', url])).toMatchObject({ code: 0 });
    const admin = await connect(url);
    try {
      const readerLogin = await loginRole(admin, url, 'history_reader');
      const writerLogin = await loginRole(admin, url, 'history_writer');
      await admin.query(`GRANT perps_reader TO ${readerLogin.role}; GRANT perps_writer TO ${writerLogin.role}`);
      readerUrl = readerLogin.url;
      reader = await connect(readerLogin.url);
      writer = await connect(writerLogin.url);
    } finally {
      await admin.end();
    }
  });
  afterAll(async () => {
    await reader?.end();
    await writer?.end();
  });

  const state = (client: pg.ClientBase, statement: string, values: unknown[] = []) =>
    client.query(statement, values).then(
      () => 'ok',
      (error: { code?: string }) => error.code,
    );

  it('lets perps_reader and perps_writer read it, and neither insert, update, delete nor truncate it', async () => {
    for (const client of [reader, writer]) {
      expect(await state(client, 'SELECT * FROM job_runs')).toBe('ok');
      expect(
        await state(
          client,
          `INSERT INTO job_runs (operation, started_at, finished_at, outcome, origin) VALUES ('vacuum', now(), now(), 'succeeded', 'runner')`,
        ),
      ).toBe('42501');
      expect(await state(client, `UPDATE job_runs SET outcome = 'succeeded'`)).toBe('42501');
      expect(await state(client, 'DELETE FROM job_runs')).toBe('42501');
      expect(await state(client, 'TRUNCATE job_runs')).toBe('42501');
      expect(await state(client, 'DROP TABLE job_runs')).toBe('42501');
    }
  });

  it('lets a reader record stats runs only, in the present, small; perps_writer not at all', async () => {
    const call = (client: pg.ClientBase, operation: string, durationMs: number, summary = '{}', error: string | null = null) =>
      state(client, `SELECT record_job_run($1, $2, 'succeeded', 'runner', true, $3, $4)`, [operation, durationMs, summary, error]);
    expect(await call(writer, 'stats', 10)).toBe('42501');
    expect(await call(reader, 'vacuum', 10)).toBe('42501');
    expect(await call(reader, 'stats', -1)).toBe('22023');
    expect(await call(reader, 'stats', 8 * 86_400_000)).toBe('22023');
    expect(await call(reader, 'stats', 10, JSON.stringify({ padding: 'x'.repeat(3000) }))).toBe('23514');
    expect(await call(reader, 'stats', 10, '[1]')).toBe('23514');
    expect(await call(reader, 'stats', 10, '{}', 'e'.repeat(100_000))).toBe('ok');
    const { rows } = await reader.query<{ length: number; future: boolean }>(
      `SELECT char_length(error) AS length, finished_at > now() AS future FROM job_runs WHERE error IS NOT NULL`,
    );
    expect(rows).toEqual([{ length: 500, future: false }]);
    // It cannot replace the function or take its privileges elsewhere either.
    expect(
      await state(
        reader,
        'CREATE OR REPLACE FUNCTION record_job_run(text, bigint, text, text, boolean, jsonb, text) RETURNS void LANGUAGE sql AS $$ SELECT $$',
      ),
    ).toBe('42501');
    expect(await state(reader, 'ALTER FUNCTION record_job_run(text, bigint, text, text, boolean, jsonb, text) SECURITY INVOKER')).toBe(
      '42501',
    );
  });

  it("floods only stats' own history, and never past its bound", async () => {
    await withClient(url, (client) => client.query(`SELECT record_job_run('partitions', 10, 'succeeded', 'runner', true, '{}', NULL)`));
    for (let i = 0; i < JOB_RUNS_KEPT + 30; i++)
      await reader.query(`SELECT record_job_run('stats', 10, 'failed', 'runner', true, '{}', 'x')`);
    const { rows } = await reader.query<{ operation: string; n: number }>(
      `SELECT operation, count(*)::int AS n FROM job_runs GROUP BY 1 ORDER BY 1`,
    );
    expect(rows).toEqual([
      { operation: 'migrate', n: 1 },
      { operation: 'partitions', n: 1 },
      { operation: 'stats', n: JOB_RUNS_KEPT + 1 },
    ]);
  });

  it('records the stats run of a reader login', async () => {
    const before = (await runs(url, 'stats')).length;
    const result = await cli(['stats', '--database-url', readerUrl]);
    expect(result.code).toBe(0);
    expect(result.stderr).not.toMatch(NOT_RECORDED);
    const after = await runs(url, 'stats');
    expect(after.at(-1)).toMatchObject({ outcome: 'succeeded', origin: 'runner', error: null });
    expect(after.length).toBeLessThanOrEqual(Math.max(before, JOB_RUNS_KEPT + 1));
  });
});
