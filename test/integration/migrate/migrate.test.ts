import { describe, expect, it } from 'vitest';
import { checksumOf, type MigrateReport, migrate } from '../../../functions/operations/migrate/migrate';
import { readMigrationFiles } from '../../../functions/operations/migrate/migration-files';
import { LockTimeoutError, MigrationError } from '../../../functions/shared/errors';
import { connect, createTestDatabase, ensureGroupRoles, ownerWithoutCreateRole, runWhileLocked, testContext } from '../../support/database';

const files = readMigrationFiles();

describe('migration runner', () => {
  it('records name, checksum, applied_at and duration per file, and re-running is a no-op', async () => {
    const url = await createTestDatabase();
    const ctx = testContext(url);
    const first = await migrate(ctx);
    expect(first.applied).toBe(files.length);
    expect(first.migrations.map((m) => m.status)).toEqual(files.map(() => 'applied'));

    const client = await connect(url);
    const { rows } = await client.query('SELECT name, checksum, applied_at, duration_ms FROM perps_schema_migrations ORDER BY name');
    expect(rows.map((r) => [r.name, r.checksum])).toEqual(files.map((f) => [f.name, checksumOf(f.sql)]));
    for (const row of rows) {
      expect(row.applied_at).toBeInstanceOf(Date);
      expect(row.duration_ms).toBeGreaterThanOrEqual(0);
    }

    const second = await migrate(ctx);
    expect(second.applied).toBe(0);
    expect(second.migrations.map((m) => m.status)).toEqual(files.map(() => 'already_applied'));
  });

  it('stops with an error naming an applied file whose content changed', async () => {
    const url = await createTestDatabase();
    const ctx = testContext(url);
    await migrate(ctx);
    const edited = files.map((f) => (f.name === '0002_seed_exchanges.sql' ? { ...f, sql: `${f.sql}\n-- edited` } : f));
    const error = await migrate(ctx, { migrations: edited }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toMatch(/0002_seed_exchanges\.sql was edited after it was applied/);
  });

  it("stops with an error naming a ledger entry that has no file, older than the build's newest file (a deleted migration)", async () => {
    const url = await createTestDatabase();
    const ctx = testContext(url);
    await migrate(ctx);
    const error = await migrate(ctx, { migrations: files.filter((f) => f.name !== '0003_roles.sql') }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toMatch(/0003_roles\.sql is recorded as applied but this build has no such file/);
  });

  // Issue 23, point 2: a deploy's rollback runs the previous migrate version (CDK's Trigger
  // invokes the old function version on the rollback's Update), which meets a ledger with the
  // newer build's migrations: it must succeed and change nothing.
  it('reports a database ahead of this build (ahead_by, a notice) and changes nothing, without failing', async () => {
    const url = await createTestDatabase();
    const newer = [
      ...files,
      { name: '9990_newer.sql', sql: 'CREATE TABLE newer_build (id int);' },
      { name: '9991_newest.sql', sql: 'SELECT 1;' },
    ];
    await migrate(testContext(url), { migrations: newer });
    const client = await connect(url);
    // What the newer build's grants would not have: this run must not touch them either.
    await client.query('REVOKE SELECT ON exchanges FROM perps_reader');
    const ledger = 'SELECT name, checksum, applied_at FROM perps_schema_migrations ORDER BY name';
    const before = (await client.query(ledger)).rows;
    const grantsBefore = (await client.query(`SELECT has_table_privilege('perps_reader', 'exchanges', 'SELECT') AS can`)).rows;

    const report = await migrate(testContext(url));
    expect(report).toMatchObject({ applied: 0, ahead_by: 2, grants: [] });
    expect(report.migrations).toEqual(files.map((f) => ({ name: f.name, status: 'already_applied' })));
    expect(report.notices).toEqual([
      expect.stringMatching(
        /^the database is ahead of this build by 2 migrations \(9990_newer\.sql, 9991_newest\.sql\), applied by a newer build: nothing was applied or granted; /,
      ),
    ]);
    expect((await client.query(ledger)).rows).toEqual(before);
    expect((await client.query(`SELECT has_table_privilege('perps_reader', 'exchanges', 'SELECT') AS can`)).rows).toEqual(grantsBefore);
    expect(grantsBefore).toEqual([{ can: false }]);
  });

  it("still fails a database ahead of this build when one of this build's applied files was edited", async () => {
    const url = await createTestDatabase();
    await migrate(testContext(url), { migrations: [...files, { name: '9990_newer.sql', sql: 'SELECT 1;' }] });
    const edited = files.map((f) => (f.name === '0002_seed_exchanges.sql' ? { ...f, sql: `${f.sql}\n-- edited` } : f));
    const error = await migrate(testContext(url), { migrations: edited }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toMatch(/0002_seed_exchanges\.sql was edited after it was applied/);
  });

  it('still refuses a file of this build that is pending while the ledger has a newer one it does not know', async () => {
    const url = await createTestDatabase();
    await migrate(testContext(url), { migrations: [...files.slice(0, -1), { name: '9990_newer.sql', sql: 'SELECT 1;' }] });
    const error = await migrate(testContext(url)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toMatch(new RegExp(`${files.at(-1)?.name.replace('.', '\\.')} sorts before 9990_newer\\.sql`));
  });

  it('refuses a new file that sorts before one already applied', async () => {
    const url = await createTestDatabase();
    const ctx = testContext(url);
    await migrate(ctx);
    const late = [...files, { name: '0000_late.sql', sql: 'SELECT 1;' }];
    await expect(migrate(ctx, { migrations: late })).rejects.toThrow(new RegExp(`0000_late\\.sql sorts before ${files.at(-1)?.name}`));
  });

  it('names the file, line and column of a failing statement and applies nothing of that file', async () => {
    const url = await createTestDatabase();
    const ctx = testContext(url);
    const broken = [...files, { name: '0999_broken.sql', sql: 'CREATE TABLE good_one (id int);\n\nSELECT * FROM\n  missing_table;' }];
    const error = (await migrate(ctx, { migrations: broken }).catch((e: unknown) => e)) as MigrationError;
    expect(error).toBeInstanceOf(MigrationError);
    expect(error.message).toMatch(/migration 0999_broken\.sql line 4, column 3 failed: relation "missing_table" does not exist/);
    const report = error.report as { migrations: { name: string; status: string }[] };
    expect(report.migrations.at(-1)).toMatchObject({ name: '0999_broken.sql', status: 'failed' });
    const client = await connect(url);
    const { rows } = await client.query(`SELECT to_regclass('good_one') AS t, (SELECT count(*) FROM perps_schema_migrations) AS n`);
    expect(rows[0]).toEqual({ t: null, n: String(files.length) });
  });

  it('carries on when the migrating user may not create roles, granting the existing roles (test/integration/migrate/roles.test.ts has the details)', async () => {
    await ensureGroupRoles();
    const url = await createTestDatabase();
    const owner = await ownerWithoutCreateRole(url);
    const admin = await connect(url);
    const report = await migrate(testContext(owner.url));
    expect(report.applied).toBe(files.length);
    const database = new URL(url).pathname.slice(1);
    expect(report.notices).toEqual([
      ...['perps_reader', 'perps_writer'].map((role) =>
        expect.stringMatching(new RegExp(`^granted ${role} its missing privileges on database ${database}: `)),
      ),
      expect.stringMatching(new RegExp(`^revoked CONNECT on database ${database} from PUBLIC: `)),
    ]);
    const { rows } = await admin.query(`SELECT count(*)::int AS n FROM exchanges`);
    expect(rows[0]?.n).toBe(7);
  });

  it('runs each migration under the lock timeout: a long transaction makes it fail, not queue ingestion', async () => {
    const url = await createTestDatabase();
    await migrate(testContext(url));
    const next = [...files, { name: '0999_add_column.sql', sql: 'ALTER TABLE exchanges ADD COLUMN region text;' }];
    // The read holds ACCESS SHARE on exchanges until the transaction ends.
    const { error, elapsed } = await runWhileLocked(url, 'SELECT count(*) FROM exchanges', () =>
      migrate(testContext(url, { settings: { lockTimeoutMs: 100, ddlAttempts: 3 } }), { migrations: next }),
    );
    // Not the migration's fault: a retryable LockTimeoutError (exit 4), as its message says the next run retries.
    expect(error).toBeInstanceOf(LockTimeoutError);
    expect(error).toMatchObject({ retryable: true, exitCode: 4 });
    expect((error as Error).message).toMatch(
      /^migration 0999_add_column\.sql: could not get its lock within 100 ms in 3 attempts; .*it will be retried on the next run$/,
    );
    expect((error as LockTimeoutError).report).toMatchObject({ applied: 0 });
    expect(((error as LockTimeoutError).report as MigrateReport).migrations.at(-1)).toEqual({
      name: '0999_add_column.sql',
      status: 'failed',
      error: expect.stringMatching(
        /^migration 0999_add_column\.sql failed: migration 0999_add_column\.sql: could not get its lock within 100 ms in 3 attempts/,
      ),
    });
    expect(elapsed).toBeLessThan(10_000);
    const done = await migrate(testContext(url), { migrations: next });
    expect(done.applied).toBe(1);
  });

  it('serialises concurrent runners: each file is applied exactly once and no runner fails', async () => {
    const url = await createTestDatabase();
    const runs = await Promise.all(Array.from({ length: 4 }, () => migrate(testContext(url))));
    const appliedPerFile = files.map(
      (f) => runs.filter((r) => r.migrations.some((m) => m.name === f.name && m.status === 'applied')).length,
    );
    expect(appliedPerFile).toEqual(files.map(() => 1));
    const client = await connect(url);
    const { rows } = await client.query('SELECT count(*)::int AS n FROM perps_schema_migrations');
    expect(rows[0]?.n).toBe(files.length);
  });
});
