import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../functions/operations/migrate/migrate';
import { ensurePartitions } from '../../functions/operations/partitions/partitions';
import { prune } from '../../functions/operations/prune/prune';
import { errorMessage } from '../../functions/shared/context';
import { DAY_MS } from '../../functions/shared/days';
import { PerpsDbError } from '../../functions/shared/errors';
import { TIME_SERIES_TABLES } from '../../functions/shared/tables';
import { connect, copiesOf, createTestDatabase, schemaState, testContext, withClient, withContext } from '../support/database';
import { contextWithFault, type FaultPoint } from '../support/faults';
import { seedDays } from '../support/rows';
import { startTestServer, type TestServer } from '../support/server';

/*
 * Faults injected into the maintenance session on a real server, right before chosen statements:
 * pg_terminate_backend from a second connection, a statement_timeout that cancels the statement,
 * or a crash of the server (its process killed: every session ends, the WAL is replayed). After each: the operation fails with a clear error, the schema is at a migration
 * version the ledger tells, no row is lost or duplicated, and a plain re-run completes.
 */

const NOW = new Date('2026-06-15T12:00:00Z');
const ROWS_PER_DAY = 3000;
const BATCH = 1000;

type Fingerprint = { rows: number; checksum: string; placedTwice: number };

/**
 * Count and checksum of every row of a time-series table wherever it is: the parent (its
 * partitions), a backlog table (a DEFAULT partition swapped out, whose rows are copied out and
 * kept until it is dropped), and any standalone day table an interrupted run left with rows in it.
 * A row in a backlog and in a day is one row (rows are unique by id); no row may be in two places
 * outside the backlogs (`placedTwice`).
 */
async function everyRow(client: pg.ClientBase, table: string, where = 'true'): Promise<Fingerprint> {
  const { rows: tables } = await client.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind = 'r' AND NOT c.relispartition AND (c.relname LIKE $1 OR c.relname LIKE $2)`,
    [`${table}\\_2%`, `${table}\\_backlog\\_%`],
  );
  // Every kind has the parent's columns in the parent's order: the same row text.
  const rowsOf = (names: string[]) =>
    names.map((name) => `SELECT t::text AS r, t.ts FROM ${pg.escapeIdentifier(name)} t`).join(' UNION ALL ');
  const all = [table, ...tables.map((t) => t.name)];
  const placed = all.filter((name) => !name.includes('_backlog_'));
  const { rows } = await client.query<{ n: string; sum: string | null; twice: string }>(
    `SELECT count(*) AS n, sum(hashtext(r)::numeric) AS sum,
            (SELECT count(*) - count(DISTINCT r) FROM (${rowsOf(placed)}) p WHERE ${where}) AS twice
       FROM (SELECT DISTINCT r FROM (${rowsOf(all)}) s WHERE ${where}) d`,
  );
  return { rows: Number(rows[0]?.n), checksum: rows[0]?.sum ?? '0', placedTwice: Number(rows[0]?.twice) };
}

async function allRows(url: string, where?: string): Promise<Record<string, Fingerprint>> {
  const client = await connect(url);
  const result: Record<string, Fingerprint> = {};
  for (const table of TIME_SERIES_TABLES) result[table] = await everyRow(client, table, where);
  await client.end();
  return result;
}

/** The options of every maintenance context here: the pinned clock and small batches. */
const OPTIONS = { now: NOW, settings: { batchSize: BATCH } };

/** What a fault's error message says, whatever the operation. */
const EXPECTED_MESSAGE: Record<FaultPoint['fault'], RegExp> = {
  terminate: /terminat/i,
  'statement-timeout': /canceling statement due to statement timeout/,
  crash: /connection was lost \((Connection terminated|server closed the connection|.*crash)/i,
};

/**
 * Runs `operation` under the fault and checks its error: one of ours, saying what happened. A lost
 * session stops the run with DatabaseUnavailableError; a cancelled statement fails as
 * `timeoutError` (the operation's own error for a failed step).
 */
async function failUnder(
  point: FaultPoint,
  url: string,
  timeoutError: 'MigrationError' | 'PartialFailureError',
  operation: (ctx: ReturnType<typeof testContext>) => Promise<unknown>,
) {
  const { ctx, struck } = contextWithFault(url, point, OPTIONS);
  const error = await operation(ctx).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(struck(), 'the fault point was reached').toBe(true);
  expect(error).toBeInstanceOf(PerpsDbError);
  const failure = error as PerpsDbError;
  if (point.fault === 'terminate' || point.fault === 'crash') {
    // The run stops at the lost session (no step runs on a dead one), retryable, with its report.
    expect(failure.name).toBe('DatabaseUnavailableError');
    expect(failure.retryable).toBe(true);
    expect(failure.message).toMatch(/ stopped: the database connection was lost \(.*\)\. Every step before it is complete or rolled back/i);
    expect(failure.report).toBeDefined();
  }
  if (point.fault === 'statement-timeout') expect(failure.name).toBe(timeoutError);
  expect(errorMessage(failure)).toMatch(EXPECTED_MESSAGE[point.fault]);
  return failure;
}

/** A batch can take under 1 ms: a second session's lock on the table it reads first (where it deletes) makes it wait. */
const lockTargetOf = (sql: string) =>
  `LOCK TABLE ${(sql.match(/INSERT INTO ("[^"]+")/) ?? sql.match(/FROM ("[^"]+")/))?.[1]} IN SHARE MODE`;

describe('faults during migrate', () => {
  let reference: Awaited<ReturnType<typeof schemaState>>;
  beforeAll(async () => {
    const url = await createTestDatabase();
    await migrate(testContext(url));
    reference = await schemaState(url);
  });

  const points: Array<FaultPoint & { name: string }> = [
    { name: 'killed before the first migration', step: /^migration 0001_/, fault: 'terminate' },
    {
      name: 'killed between a migration and its ledger row',
      step: /^migration 0002_/,
      statement: /INSERT INTO perps_schema_migrations/,
      fault: 'terminate',
    },
    {
      name: 'killed before the ledger row of the last migration',
      step: /^migration 0004_/,
      statement: /INSERT INTO perps_schema_migrations/,
      fault: 'terminate',
    },
    {
      name: 'statement_timeout on the schema migration',
      step: /^migration 0001_/,
      statement: /CREATE TABLE exchanges/,
      fault: 'statement-timeout',
      // No LOCK can hold a CREATE TABLE back; a second transaction creating the same table does.
      holdLock: () => 'CREATE TABLE exchanges ()',
    },
  ];
  for (const point of points) {
    it(`${point.name}: the ledger tells the schema's version exactly, and a re-run completes`, async () => {
      const url = await createTestDatabase();
      await failUnder(point, url, 'MigrationError', (ctx) => migrate(ctx));

      // Each migration commits with its ledger row or not at all.
      const { ledger, relations } = await schemaState(url);
      expect(reference.ledger.slice(0, ledger.length)).toEqual(ledger);
      expect(ledger.length).toBeLessThan(reference.ledger.length);
      const has = (relation: string) => relations.some((r) => r.startsWith(`${relation}:`));
      expect(has('tickers')).toBe(ledger.length >= 1);
      if (ledger.length >= 1) {
        const client = await connect(url);
        const exchanges = await client.query('SELECT 1 FROM exchanges');
        expect(exchanges.rowCount).toBe(ledger.length >= 2 ? 7 : 0);
        await client.end();
      }

      const rerun = await migrate(testContext(url));
      expect(rerun.applied).toBe(reference.ledger.length - ledger.length);
      expect(await schemaState(url)).toEqual(reference);
    });
  }
});

