import { beforeAll, describe, expect, it } from 'vitest';
import { archive } from '../../functions/operations/archive/archive';
import { migrate } from '../../functions/operations/migrate/migrate';
import { ensurePartitions } from '../../functions/operations/partitions/partitions';
import { restore } from '../../functions/operations/restore/restore';
import { vacuum } from '../../functions/operations/vacuum/vacuum';
import type { OperationContext } from '../../functions/shared/context';
import type { ProgressEvent } from '../../functions/shared/progress';
import { TIME_SERIES_TABLES } from '../../functions/shared/tables';
import { archiveDirectory, withArchive } from '../support/archive';
import { insertManyTrades } from '../support/archive-rows';
import { connect, createTestDatabase, testContext } from '../support/database';
import { seedDays } from '../support/rows';

/*
 * Each long operation, run for real, tells its progress as events: a start, advances with the
 * rows done so far (never going back), and one finish whose rows are the report's.
 */

const NOW = new Date('2026-06-15T12:00:00Z');
const DAY = '2026-06-10';
/** More than the export's and the load's batches (8,192 and 65,536 rows): advances in between. */
const MANY = 70_000;

let url: string;
const events: ProgressEvent[] = [];
let ctx: OperationContext;

beforeAll(async () => {
  url = await createTestDatabase();
  ctx = withArchive(
    { ...testContext(url, { now: NOW, settings: { batchSize: 500 } }), progress: (event) => events.push(event) },
    { directory: archiveDirectory() },
  );
  await migrate(ctx);
  // No day partition yet: every row waits in the DEFAULT partitions, for recovery to place.
  const client = await connect(url);
  await seedDays(client, { from: '2026-06-09', days: 3, rowsPerDay: 300 });
  await insertManyTrades(client, DAY, MANY);
  await client.end();
});

/** The events of one task (and table), emptied for the next run. */
function take(task: ProgressEvent['task'], table?: string): ProgressEvent[] {
  const taken = events.filter((e) => e.task === task && (table === undefined || e.table === table));
  events.length = 0;
  return taken;
}

/** One piece's events: start first, finish last, rows done never going back. */
function expectOnePiece(piece: ProgressEvent[]): ProgressEvent {
  expect(piece[0]?.phase).toBe('start');
  expect(piece.filter((e) => e.phase === 'finish')).toHaveLength(1);
  expect(piece.at(-1)?.phase).toBe('finish');
  const done = piece.map((e) => e.done);
  expect(done).toEqual([...done].sort((a, b) => a - b));
  return piece.at(-1) as ProgressEvent;
}

describe('progress events of a real run', () => {
  it('recovery: a piece per table, its rows placed as the report says', async () => {
    const report = await ensurePartitions(ctx, { daysAhead: 2 });
    const all = [...events];
    for (const table of TIME_SERIES_TABLES) {
      const piece = all.filter((e) => e.task === 'recovery' && e.table === table);
      const result = report.tables.find((t) => t.table === table);
      expect(result?.rows_moved).toBeGreaterThan(0);
      expect(expectOnePiece(piece)).toMatchObject({ unit: 'rows', outcome: 'placed', done: result?.rows_moved, estimated: true });
      // Batches of 500 rows: the table's rows placed in many advances.
      expect(piece.filter((e) => e.phase === 'advance').length).toBeGreaterThan(1);
    }
    take('recovery');
  });

  it('archive: a piece for the day, advancing with the rows read, finishing with the rows archived', async () => {
    const report = await archive(ctx, { archiveAfterDays: 2, table: 'trades', day: DAY });
    const piece = take('archive', 'trades');
    const final = expectOnePiece(piece);
    expect(report.partitions[0]?.rows).toBe(MANY + 300);
    expect(final).toMatchObject({ day: DAY, outcome: 'archived', done: report.partitions[0]?.rows, unit: 'rows' });
    expect(piece.filter((e) => e.phase === 'advance').map((e) => e.done)).toEqual(
      Array.from({ length: Math.floor((MANY + 300) / 8_192) }, (_, i) => (i + 1) * 8_192),
    );
  });

  it('restore: a piece for the day, its total the archive file rows, finishing with the rows loaded', async () => {
    const report = await restore(ctx, { table: 'trades', day: DAY, replace: true });
    const piece = take('restore', 'trades');
    const final = expectOnePiece(piece);
    expect(report.rows_loaded).toBe(MANY + 300);
    expect(piece[0]).toMatchObject({ day: DAY, total: MANY + 300, done: 0 });
    expect(piece[0]?.estimated).toBeUndefined();
    expect(final).toMatchObject({ outcome: 'restored', done: report.rows_loaded });
    expect(piece.filter((e) => e.phase === 'advance').map((e) => e.done)).toEqual([65_536, MANY + 300]);
  });

  it('vacuum: one piece for the run, in bytes of the relations it went through', async () => {
    const plan = await vacuum(ctx, { dryRun: true });
    const client = await connect(url);
    const { rows } = await client.query<{ bytes: string }>(
      'SELECT sum(pg_relation_size(quote_ident(r)::regclass))::text AS bytes FROM unnest($1::text[]) r',
      [plan.steps.map((step) => step.relation)],
    );
    await client.end();
    events.length = 0;
    const report = await vacuum(ctx, {});
    expect(report.partitions_sealed).toBeGreaterThan(0);
    const piece = take('vacuum');
    const final = expectOnePiece(piece);
    expect(piece.filter((e) => e.phase === 'advance')).toHaveLength(report.steps.length);
    expect(piece[0]).toMatchObject({ unit: 'bytes', total: Number(rows[0]?.bytes) });
    expect(final).toMatchObject({ outcome: 'done', done: Number(rows[0]?.bytes) });
  });
});
