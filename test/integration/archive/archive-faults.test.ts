import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type ArchiveReport, archive } from '../../../functions/operations/archive/archive';
import { migrate } from '../../../functions/operations/migrate/migrate';
import { ensurePartitions } from '../../../functions/operations/partitions/partitions';
import { createDirectoryStore } from '../../../functions/shared/archive/dir-store';
import { archiveObjectKey } from '../../../functions/shared/archive/layout';
import { createS3Store } from '../../../functions/shared/archive/s3-store';
import type { ArchiveStore } from '../../../functions/shared/archive/store';
import type { OperationContext } from '../../../functions/shared/context';
import { partitionName } from '../../../functions/shared/days';
import { DeadlineError, PartialFailureError } from '../../../functions/shared/errors';
import type { ProgressEvent } from '../../../functions/shared/progress';
import { archiveDirectory, ledgerOf, settleModifications, withArchive } from '../../support/archive';
import { insertManyTrades } from '../../support/archive-rows';
import { HOLDS_INSERTS_BACK } from '../../support/blocking-locks';
import { connect, copiesOf, testContext, withContext } from '../../support/database';
import { interceptStatements } from '../../support/intercept';
import { readArchivedFile } from '../../support/parquet-reader';
import { type LocalS3, startLocalS3 } from '../../support/s3';

/*
 * What is left when archiving fails part-way: never an object under the key that the ledger
 * does not vouch for, never a ledger row without a verified object; and a plain re-run finishes.
 */
const NOW = new Date('2026-06-20T12:00:00Z');
const DAY = '2026-06-17';
const OLDER_DAY = '2026-06-16';
const TRADES = 60_000;
const PREFIX = 'perps-archive';
const KEY = archiveObjectKey(PREFIX, 'trades', DAY);

/** Trades on two closed days (three row groups each); the other tables have no closed partition. */
const seeded = copiesOf(async (url) => {
  await withContext(url, { now: NOW }, async (ctx) => {
    await migrate(ctx);
    const client = await ctx.pool.connect();
    try {
      await insertManyTrades(client, DAY, TRADES);
      await insertManyTrades(client, OLDER_DAY, TRADES);
    } finally {
      client.release();
    }
    await ensurePartitions(ctx, { daysAhead: 1 });
  });
});

async function database(directory = archiveDirectory()): Promise<{ url: string; ctx: OperationContext; directory: string }> {
  const url = await seeded();
  await settleModifications(url, [partitionName('trades', DAY), partitionName('trades', OLDER_DAY)], 0);
  return { url, ctx: withArchive(testContext(url, { now: NOW }), { directory }), directory };
}

/** A body that yields `bytes` in 1 MiB chunks, then fails as a dying source would. */
async function* dyingBody(bytes: number): AsyncGenerator<Uint8Array> {
  for (let sent = 0; sent < bytes; sent += 1 << 20) yield new Uint8Array(1 << 20).fill(7);
  throw new Error('the source died mid-file');
}

/** The store, except that every put's body fails after its first chunk: an upload dying midway. */
function failingMidway(store: ArchiveStore): ArchiveStore {
  return {
    ...store,
    put: (key, body) =>
      store.put(
        key,
        (async function* () {
          for await (const chunk of body) {
            yield chunk;
            throw new Error('connection reset while uploading');
          }
        })(),
      ),
  };
}

describe('the stores never leave a partial object under the key', () => {
  let s3: LocalS3;
  beforeAll(async () => {
    s3 = await startLocalS3();
  });
  afterAll(() => s3.stop());

  it('S3: a multipart upload whose body dies after one 5 MiB part rejects with that error, and the key stays empty', async () => {
    const store = createS3Store({ bucket: s3.bucket, client: s3.client });
    await expect(store.put('dying/x.parquet', dyingBody(6 << 20))).rejects.toThrow('the source died mid-file');
    expect(await store.size('dying/x.parquet')).toBeNull();
    expect(await s3.keys('dying/')).toEqual([]);
  });

  it('a directory: the temporary file is removed and the key stays empty', async () => {
    const directory = archiveDirectory();
    const store = createDirectoryStore(directory);
    await expect(store.put('dying/x.parquet', dyingBody(2 << 20))).rejects.toThrow('the source died mid-file');
    expect(await store.size('dying/x.parquet')).toBeNull();
    expect(readdirSync(join(directory, 'dying'))).toEqual([]);
  });

  it('a directory store refuses a key that leaves its directory', async () => {
    const store = createDirectoryStore(archiveDirectory());
    await expect(store.put('../escape.parquet', dyingBody(0))).rejects.toThrow('points outside the archive directory');
  });
});

