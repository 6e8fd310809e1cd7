import { mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archive } from '../../../functions/operations/archive/archive';
import { ensurePartitions } from '../../../functions/operations/partitions/partitions';
import { type PruneReport, prune } from '../../../functions/operations/prune/prune';
import { restore } from '../../../functions/operations/restore/restore';
import { createDirectoryStore } from '../../../functions/shared/archive/dir-store';
import { readFooter } from '../../../functions/shared/archive/footer';
import { archiveObjectKey, DEFAULT_ARCHIVE_PREFIX } from '../../../functions/shared/archive/layout';
import { createS3Store } from '../../../functions/shared/archive/s3-store';
import type { ArchiveStore } from '../../../functions/shared/archive/store';
import type { OperationContext } from '../../../functions/shared/context';
import { ArchiveIntegrityError, DeadlineError, PartialFailureError } from '../../../functions/shared/errors';
import { archiveDirectory, ledgerOf, seededCopies, withArchive } from '../../support/archive';
import { connect, testContext, withContext } from '../../support/database';
import { interceptStatements } from '../../support/intercept';
import { seedDays } from '../../support/rows';
import { type LocalS3, startLocalS3 } from '../../support/s3';

/*
 * Prune drops a day only when it can prove the archive holds that day: the object's bytes are
 * the ones verified at archive time (SHA-256 in the ledger), and the partition's rows are the
 * archived rows (the archive's checksum, after the partition was detached so no row can reach
 * it). The adversary: an object overwritten in place, a late row in and an archived row out, a
 * late row written while prune drops the day, ledger rows from before the hash, a new folder, a
 * symbolic link and a `..` in the key.
 */

const NOW = new Date('2026-06-15T12:00:00Z');
const PREFIX = DEFAULT_ARCHIVE_PREFIX;
const DAY = '2026-06-01';
const KEY = archiveObjectKey(PREFIX, 'trades', DAY);
/** Drops the partitions of 2026-06-01 to 2026-06-05 (they end on or before 2026-06-08). */
const DROP = { dropPartitionsOlderThanDays: 7 };

let s3: LocalS3;
beforeAll(async () => {
  s3 = await startLocalS3('proof-test');
});
afterAll(async () => {
  await s3?.stop();
});

const database = seededCopies(NOW, (client) => seedDays(client, { from: '2026-06-01', days: 5, rowsPerDay: 20 }));

/** How a test reaches an archive: a context writing there, and the object's bytes, read and overwritten in place. */
interface Archive {
  ctx: OperationContext;
  store: ArchiveStore;
  bytes(key: string): Promise<Buffer>;
  overwrite(key: string, body: Buffer): Promise<void>;
}

const STORES: Record<'a directory' | 'S3 (s3rver)', (url: string) => Archive> = {
  'a directory': (url) => {
    const directory = archiveDirectory();
    return {
      ctx: withArchive(testContext(url, { now: NOW }), { directory, prefix: PREFIX }),
      store: createDirectoryStore(directory),
      bytes: async (key) => readFileSync(join(directory, key)),
      overwrite: async (key, body) => writeFileSync(join(directory, key), body),
    };
  },
  'S3 (s3rver)': (url) => ({
    ctx: withArchive(testContext(url, { now: NOW }), { bucket: s3.bucket, endpointUrl: s3.endpointUrl, prefix: PREFIX }),
    store: createS3Store({ bucket: s3.bucket, endpointUrl: s3.endpointUrl }),
    bytes: async (key) => {
      const object = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
      return Buffer.from((await object.Body?.transformToByteArray()) ?? []);
    },
    overwrite: async (key, body) => {
      await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body }));
    },
  }),
};

/** The report of a prune that kept partitions (it fails as partial: the other tables are not archived). */
async function pruneKeeping(ctx: OperationContext, settings: Partial<OperationContext['settings']> = {}): Promise<PruneReport> {
  const run = prune({ ...ctx, settings: { ...ctx.settings, ...settings } }, DROP);
  await expect(run).rejects.toBeInstanceOf(PartialFailureError);
  return (await run.catch((error: PartialFailureError) => error.report)) as PruneReport;
}

function outcome(report: Pick<PruneReport, 'actions'>, relation: string): string | undefined {
  const action = report.actions.find((a) => a.action === 'drop_partition' && a.relation === relation);
  return action?.action === 'drop_partition'
    ? action.kept_because
      ? `${action.status}: ${action.kept_because}`
      : action.status
    : undefined;
}

