import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { errorMessage } from '../../functions/core/context';
import { PerpsDbError } from '../../functions/core/errors';
import { migrate } from '../../functions/core/migrate';
import { ensurePartitions } from '../../functions/core/partitions';
import { prune } from '../../functions/core/prune';
import { TIME_SERIES_TABLES } from '../../functions/core/tables';
import { connect, createTestDatabase, testContext } from '../support/database';
import { contextWithFault, type FaultPoint } from '../support/faults';
import { insertRows, instantsOverDays } from '../support/rows';

/*
 * Faults injected into the maintenance session on a real server, right before chosen statements:
 * pg_terminate_backend from a second connection, or a statement_timeout that cancels the
 * statement. After each: the operation fails with a clear error, the schema is at a migration
 * version the ledger tells, no row is lost or duplicated, and a plain re-run completes.
 */

const NOW = new Date('2026-06-15T12:00:00Z');
const DAY = 86_400_000;
const ROWS_PER_DAY = 3000;
const BATCH = 1000;

type Fingerprint = { rows: number; checksum: string };

/**
 * Count and checksum of every row of a time-series table wherever it is: the parent (its
 * partitions) and any standalone day table an interrupted run left with moved rows in it.
 */
async function everyRow(client: pg.ClientBase, table: string, where = 'true'): Promise<Fingerprint> {
  const { rows: tables } = await client.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind = 'r' AND NOT c.relispartition AND c.relname LIKE $1`,
    [`${table}\\_2%`],
  );
  // A standalone day table has the parent's columns in the parent's order: the same row text.
  const sources = [table, ...tables.map((t) => t.name)].map((name) => `SELECT t::text AS r, t.ts FROM ${pg.escapeIdentifier(name)} t`);
  const { rows } = await client.query<{ n: string; sum: string | null }>(
    `SELECT count(*) AS n, sum(hashtext(r)::numeric) AS sum FROM (${sources.join(' UNION ALL ')}) s WHERE ${where}`,
  );
  return { rows: Number(rows[0]?.n), checksum: rows[0]?.sum ?? '0' };
}

async function allRows(url: string, where?: string): Promise<Record<string, Fingerprint>> {
  const client = await connect(url);
  const result: Record<string, Fingerprint> = {};
  for (const table of TIME_SERIES_TABLES) result[table] = await everyRow(client, table, where);
  await client.end();
  return result;
}

/** Relations and ledger: what "the schema of one clean run" means. */
async function schemaOf(url: string): Promise<{ relations: string[]; ledger: string[] }> {
  const client = await connect(url);
  const relations = await client.query<{ name: string }>(
    `SELECT c.relname || ':' || c.relkind::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' ORDER BY 1`,
  );
  const ledger = await client.query<{ name: string }>(
    `SELECT name FROM perps_schema_migrations WHERE to_regclass('perps_schema_migrations') IS NOT NULL ORDER BY name`,
  );
  await client.end();
  return { relations: relations.rows.map((r) => r.name), ledger: ledger.rows.map((r) => r.name) };
}

/** Runs `operation` under the fault; returns its error, which must be one of ours with a message. */
async function failUnder(point: FaultPoint, url: string, operation: (ctx: ReturnType<typeof testContext>) => Promise<unknown>) {
  const { ctx, struck } = contextWithFault(url, point, { now: NOW, settings: { batchSize: BATCH } });
  const error = await operation(ctx).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(struck(), 'the fault point was reached').toBe(true);
  expect(error).toBeInstanceOf(PerpsDbError);
  const failure = error as PerpsDbError;
  if (point.fault === 'terminate') {
    // The run stops at the lost session (no step runs on a dead one), retryable, with its report.
    expect(failure.name).toBe('DatabaseUnavailableError');
    expect(failure.retryable).toBe(true);
    expect(failure.message).toMatch(
      / stopped: the database connection was lost \(.*terminat.*\)\. Every step before it is complete or rolled back/i,
    );
    expect(failure.report).toBeDefined();
  }
  return failure;
}