describe('faults during partition creation and default recovery', () => {
  // Recovery: the DEFAULT partition swapped out, each of its days built, filled (copied out of the
  // backlog), validated and attached, the backlog dropped; then the window's days created.
  const points: Array<FaultPoint & { name: string }> = [
    { name: 'killed right before the DEFAULT partition is swapped out', step: /^swapping out /, fault: 'terminate' },
    { name: 'killed after the swap, before the first day table is made', step: /^preparing tickers_2/, fault: 'terminate' },
    { name: 'killed between two copy batches', step: /^copying rows out of /, occurrence: 2, fault: 'terminate' },
    { name: 'killed before the indexes of a filled day are built', step: /^building the indexes of /, fault: 'terminate' },
    { name: 'killed before the foreign keys are added to a filled day', step: /^validating the foreign keys of /, fault: 'terminate' },
    {
      name: 'killed before a foreign key is validated',
      step: /^validating the foreign keys of /,
      occurrence: 2,
      statement: /VALIDATE CONSTRAINT/,
      fault: 'terminate',
    },
    { name: 'killed right before the attach of a filled day', step: /^attaching /, fault: 'terminate' },
    { name: 'killed before the copied-out backlog is truncated', step: /^dropping tickers_backlog_1 /, fault: 'terminate' },
    {
      name: 'killed between truncating the copied-out backlog and dropping it',
      step: /^dropping tickers_backlog_1 /,
      statement: /DROP TABLE/,
      fault: 'terminate',
    },
    { name: 'killed right before window days are created', step: /^creating orderbooks_/, fault: 'terminate' },
    {
      name: 'statement_timeout on a copy batch',
      step: /^copying rows out of /,
      statement: /^WITH edge AS/,
      fault: 'statement-timeout',
      holdLock: lockTargetOf,
    },
  ];
  let reference: Awaited<ReturnType<typeof schemaState>>;

  beforeAll(async () => {
    const url = await seededForRecovery(createTestDatabase);
    await ensurePartitions(testContext(url, OPTIONS), { daysAhead: 3 });
    reference = await schemaState(url);
  });

  for (const point of points) {
    it(`${point.name}: no row lost or duplicated, and a re-run completes`, async () => {
      await expectRecoveryAfter(point, await seededForRecovery(createTestDatabase), reference);
    });
  }
});