async function tradesOfDay(url: string): Promise<number> {
  const client = await connect(url);
  try {
    const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM trades WHERE ts >= $1 AND ts < $1::date + 1`, [DAY]);
    return rows[0]?.n ?? -1;
  } finally {
    await client.end();
  }
}

describe.each(Object.keys(STORES) as (keyof typeof STORES)[])('an object overwritten in place, in %s', (storeName) => {
  it('keeps the partition although its size and footer are intact, and restore refuses the object with ArchiveIntegrityError', async () => {
    const url = await database();
    await s3.clear();
    const target = STORES[storeName](url);
    expect((await archive(target.ctx, { archiveAfterDays: 2, table: 'trades', day: DAY })).partitions_archived).toBe(1);
    const original = await target.bytes(KEY);
    // The middle of the data, between the leading magic and the footer: same size, footer intact.
    const footerStart = original.length - 8 - original.readUInt32LE(original.length - 8);
    const tampered = Buffer.from(original);
    const middle = Math.floor((4 + footerStart) / 2);
    for (let i = middle; i < middle + 8; i++) tampered[i] = (tampered[i] ?? 0) ^ 0xff;
    await target.overwrite(KEY, tampered);
    const [ledger] = (await ledgerOf(url)).filter((row) => row.table_name === 'trades');
    const footer = await readFooter(target.store, KEY);
    expect({ bytes: footer.bytes, rows: footer.rows }).toEqual({ bytes: ledger?.bytes, rows: ledger?.rows });

    const report = await pruneKeeping(target.ctx);
    expect(outcome(report, 'trades_2026_06_01')).toMatch(
      /^kept: .*trades_2026_06_01\.parquet changed after it was archived: its SHA-256 is [0-9a-f]{64}, the ledger recorded [0-9a-f]{64} \(same size and footer\); archive the day again$/,
    );
    expect(await tradesOfDay(url)).toBe(20);

    const check = restore(target.ctx, { table: 'trades', day: DAY, dryRun: true });
    await expect(check).rejects.toBeInstanceOf(ArchiveIntegrityError);
    await expect(check).rejects.toThrow(/changed after it was archived: its SHA-256 is [0-9a-f]{64}, the archive ledger recorded/);
  });
});

it('a damaged object whose ledger row has no hash fails restore with ArchiveIntegrityError (exit 7), not a bare error', async () => {
  const url = await database();
  const target = STORES['a directory'](url);
  await archive(target.ctx, { archiveAfterDays: 2, table: 'trades', day: DAY });
  const original = await target.bytes(KEY);
  // The first page header (right after the magic) destroyed: the rows cannot be decoded.
  const damaged = Buffer.from(original);
  damaged.fill(0xff, 4, 40);
  await target.overwrite(KEY, damaged);
  const client = await connect(url);
  await client.query(`UPDATE archive_ledger SET object_sha256 = NULL`).catch(() => {});
  await client.query(`DROP TABLE trades_2026_06_01`);
  await client.end();

  const run = restore(target.ctx, { table: 'trades', day: DAY });
  await expect(run).rejects.toBeInstanceOf(ArchiveIntegrityError);
  await expect(run).rejects.toThrow(
    /^restore trades 2026-06-01: .*trades_2026_06_01\.parquet cannot be read: .*the day was left as it was/,
  );
  expect(await tradesOfDay(url)).toBe(0);
});

it('one late row in and one archived row out: the count matches the ledger, the rows do not; prune keeps the day and the late row', async () => {
  const url = await database();
  const target = STORES['a directory'](url);
  await archive(target.ctx, { archiveAfterDays: 2, table: 'trades', day: DAY });
  const client = await connect(url);
  await client.query(`INSERT INTO trades (exchange_id, symbol, ts, price, size) VALUES (1, 'LATE', '2026-06-01T10:00:00Z', 1, 1)`);
  await client.query(`DELETE FROM trades WHERE id = (SELECT min(id) FROM trades_2026_06_01 WHERE symbol <> 'LATE')`);
  expect(await tradesOfDay(url)).toBe(20);

  const report = await pruneKeeping(target.ctx);
  expect(outcome(report, 'trades_2026_06_01')).toMatch(
    /^kept: trades_2026_06_01 holds 20 rows with checksum md5-60-sum:\d+, the archive 20 rows with md5-60-sum:\d+: rows changed after it was archived; the next archive run archives the day again$/,
  );
  const { rows } = await client.query(`SELECT tableoid::regclass::text AS part FROM trades WHERE symbol = 'LATE'`);
  expect(rows).toEqual([{ part: 'trades_2026_06_01' }]);
  expect(await tradesOfDay(url)).toBe(20);
  // A dry run proves the rows the same way, without detaching anything.
  const preview = await prune(target.ctx, { ...DROP, dryRun: true });
  expect(outcome(preview, 'trades_2026_06_01')).toMatch(/^kept: trades_2026_06_01 holds 20 rows with checksum/);
  await client.end();
});

it('a late row written while prune drops its day is never lost: it waits in the DEFAULT partition', async () => {
  const url = await database();
  const target = STORES['a directory'](url);
  await archive(target.ctx, { archiveAfterDays: 2, table: 'trades', day: DAY });
  const ctx = { ...target.ctx, settings: { ...target.ctx.settings, dropGroupSize: 1 } };
  const writer = await connect(url);
  const arrived: string[] = [];
  interceptStatements(ctx, {
    async before(text) {
      // Right before the drop of the verified day, and before the proof of its rows, a writer adds a row of that day.
      const moment = /^DROP TABLE "trades_2026_06_01"/.test(text)
        ? 'drop'
        : /^SELECT count\(\*\) AS rows,[\s\S]*"trades_2026_06_01"/.test(text)
          ? 'proof'
          : '';
      if (!moment || arrived.includes(moment)) return;
      arrived.push(moment);
      await writer.query(`INSERT INTO trades (exchange_id, symbol, ts, price, size) VALUES (1, $1, '2026-06-01T10:00:00Z', 1, 1)`, [
        `LATE-${moment}`,
      ]);
    },
  });
  const report = await pruneKeeping(ctx);
  const { rows } = await writer.query(
    `SELECT symbol, tableoid::regclass::text AS part FROM trades WHERE symbol LIKE 'LATE%' ORDER BY symbol`,
  );
  expect(rows).toEqual([
    { symbol: 'LATE-drop', part: 'trades_default' },
    { symbol: 'LATE-proof', part: 'trades_default' },
  ]);
  expect(arrived).toEqual(['proof', 'drop']);
  expect(outcome(report, 'trades_2026_06_01')).toBe('done');
  await writer.end();
});

it('a late row of a day prune dropped: archive refuses to write it over the archived day; restore brings both back, then archive writes the whole day', async () => {
  const url = await database();
  const target = STORES['a directory'](url);
  await archive(target.ctx, { archiveAfterDays: 2, table: 'trades', day: DAY });
  const archived = await target.bytes(KEY);
  const report = await pruneKeeping(target.ctx);
  expect(outcome(report, 'trades_2026_06_01')).toBe('done');
  expect((await ledgerOf(url)).find((row) => row.day === DAY)?.dropped_at).toEqual(expect.any(String));

  // The late row lands in DEFAULT; the partitions run makes the day again, holding that row alone.
  const client = await connect(url);
  await client.query(`INSERT INTO trades (exchange_id, symbol, ts, price, size) VALUES (1, 'LATE', '2026-06-01T10:00:00Z', 1, 1)`);
  await ensurePartitions(target.ctx, { daysAhead: 1 });
  const refused = await archive(target.ctx, { archiveAfterDays: 2, table: 'trades', day: DAY }).catch((error: unknown) => error);
  expect(refused).toBeInstanceOf(PartialFailureError);
  expect((refused as Error).message).toMatch(
    /prune dropped trades 2026-06-01 after archiving it .*Run `restore --table trades --day 2026-06-01`/,
  );
  expect((await target.bytes(KEY)).equals(archived)).toBe(true);

  const restored = await restore(target.ctx, { table: 'trades', day: DAY });
  expect(restored).toMatchObject({ status: 'restored', rows_loaded: 20, late_rows: 1 });
  const again = await archive(target.ctx, { archiveAfterDays: 2, table: 'trades', day: DAY });
  expect(again.partitions.map((p) => [p.day, p.status, p.rows])).toEqual([[DAY, 'archived', 21]]);
  expect((await ledgerOf(url)).find((row) => row.day === DAY)).toMatchObject({ rows: 21, dropped_at: null });
  await client.end();
});

it('restore --replace of a day prune dropped keeps the rows that came since: they exist nowhere else', async () => {
  const url = await database();
  const target = STORES['a directory'](url);
  await archive(target.ctx, { archiveAfterDays: 2, table: 'trades', day: DAY });
  await pruneKeeping(target.ctx);
  const client = await connect(url);
  await client.query(`INSERT INTO trades (exchange_id, symbol, ts, price, size) VALUES (1, 'LATE', '2026-06-01T10:00:00Z', 1, 1)`);
  await ensurePartitions(target.ctx, { daysAhead: 1 });
  const restored = await restore(target.ctx, { table: 'trades', day: DAY, replace: true });
  expect(restored).toMatchObject({ status: 'restored', rows_loaded: 20, late_rows: 1, kept_table: null });
  const { rows } = await client.query(`SELECT tableoid::regclass::text AS part FROM trades WHERE symbol = 'LATE'`);
  expect(rows).toEqual([{ part: 'trades_2026_06_01' }]);
  await client.end();
});

it('a day partition not named as the partitions run names it is kept, never detached: a failed proof could not be attached again', async () => {
  const url = await database();
  const target = STORES['a directory'](url);
  await archive(target.ctx, { archiveAfterDays: 2, table: 'trades', day: '2026-06-02' });
  const client = await connect(url);
  await client.query('ALTER TABLE trades_2026_06_02 RENAME TO trades_renamed');
  const report = await pruneKeeping(target.ctx);
  expect(outcome(report, 'trades_renamed')).toBe(
    'kept: trades_renamed is not named trades_2026_06_02: prune detaches only a day partition the partitions run can attach again',
  );
  const { rows } = await client.query(`SELECT relispartition FROM pg_class WHERE relname = 'trades_renamed'`);
  expect(rows).toEqual([{ relispartition: true }]);
  await client.end();
});

it('a dry run stops before the Lambda deadline between archive checks (each reads the object and scans the day), with the report so far', async () => {
  const url = await database();
  const target = STORES['a directory'](url);
  await archive(target.ctx, { archiveAfterDays: 2, table: 'trades' });
  const ctx: OperationContext = { ...target.ctx, timeLeftMs: () => 1_000 };
  const run = prune(ctx, { ...DROP, dryRun: true });
  await expect(run).rejects.toBeInstanceOf(DeadlineError);
  await expect(run).rejects.toThrow(/^stopped before checking the archive of \w+_2026_06_01/);
});

it('a ledger row written before the content hash keeps its day; the next archive run archives it again, and prune then drops it', async () => {
  const url = await database();
  const target = STORES['a directory'](url);
  await archive(target.ctx, { archiveAfterDays: 2, table: 'trades', day: DAY });
  const client = await connect(url);
  await client.query(`UPDATE archive_ledger SET object_sha256 = NULL`);

  const report = await pruneKeeping(target.ctx);
  expect(outcome(report, 'trades_2026_06_01')).toBe(
    "kept: the ledger row of trades 2026-06-01 was written by an older version, without the object's SHA-256: its archive cannot be proven; the next archive run archives the day again",
  );
  const again = await archive(target.ctx, { archiveAfterDays: 2, table: 'trades', day: DAY });
  expect(again.partitions).toMatchObject([
    { partition: 'trades_2026_06_01', reason: 'archived without a content hash', status: 'archived' },
  ]);
  expect(outcome(await pruneKeeping(target.ctx), 'trades_2026_06_01')).toBe('done');
  await client.end();
});

it('archive to another folder archives the days there (the ledger names where), and prune then drops them', async () => {
  const url = await database();
  const first = STORES['a directory'](url);
  await archive(first.ctx, { archiveAfterDays: 2, table: 'trades', day: DAY });
  const second = STORES['a directory'](url);

  const moved = await archive(second.ctx, { archiveAfterDays: 2, table: 'trades', day: DAY });
  expect(moved.partitions_already_archived).toBe(0);
  expect(moved.partitions).toMatchObject([{ partition: 'trades_2026_06_01', reason: 'archived elsewhere', status: 'archived' }]);
  expect((await ledgerOf(url)).map((row) => row.location)).toEqual([second.store.location]);
  expect((await second.bytes(KEY)).length).toBeGreaterThan(0);
  expect(outcome(await pruneKeeping(second.ctx), 'trades_2026_06_01')).toBe('done');
});

it('a symbolic link inside the archive directory that leads out of it: nothing is written outside, the day is not recorded', async () => {
  const url = await database();
  const directory = archiveDirectory();
  const outside = mkdtempSync(join(tmpdir(), 'outside-'));
  symlinkSync(outside, join(directory, PREFIX));
  const ctx = withArchive(testContext(url, { now: NOW }), { directory, prefix: PREFIX });

  const run = archive(ctx, { archiveAfterDays: 2, table: 'trades', day: DAY });
  await expect(run).rejects.toBeInstanceOf(PartialFailureError);
  await expect(run).rejects.toThrow(/points outside the archive directory .* leads to /);
  expect(readdirSync(outside)).toEqual([]);
  expect(await ledgerOf(url)).toEqual([]);
  // A link to the file itself is refused for reading too.
  mkdirSync(join(directory, 'real'));
  symlinkSync(join(outside, 'x.parquet'), join(directory, 'real', 'x.parquet'));
  writeFileSync(join(outside, 'x.parquet'), 'outside');
  await expect(createDirectoryStore(directory).read('real/x.parquet', 0, 7)).rejects.toThrow('points outside the archive directory');
});

it('a directory store refuses a key with a . or .. segment: the ledger would name one file and the store write another', async () => {
  const directory = archiveDirectory();
  const store = createDirectoryStore(directory);
  const body = (async function* () {
    yield new Uint8Array([1]);
  })();
  await expect(store.put('a/../b/x.parquet', body)).rejects.toThrow(
    /points outside the archive directory .*\(an empty, \. or \.\. segment\)/,
  );
  await expect(store.size('a/./x.parquet')).rejects.toThrow('points outside the archive directory');
  expect(readdirSync(directory)).toEqual([]);
});

it('the Lambda deadline arriving after the detach: the days not proven yet are attached again, with every row, and the run stops with DeadlineError', async () => {
  const url = await database();
  const target = STORES['a directory'](url);
  await archive(target.ctx, { archiveAfterDays: 2, table: 'trades' });
  let detached = false;
  const ctx: OperationContext = { ...target.ctx, timeLeftMs: () => (detached ? 1_000 : 600_000) };
  interceptStatements(ctx, {
    async after(text) {
      if (text.startsWith('ALTER TABLE "trades" DETACH PARTITION')) detached = true;
    },
  });
  const run = prune(ctx, DROP);
  await expect(run).rejects.toBeInstanceOf(DeadlineError);
  await expect(run).rejects.toThrow(/^stopped before prove and drop trades_2026_06_01: /);
  const client = await connect(url);
  const { rows } = await client.query<{ part: string; n: number }>(
    `SELECT tableoid::regclass::text AS part, count(*)::int AS n FROM trades WHERE ts < '2026-06-06' GROUP BY 1 ORDER BY 1`,
  );
  expect(rows).toEqual(['01', '02', '03', '04', '05'].map((d) => ({ part: `trades_2026_06_${d}`, n: 20 })));
  const loose = await client.query(
    `SELECT relname FROM pg_class WHERE relkind = 'r' AND relname LIKE 'trades\\_2026%' AND NOT relispartition`,
  );
  expect(loose.rows).toEqual([]);
  await client.end();
});

it('prune killed after the detach: the detached days keep every row, and the next partitions run attaches them again', async () => {
  const url = await database();
  const target = STORES['a directory'](url);
  await archive(target.ctx, { archiveAfterDays: 2, table: 'trades' });
  const ctx = target.ctx;
  const admin = await connect(url);
  let killed = false;
  interceptStatements(ctx, {
    async before(text, session) {
      // The worst moment: the days are out of their parent and not dropped yet.
      if (killed || !text.startsWith('LOCK TABLE "trades_2026_06_01" IN SHARE MODE')) return;
      killed = true;
      await admin.query('SELECT pg_terminate_backend($1)', [(session as unknown as { processID: number }).processID]);
    },
  });
  await expect(prune(ctx, DROP)).rejects.toThrow();
  expect(killed).toBe(true);
  const hidden = await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM trades WHERE ts < '2026-06-06'`);
  expect(hidden.rows[0]?.n).toBe(0);

  await withContext(url, { now: NOW }, (fresh) => ensurePartitions(fresh, { daysAhead: 1 }));
  const { rows } = await admin.query<{ part: string; n: number }>(
    `SELECT tableoid::regclass::text AS part, count(*)::int AS n FROM trades WHERE ts < '2026-06-06' GROUP BY 1 ORDER BY 1`,
  );
  expect(rows).toEqual(['01', '02', '03', '04', '05'].map((d) => ({ part: `trades_2026_06_${d}`, n: 20 })));
  await admin.end();
});