/** A batch can take under 1 ms: a second session's lock on the table it deletes from makes it wait. */
const lockTargetOf = (sql: string) => `LOCK TABLE ${sql.match(/DELETE FROM ("[^"]+")/)?.[1]} IN SHARE MODE`;

const TERMINATED = /terminat/i;
const CANCELLED = /canceling statement due to statement timeout/;

describe('faults during migrate', () => {
  let reference: Awaited<ReturnType<typeof schemaOf>>;
  beforeAll(async () => {
    const url = await createTestDatabase();
    await migrate(testContext(url));
    reference = await schemaOf(url);
  });

  const points: Array<FaultPoint & { name: string; expected: RegExp }> = [
    { name: 'killed before the first migration', statement: /CREATE TABLE exchanges/, fault: 'terminate', expected: TERMINATED },
    {
      name: 'killed between a migration and its ledger row',
      statement: /INSERT INTO perps_schema_migrations/,
      occurrence: 2,
      fault: 'terminate',
      expected: TERMINATED,
    },
    {
      name: 'killed before the ledger row of the last migration',
      statement: /INSERT INTO perps_schema_migrations/,
      occurrence: 4,
      fault: 'terminate',
      expected: TERMINATED,
    },
    {
      name: 'statement_timeout on the schema migration',
      statement: /CREATE TABLE exchanges/,
      fault: 'statement-timeout',
      expected: CANCELLED,
    },
  ];
  for (const point of points) {
    it(`${point.name}: the ledger tells the schema's version exactly, and a re-run completes`, async () => {
      const url = await createTestDatabase();
      const error = await failUnder(point, url, (ctx) => migrate(ctx));
      if (point.fault === 'statement-timeout') expect(error.name).toBe('MigrationError');
      expect(errorMessage(error)).toMatch(point.expected);

      // Each migration commits with its ledger row or not at all.
      const { ledger, relations } = await schemaOf(url);
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
      expect(await schemaOf(url)).toEqual(reference);
    });
  }
});

