import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { archive } from '../../../functions/operations/archive/archive';
import { type PruneAction, type PruneReport, prune } from '../../../functions/operations/prune/prune';
import { archiveObjectKey, DEFAULT_ARCHIVE_PREFIX } from '../../../functions/shared/archive/layout';
import { PartialFailureError } from '../../../functions/shared/errors';
import { TIME_SERIES_TABLES } from '../../../functions/shared/tables';
import { seededCopies } from '../../support/archive';
import { connect, testContext } from '../../support/database';
import { interceptStatements } from '../../support/intercept';
import { auditBlockingLocks } from '../../support/lock-audit';
import { dataFingerprint, seedDays } from '../../support/rows';
import { type LocalS3, startLocalS3 } from '../../support/s3';

/*
 * With archiving configured, prune drops a day partition only when its archive is verified: a
 * ledger row, the object there with the recorded size and rows, and the partition still holding
 * the recorded rows. Without archiving, it drops as it always did.
 */

const NOW = new Date('2026-06-15T12:00:00Z');
const PREFIX = DEFAULT_ARCHIVE_PREFIX;
/** Drops the partitions of 2026-06-01 to 2026-06-05 (they end on or before 2026-06-08). */
const DROP = { dropPartitionsOlderThanDays: 7 };

let s3: LocalS3;
beforeAll(async () => {
  // The SDK warns once that its 2027 releases need Node 22; these machines run Node 20 (Lambda runs 24).
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  s3 = await startLocalS3();
});
afterAll(async () => {
  await s3?.stop();
});

const database = seededCopies(NOW, (client) => seedDays(client, { from: '2026-06-01', days: 5, rowsPerDay: 20 }));

/**
 * trades: 06-01 archived and verified; 06-02 never archived; 06-03's object deleted; 06-04's
 * object overwritten with garbage; 06-05 given a late row after its archive. tickers: every day
 * archived. orderbooks, funding_rates: nothing archived.
 */
async function archivedDatabase(): Promise<string> {
  const url = await database();
  await s3.clear();
  const ctx = archiveContext(url);
  for (const day of ['2026-06-01', '2026-06-03', '2026-06-04', '2026-06-05'])
    await archive(ctx, { archiveAfterDays: 2, table: 'trades', day });
  expect((await archive(ctx, { archiveAfterDays: 2, table: 'tickers' })).partitions_archived).toBe(5);
  const key = (day: string) => archiveObjectKey(PREFIX, 'trades', day);
  await s3.client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: key('2026-06-03') }));
  await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key('2026-06-04'), Body: 'not parquet' }));
  const client = await connect(url);
  await client.query(`INSERT INTO trades (exchange_id, symbol, ts, price, size) VALUES (1, 'LATE', '2026-06-05T10:00:00Z', 1, 1)`);
  return url;
}

function archiveContext(url: string) {
  return { ...testContext(url, { now: NOW }), archive: { bucket: s3.bucket, endpointUrl: s3.endpointUrl, prefix: PREFIX } };
}

/** The drop actions of a report as relation -> status and reason. */
function drops(actions: PruneAction[]): Record<string, string> {
  return Object.fromEntries(
    actions.flatMap((a) =>
      a.action === 'drop_partition' ? [[a.relation, a.kept_because ? `${a.status}: ${a.kept_because}` : a.status]] : [],
    ),
  );
}

const TRADES_KEPT = {
  trades_2026_06_02: 'kept: not archived: the archive ledger has no row for trades 2026-06-02 (run archive first)',
  trades_2026_06_03: expect.stringMatching(/^kept: the archived object cannot be read \(.*no such object\); archive the day again$/),
  trades_2026_06_04: expect.stringMatching(/^kept: the archived object cannot be read \(.*\); archive the day again$/),
  trades_2026_06_05:
    'kept: trades_2026_06_05 holds 21 rows, the archive 20: rows changed after it was archived; the next archive run archives the day again',
};