describe('archive when things fail', () => {
  it('the upload dies midway: that day fails, nothing under its key or in the ledger; the next run archives it', async () => {
    const { url, ctx, directory } = await database();
    const store = createDirectoryStore(directory);
    const failing = withArchive(ctx, { directory, store: failingMidway(store) });
    const error = await archive(failing, { archiveAfterDays: 2 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PartialFailureError);
    const report = (error as PartialFailureError).report as ArchiveReport;
    expect(report.partitions.map((p) => [p.day, p.status, p.error])).toEqual([
      [OLDER_DAY, 'failed', 'connection reset while uploading'],
      [DAY, 'failed', 'connection reset while uploading'],
    ]);
    expect(existsSync(join(directory, KEY))).toBe(false);
    expect(readdirSync(directory, { recursive: true }).filter((f) => String(f).endsWith('.parquet'))).toEqual([]);
    expect(await ledgerOf(url)).toEqual([]);

    const again = await archive(ctx, { archiveAfterDays: 2 });
    expect(again.partitions.map((p) => [p.day, p.status, p.rows])).toEqual([
      [OLDER_DAY, 'archived', TRADES],
      [DAY, 'archived', TRADES],
    ]);
    expect((await readArchivedFile(join(directory, KEY))).rows).toHaveLength(TRADES);
  });

  it('the process is killed midway: no object under the key, no ledger row; a re-run finishes', async () => {
    const { url, directory } = await database();
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const child = spawn(
      process.execPath,
      [
        '--import',
        pathToFileURL(join(root, 'node_modules/tsx/dist/loader.mjs')).href,
        join(root, 'functions/cli/main.ts'),
        'archive',
        '--table',
        'trades',
        '--to',
        directory,
        '--after-days',
        '2',
        '--database-url',
        url,
      ],
      { cwd: directory, env: { PATH: process.env.PATH, TMPDIR: process.env.TMPDIR }, stdio: 'ignore' },
    );
    const exited = new Promise((resolve) => child.on('exit', resolve));
    // Killed while the first file is being written: its temporary file exists, its key does not.
    await vi.waitFor(
      () => {
        const files = readdirSync(directory, { recursive: true }).map(String);
        if (!files.some((file) => file.endsWith('.partial'))) throw new Error('not writing yet');
      },
      { timeout: 60_000, interval: 20 },
    );
    child.kill('SIGKILL');
    await exited;
    // Its server session ends when the server sees the connection gone, and with it the lock.
    const monitor = await connect(url);
    await vi.waitFor(
      async () => {
        const { rows } = await monitor.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = 'perps-stats-db/archive'`);
        if (rows.length > 0) throw new Error('the killed run still has a session');
      },
      { timeout: 20_000, interval: 100 },
    );
    await monitor.end();
    const ledger = await ledgerOf(url);
    for (const day of [OLDER_DAY, DAY]) {
      const recorded = ledger.some((row) => row.day === day);
      // A day is either archived and recorded, or neither: never an object without its row.
      expect(existsSync(join(directory, archiveObjectKey(PREFIX, 'trades', day))), day).toBe(recorded);
    }
    expect(ledger.length).toBeLessThan(2);

    const again = await archive(withArchive(testContext(url, { now: NOW }), { directory }), { archiveAfterDays: 2 });
    expect(again.partitions_failed).toBe(0);
    // The child ran on the real clock, so it may also have archived the (empty) partitions of the
    // pinned today and tomorrow, which the pinned run leaves alone.
    const days = (await ledgerOf(url)).filter((row) => row.day <= DAY).map((row) => [row.day, row.rows]);
    expect(days).toEqual([
      [OLDER_DAY, TRADES],
      [DAY, TRADES],
    ]);
    expect((await readArchivedFile(join(directory, KEY))).rows).toHaveLength(TRADES);
  });

  it('the Lambda deadline: no partition starts inside the reserve; the run stops with its report, the next one carries on', async () => {
    const { url, ctx } = await database();
    // Plenty of time until the first partition is done, then less than the reserve (30 s) but
    // more than the margin under which an export in progress is abandoned.
    let left = 600_000;
    const deadline = {
      ...ctx,
      timeLeftMs: () => left,
      progress: (event: ProgressEvent) => {
        if (event.phase === 'finish') left = 10_000;
      },
    };
    const error = await archive(deadline, { archiveAfterDays: 2 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeadlineError);
    const report = (error as DeadlineError).report as ArchiveReport;
    expect(report.partitions.map((p) => [p.day, p.status])).toEqual([
      [OLDER_DAY, 'archived'],
      [DAY, 'planned'],
    ]);
    expect((await ledgerOf(url)).map((row) => row.day)).toEqual([OLDER_DAY]);
    const next = await archive(ctx, { archiveAfterDays: 2 });
    expect(next.partitions.map((p) => [p.day, p.status])).toEqual([[DAY, 'archived']]);
  });

  it('the deadline arriving during an export abandons it: the upload is discarded, nothing recorded', async () => {
    const { url, ctx, directory } = await database();
    let calls = 0;
    // Enough to start, then under the abandon margin between two row groups.
    const deadline = { ...ctx, timeLeftMs: () => (calls++ < 2 ? 600_000 : 2_000) };
    const error = await archive(deadline, { archiveAfterDays: 2, day: DAY }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeadlineError);
    expect((error as Error).message).toMatch(/^abandoned archiving trades_2026_06_17 2 s before the Lambda deadline/);
    expect(existsSync(join(directory, KEY))).toBe(false);
    expect(readdirSync(directory, { recursive: true }).filter((f) => String(f).endsWith('.partial'))).toEqual([]);
    expect(await ledgerOf(url)).toEqual([]);
  });
});

describe('archive and ingestion', () => {
  it('holds no lock that blocks inserts at any statement, and reads the rows in a READ ONLY REPEATABLE READ snapshot', async () => {
    const { url, ctx } = await database();
    const monitor = await connect(url);
    const audit: { statement: string; blocking: string[] }[] = [];
    let snapshot: { isolation: string; readOnly: string } | undefined;
    interceptStatements(ctx, {
      async before(text, _client, query) {
        if (!text.startsWith('COPY (SELECT')) return;
        const result = (await query(
          `SELECT current_setting('transaction_isolation') AS isolation, current_setting('transaction_read_only') AS "readOnly"`,
        )) as {
          rows: { isolation: string; readOnly: string }[];
        };
        snapshot = result.rows[0];
      },
      async after(text, session) {
        const pid = (session as unknown as { processID: number }).processID;
        const { rows } = await monitor.query<{ lock: string }>(
          `SELECT c.relname || ' ' || l.mode AS lock FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE l.pid = $1 AND ${HOLDS_INSERTS_BACK}`,
          [pid],
        );
        audit.push({ statement: text.slice(0, 60), blocking: rows.map((r) => r.lock) });
      },
    });
    const report = await archive(ctx, { archiveAfterDays: 2 });
    expect(report.partitions_archived).toBe(2);
    expect(snapshot).toEqual({ isolation: 'repeatable read', readOnly: 'on' });
    expect(audit.filter((a) => a.blocking.length > 0)).toEqual([]);
    // Not vacuous: the audit saw the row reads, one COPY per partition, while each was open.
    expect(audit.filter((a) => a.statement.startsWith('COPY (SELECT')).length).toBe(2);
  });
});