describe('faults during partition creation and default emptying', () => {
  const points: Array<FaultPoint & { name: string; expected: RegExp }> = [
    { name: 'killed before creating the first day table', statement: /^CREATE TABLE "tickers_2/, fault: 'terminate', expected: TERMINATED },
    {
      name: 'killed between two move batches',
      statement: /^WITH moved AS \(DELETE/,
      occurrence: 2,
      fault: 'terminate',
      expected: TERMINATED,
    },
    {
      name: 'killed after the rows moved, before the attach locks the parent',
      statement: /^LOCK TABLE ONLY/,
      fault: 'terminate',
      expected: TERMINATED,
    },
    {
      name: 'killed right before an ATTACH of a new day',
      statement: /ATTACH PARTITION/,
      occurrence: 3,
      fault: 'terminate',
      expected: TERMINATED,
    },
    { name: 'killed between ATTACH and dropping its CHECK', statement: /DROP CONSTRAINT "/, fault: 'terminate', expected: TERMINATED },
    {
      name: 'statement_timeout on a move batch',
      statement: /^WITH moved AS \(DELETE/,
      fault: 'statement-timeout',
      holdLock: lockTargetOf,
      expected: CANCELLED,
    },
  ];
  let reference: Awaited<ReturnType<typeof schemaOf>>;

  /** Migrated, with 2 past days of rows waiting in each default partition. */
  async function seeded(): Promise<string> {
    const url = await createTestDatabase();
    await migrate(testContext(url));
    const client = await connect(url);
    await insertRows(client, instantsOverDays(new Date(NOW.getTime() - 3 * DAY), 2, ROWS_PER_DAY));
    await client.end();
    return url;
  }

  beforeAll(async () => {
    const url = await seeded();
    await ensurePartitions(testContext(url, { now: NOW, settings: { batchSize: BATCH } }), { daysAhead: 3 });
    reference = await schemaOf(url);
  });

  for (const point of points) {
    it(`${point.name}: no row lost or duplicated, and a re-run completes`, async () => {
      const url = await seeded();
      const before = await allRows(url);
      const error = await failUnder(point, url, (ctx) => ensurePartitions(ctx, { daysAhead: 3 }));
      if (point.fault === 'statement-timeout') expect(error.name).toBe('PartialFailureError');
      expect(errorMessage(error)).toMatch(point.expected);
      // Rows moved before the fault are in the default partition or in a day table not yet attached.
      expect(await allRows(url)).toEqual(before);

      const rerun = await ensurePartitions(testContext(url, { now: NOW, settings: { batchSize: BATCH } }), { daysAhead: 3 });
      expect(rerun.tables.map((t) => t.status)).toEqual(['ok', 'ok', 'ok', 'ok']);
      expect(await allRows(url)).toEqual(before);
      expect(await schemaOf(url)).toEqual(reference);
      const client = await connect(url);
      const inDefault = await client.query(`SELECT 1 FROM tickers_default UNION ALL SELECT 1 FROM trades_default`);
      expect(inDefault.rowCount).toBe(0);
      await client.end();
    });
  }
});

describe('faults during prune', () => {
  // Rows over 5 days from 40 days ago; everything older than 38 days goes, partitions older than 39 days are dropped.
  const event = { olderThanDays: 38, dropPartitionsOlderThanDays: 39 };
  const cutoff = new Date(NOW.getTime() - 38 * DAY).toISOString();
  const points: Array<FaultPoint & { name: string; expected: RegExp }> = [
    { name: 'killed before the first truncate of an old partition', statement: /^TRUNCATE/, fault: 'terminate', expected: TERMINATED },
    {
      name: 'killed between two delete batches',
      statement: /^DELETE FROM .* ctid = ANY/s,
      occurrence: 2,
      fault: 'terminate',
      expected: TERMINATED,
    },
    { name: 'killed before dropping a partition', statement: /^DROP TABLE/, fault: 'terminate', expected: TERMINATED },
    {
      name: 'statement_timeout on a delete batch',
      statement: /^DELETE FROM .* ctid = ANY/s,
      fault: 'statement-timeout',
      holdLock: lockTargetOf,
      expected: CANCELLED,
    },
  ];
  let reference: Awaited<ReturnType<typeof schemaOf>>;

  async function seeded(): Promise<string> {
    const url = await createTestDatabase();
    const ctx = testContext(url, { now: NOW });
    await migrate(ctx);
    const client = await connect(url);
    await insertRows(client, instantsOverDays(new Date(NOW.getTime() - 40 * DAY), 5, ROWS_PER_DAY));
    await client.end();
    await ensurePartitions(ctx, { daysAhead: 1 });
    return url;
  }

  beforeAll(async () => {
    const url = await seeded();
    await prune(testContext(url, { now: NOW, settings: { batchSize: BATCH } }), event);
    reference = await schemaOf(url);
  });

  for (const point of points) {
    it(`${point.name}: no row that should stay is touched, and a re-run completes`, async () => {
      const url = await seeded();
      const keep = `ts >= '${cutoff}'`;
      const kept = await allRows(url, keep);
      const error = await failUnder(point, url, (ctx) => prune(ctx, event));
      if (point.fault === 'statement-timeout') expect(error.name).toBe('PartialFailureError');
      expect(errorMessage(error)).toMatch(point.expected);
      expect(await allRows(url, keep)).toEqual(kept);

      const rerun = await prune(testContext(url, { now: NOW, settings: { batchSize: BATCH } }), event);
      expect(rerun.actions.every((a) => a.status === 'done')).toBe(true);
      expect(await allRows(url)).toEqual(kept);
      expect(await schemaOf(url)).toEqual(reference);
    });
  }
});