it('drops only the partitions whose archive is verified, keeps the others with the reason, and fails the run as partial', async () => {
  const url = await archivedDatabase();
  const ctx = archiveContext(url);
  const before = await dataFingerprint(url);

  const preview = await prune(ctx, { ...DROP, dryRun: true });
  expect(preview.archive).toBe(`s3://${s3.bucket}`);
  expect(drops(preview.actions)).toMatchObject({ trades_2026_06_01: 'planned', ...TRADES_KEPT, tickers_2026_06_01: 'planned' });
  expect(preview.partitions_planned).toBe(1 + 5);
  expect(preview.partitions_kept).toBe(4 + 2 * 5);
  expect(await dataFingerprint(url)).toEqual(before);

  const run = prune(ctx, DROP);
  await expect(run).rejects.toBeInstanceOf(PartialFailureError);
  await expect(run).rejects.toThrow(
    'prune: kept 14 partitions whose archive is not verified, first: orderbooks_2026_06_01: not archived: the archive ledger has no row for orderbooks 2026-06-01 (run archive first)',
  );
  const report = (await run.catch((error: PartialFailureError) => error.report)) as PruneReport;
  expect(drops(report.actions)).toMatchObject({ trades_2026_06_01: 'done', ...TRADES_KEPT, tickers_2026_06_05: 'done' });
  expect(report.partitions_dropped).toBe(6);
  expect(report.partitions_kept).toBe(14);
  const client = await connect(url);
  for (const table of TIME_SERIES_TABLES) {
    const { rows } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = $1::regclass AND inhrelid::regclass::text LIKE '%2026_06_0%'`,
      [table],
    );
    const kept = { trades: 4, tickers: 0, orderbooks: 5, funding_rates: 5 }[table];
    expect(rows[0]?.n, table).toBe(kept);
  }
});

it('drops every old partition unverified when archiving is not configured, as before', async () => {
  const url = await archivedDatabase();
  const report = await prune(testContext(url, { now: NOW }), DROP);
  expect(report.archive).toBeNull();
  expect(report.partitions_kept).toBe(0);
  expect(report.partitions_dropped).toBe(4 * 5);
  expect(report.actions.every((a) => a.status === 'done')).toBe(true);
});

it("checks each archive just before its group's drop: a row that comes while prune runs keeps its day", async () => {
  const url = await archivedDatabase();
  // Groups of two: tickers 06-01 and 06-02, then 06-03 and 06-04, then 06-05.
  const ctx = { ...archiveContext(url), settings: { ...archiveContext(url).settings, dropGroupSize: 2 } };
  const writer = await connect(url);
  let arrived = false;
  interceptStatements(ctx, {
    async before(text) {
      // While prune drops the first group of verified days, a late row comes into a day of the next.
      if (arrived || !/DROP TABLE "tickers_2026_06_01"/.test(text)) return;
      arrived = true;
      await writer.query(`INSERT INTO tickers (exchange_id, symbol, ts) VALUES (1, 'LATE', '2026-06-03T10:00:00Z')`);
    },
  });
  const report = (await prune(ctx, DROP).catch((error: PartialFailureError) => error.report)) as PruneReport;
  expect(arrived).toBe(true);
  expect(drops(report.actions)).toMatchObject({
    tickers_2026_06_01: 'done',
    tickers_2026_06_02: 'done',
    tickers_2026_06_03:
      'kept: tickers_2026_06_03 holds 21 rows, the archive 20: rows changed after it was archived; the next archive run archives the day again',
    tickers_2026_06_04: 'done',
  });
  const { rows } = await writer.query(`SELECT tableoid::regclass::text AS part FROM tickers WHERE symbol = 'LATE'`);
  expect(rows).toEqual([{ part: 'tickers_2026_06_03' }]);
});

it('keeps a day whose row came after its check, while the rest of its group was checked: the proof after the detach finds it and the day is attached again; only the detach and the attach hold inserts back', async () => {
  const url = await archivedDatabase();
  const ctx = archiveContext(url);
  const writer = await connect(url);
  let arrived = false;
  interceptStatements(ctx, {
    async before(text) {
      // tickers 06-01 to 06-05 are one group: 06-02 is checked, then a row comes while 06-04 is counted.
      if (arrived || !/^SELECT count\(\*\) AS rows FROM "tickers_2026_06_04"/.test(text)) return;
      arrived = true;
      await writer.query(`INSERT INTO tickers (exchange_id, symbol, ts) VALUES (1, 'LATE', '2026-06-02T10:00:00Z')`);
    },
  });
  const audit = await auditBlockingLocks(ctx, url);
  const report = (await prune(ctx, DROP).catch((error: PartialFailureError) => error.report)) as PruneReport;
  expect(arrived).toBe(true);
  expect(drops(report.actions)).toMatchObject({
    tickers_2026_06_01: 'done',
    tickers_2026_06_02: expect.stringMatching(
      /^kept: tickers_2026_06_02 holds 21 rows with checksum md5-60-sum:\d+, the archive 20 rows with md5-60-sum:\d+: rows changed after it was archived; the next archive run archives the day again$/,
    ),
    tickers_2026_06_03: 'done',
    tickers_2026_06_04: 'done',
    tickers_2026_06_05: 'done',
  });
  // The day is a partition again, with its 20 archived rows and the late one.
  const { rows } = await writer.query(
    `SELECT tableoid::regclass::text AS part, count(*) OVER ()::int AS n FROM tickers WHERE symbol = 'LATE'`,
  );
  expect(rows).toEqual([{ part: 'tickers_2026_06_02', n: 1 }]);
  const day = await writer.query(`SELECT count(*)::int AS n FROM tickers WHERE ts >= '2026-06-02' AND ts < '2026-06-03'`);
  expect(day.rows[0].n).toBe(21);
  // The counts, the hashing and the proofs (on detached tables) hold no lock inserts wait for; the
  // detach of each group and the attach of the changed day do, briefly, on the parent and on the
  // tables the keys reference.
  const holding = audit.filter((a) => a.blocking.length > 0);
  expect(holding.map((a) => a.statement.split(';')[0])).toEqual([
    'ALTER TABLE "tickers" DETACH PARTITION "tickers_2026_06_01"',
    expect.stringMatching(/^SELECT set_config\('synchronous_commit'/),
    'ALTER TABLE "trades" DETACH PARTITION "trades_2026_06_01"',
  ]);
  expect(holding[1]?.statement).toContain('ATTACH PARTITION "tickers_2026_06_02"');
  const proofs = audit.filter((a) => a.statement.startsWith('SELECT count(*) AS rows,'));
  expect(proofs.length).toBe(6);
  expect(proofs.every((a) => a.blocking.length === 0)).toBe(true);
  expect(audit.filter((a) => a.statement.startsWith('DROP TABLE')).every((a) => a.blocking.length === 0)).toBe(true);
});