describe('a server crash during default recovery', () => {
  // Its own server: a crash ends every session on it.
  let server: TestServer;
  let reference: Awaited<ReturnType<typeof schemaState>>;
  const onOwnServer = async () => {
    const name = `perps_crash_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client(server.url);
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = new URL(server.url);
    url.pathname = `/${name}`;
    return url.toString();
  };
  const points: Array<FaultPoint & { name: string }> = [
    { name: 'crash between two copy batches', step: /^copying rows out of /, occurrence: 3, fault: 'crash' },
    {
      name: 'crash right before a foreign key is validated',
      step: /^validating the foreign keys of /,
      statement: /VALIDATE CONSTRAINT/,
      fault: 'crash',
    },
    { name: 'crash right before the attach of a filled day', step: /^attaching /, occurrence: 2, fault: 'crash' },
  ];

  beforeAll(async () => {
    server = await startTestServer();
    const url = await seededForRecovery(onOwnServer);
    await ensurePartitions(testContext(url, OPTIONS), { daysAhead: 3 });
    reference = await schemaState(url);
  });
  afterAll(async () => {
    await server?.stop();
  });

  for (const point of points) {
    it(`${point.name}: no row lost or duplicated, and a re-run completes`, async () => {
      await expectRecoveryAfter(point, await seededForRecovery(onOwnServer), reference);
    });
  }
});

/** Migrated, with 2 past days of rows waiting in each default partition. */
async function seededForRecovery(createDatabase: () => Promise<string>): Promise<string> {
  const url = await createDatabase();
  await migrate(testContext(url));
  const client = await connect(url);
  await seedDays(client, { from: new Date(NOW.getTime() - 3 * DAY_MS), days: 2, rowsPerDay: ROWS_PER_DAY });
  await client.end();
  return url;
}

/**
 * Runs `partitions` under the fault: every row is still somewhere exactly once (in the parent, in
 * the swapped-out backlog or in a day table not yet attached), and a plain re-run ends with every
 * row in its day partition and the schema of a clean run.
 */
async function expectRecoveryAfter(point: FaultPoint, url: string, reference: Awaited<ReturnType<typeof schemaState>>) {
  const before = await allRows(url);
  await failUnder(point, url, 'PartialFailureError', (ctx) => ensurePartitions(ctx, { daysAhead: 3 }));
  expect(await allRows(url)).toEqual(before);

  const rerun = await ensurePartitions(testContext(url, OPTIONS), { daysAhead: 3 });
  expect(rerun.tables.map((t) => t.status)).toEqual(['ok', 'ok', 'ok', 'ok']);
  expect(await allRows(url)).toEqual(before);
  expect(await schemaState(url)).toEqual(reference);
  const client = await connect(url);
  const inDefault = await client.query(`SELECT 1 FROM tickers_default UNION ALL SELECT 1 FROM trades_default`);
  expect(inDefault.rowCount).toBe(0);
  await client.end();
}

describe('faults during prune', () => {
  // Rows over 5 days from 40 days ago; everything older than 38 days goes, partitions older than 39 days are dropped.
  const event = { olderThanDays: 38, dropPartitionsOlderThanDays: 39 };
  const cutoff = new Date(NOW.getTime() - 38 * DAY_MS).toISOString();
  const points: Array<FaultPoint & { name: string }> = [
    { name: 'killed before the first truncate of an old partition', step: /^truncate partition /, fault: 'terminate' },
    {
      name: 'killed between two delete batches',
      step: /^the next batch of delete rows /,
      occurrence: 2,
      fault: 'terminate',
    },
    { name: 'killed before dropping a partition', step: /^drop partitions? /, fault: 'terminate' },
    {
      name: 'statement_timeout on a delete batch',
      step: /^the next batch of delete rows /,
      statement: /^DELETE FROM/,
      fault: 'statement-timeout',
      holdLock: lockTargetOf,
    },
  ];
  let reference: Awaited<ReturnType<typeof schemaState>>;

  /** Migrated, with 5 days of old rows in their partitions (a copy of one built once). */
  const seeded = copiesOf((url) =>
    withContext(url, { now: NOW }, async (ctx) => {
      await migrate(ctx);
      await withClient(url, (client) =>
        seedDays(client, { from: new Date(NOW.getTime() - 40 * DAY_MS), days: 5, rowsPerDay: ROWS_PER_DAY }),
      );
      await ensurePartitions(ctx, { daysAhead: 1 });
    }),
  );

  beforeAll(async () => {
    const url = await seeded();
    await prune(testContext(url, OPTIONS), event);
    reference = await schemaState(url);
  });

  for (const point of points) {
    it(`${point.name}: no row that should stay is touched, and a re-run completes`, async () => {
      const url = await seeded();
      const keep = `ts >= '${cutoff}'`;
      const kept = await allRows(url, keep);
      await failUnder(point, url, 'PartialFailureError', (ctx) => prune(ctx, event));
      expect(await allRows(url, keep)).toEqual(kept);

      const rerun = await prune(testContext(url, OPTIONS), event);
      expect(rerun.actions.every((a) => a.status === 'done')).toBe(true);
      expect(await allRows(url)).toEqual(kept);
      expect(await schemaState(url)).toEqual(reference);
    });
  }
});
