import { ensurePartitions } from '../../functions/operations/partitions/partitions';
import { addDays, dayOf, daySeries, dayStart, daysBetween } from '../../functions/shared/days';
import { quoteIdent } from '../../functions/shared/db/identifiers';
import { TIME_SERIES_TABLES } from '../../functions/shared/tables';
import { createDayPartitions, loadDefaultBacklog, seedMarkets } from '../support/data';
import { type BenchDatabase, createBenchDatabase } from '../support/database';
import {
  afterPartman,
  countDayPartitions,
  createParents,
  measureInProcess,
  PREMAKE,
  partmanDatabase,
  partmanPartitionName,
} from '../support/partman-session';
import { partitionDataSql } from '../support/partman-sql';
import { SCALE_SYMBOLS } from '../support/scale-data';
import type { MeasuredOperation } from '../support/scenario';
import { allVisible } from './recovery';

/** A DEFAULT backlog of scenario 3: the partitions job did not run for three days. Days are offsets from today. */
export interface BacklogShape {
  name: string;
  /** The day partitions that exist. */
  present: number[];
  /** The backlog's rows start at 00:00 UTC of this day. */
  from: number;
  /** The rows reach now (the writer's rows for today land in the DEFAULT partition too), or stop at the end of yesterday. */
  through: 'now' | 'yesterday';
}

/**
 * The backlog as the broken schedule leaves it: days -2 to now in the DEFAULT partitions, the
 * writer's rows for today going there too until today's partition exists.
 */
export const BACKLOG_THROUGH_NOW: BacklogShape = { name: 'days -2 to now', present: [-3], from: -2, through: 'now' };
/** The same three days one day earlier, with today's partition present: the writer's rows never touch the DEFAULT partition. */
export const BACKLOG_OF_PAST_DAYS: BacklogShape = {
  name: 'days -3 to -1, today present',
  present: [-4, 0],
  from: -3,
  through: 'yesterday',
};

/** partition_data_proc's loop limit: as in the run, more than the backlog's days. */
const PARTMAN_BATCH = 200;

/** One recovery: its measurement, and whether every backlog row ended visible through its parent. */
interface Recovered {
  measured: MeasuredOperation;
  visible: boolean;
}

/** What a run of one shape starts from, on a fresh database. */
interface Backlog {
  shape: BacklogShape;
  rowsPerTable: number;
  today: string;
  /** The days of `shape.present`. */
  present: string[];
  name: string;
}

/**
 * Scenario 3, one shape, on two fresh databases: ours is `partitions` for today, pg_partman
 * partition_data_proc per table; both create the backlog's day partitions.
 */
export async function compareRecovery(adminUrl: string, rowsPerTable: number, shape: BacklogShape, log: (line: string) => void) {
  const today = dayOf(new Date());
  const backlog: Backlog = {
    shape,
    rowsPerTable,
    today,
    present: shape.present.map((offset) => addDays(today, offset)),
    name: `a backlog of ${rowsPerTable.toExponential(1)} rows per table, ${shape.name}`,
  };
  const ours = await oursRecovery(adminUrl, backlog, log);
  const partman = await partmanRecovery(adminUrl, backlog, log);
  return {
    comparison: {
      scenario: `DEFAULT backlog ${rowsPerTable.toExponential(0)} x 4 over 3 days (${shape.name})`,
      ours: ours.measured,
      partman: partman.measured,
    },
    visible: { shape: shape.name, ours: ours.visible, partman: partman.visible },
  };
}

/** The backlog's rows into the DEFAULT partitions (setup); returns when its rows end. */
async function loadBacklog(db: BenchDatabase, backlog: Backlog, log: (line: string) => void): Promise<Date> {
  const { shape, today, rowsPerTable } = backlog;
  const to = shape.through === 'now' ? new Date() : new Date(dayStart(today).getTime() - 1000);
  for (const table of TIME_SERIES_TABLES)
    await loadDefaultBacklog(db.url, table, rowsPerTable, dayStart(addDays(today, shape.from)), to, SCALE_SYMBOLS);
  // The load's own writes are not the recovery's to pay for.
  await db.query('CHECKPOINT');
  log(`partman: ${rowsPerTable} rows per table in the DEFAULT partitions (${shape.name})`);
  return to;
}

async function oursRecovery(adminUrl: string, backlog: Backlog, log: (line: string) => void): Promise<Recovered> {
  const db = await createBenchDatabase(adminUrl, 'bench_partman_ours');
  try {
    await seedMarkets(db.url, SCALE_SYMBOLS);
    await createDayPartitions(db.url, TIME_SERIES_TABLES, backlog.present);
    const loadedUntil = await loadBacklog(db, backlog, log);
    // Connected before the clock starts, as pg_partman's session is.
    await db.ctx.pool.query('SELECT 1');
    const measured = await measureInProcess(
      db,
      `ours: partitions, ${backlog.name}`,
      () => ensurePartitions(db.ctx, { daysAhead: 1 }),
      (r) => `${r.rows_moved} rows moved, ${r.partitions_created} partitions created`,
      log,
    );
    return { measured, visible: await allVisible(db.url, new Date(loadedUntil.getTime() + 1), backlog.rowsPerTable) };
  } finally {
    await db.drop();
  }
}

async function partmanRecovery(adminUrl: string, backlog: Backlog, log: (line: string) => void): Promise<Recovered> {
  const { present, today } = backlog;
  const { db, client } = await partmanDatabase(adminUrl);
  try {
    await seedMarkets(db.url, SCALE_SYMBOLS);
    const first = present[0] ?? today;
    await createParents(client, first);
    // Only the days ours has stay: the others are the backlog's, or after it.
    const absent = daySeries(first, daysBetween(first, today) + 1 + PREMAKE).filter((day) => !present.includes(day));
    for (const table of TIME_SERIES_TABLES)
      await db.query(`DROP TABLE ${absent.map((day) => quoteIdent(partmanPartitionName(table, day))).join(', ')}`);
    const loadedUntil = await loadBacklog(db, backlog, log);
    const move = async () => {
      for (const table of TIME_SERIES_TABLES) await client.query(partitionDataSql(table, PARTMAN_BATCH));
    };
    const measured = await afterPartman(
      await measureInProcess(db, `pg_partman: partition_data_proc x 4 (p_batch ${PARTMAN_BATCH}), ${backlog.name}`, move, () => '', log),
      async () => `${(await countDayPartitions(db)) - present.length * TIME_SERIES_TABLES.length} partitions created`,
    );
    return { measured, visible: await allVisible(db.url, new Date(loadedUntil.getTime() + 1), backlog.rowsPerTable) };
  } finally {
    await client.end();
    await db.drop();
  }
}
