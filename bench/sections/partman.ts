import pg from 'pg';
import { addDays, dayOf, daySeries, dayStart, daysBetween } from '../../functions/core/days';
import { quoteIdent } from '../../functions/core/db/identifiers';
import { ensurePartitions } from '../../functions/core/partitions';
import { prune } from '../../functions/core/prune';
import { TIME_SERIES_TABLES } from '../../functions/core/tables';
import { copyRows, createDayPartitions, loadDefaultBacklog, seedMarkets } from '../support/data';
import { type BenchDatabase, createBenchDatabase, MAINTENANCE_APP } from '../support/database';
import {
  adoptTableSql,
  defaultTsIndexSql,
  installPartmanSql,
  partitionDataSql,
  partmanVersionProblem,
  RUN_MAINTENANCE_SQL,
  retentionSql,
} from '../support/partman-sql';
import { SCALE_SYMBOLS } from '../support/scale-data';
import { type MeasuredOperation, measureOperation, runInProcess } from '../support/scenario';
import { allVisible } from './recovery';

/** One scenario, on two identical databases: our operation on one, pg_partman's on the other. */
export interface PartmanComparison {
  scenario: string;
  ours: MeasuredOperation;
  partman: MeasuredOperation;
}

/** The server both ran on. */
export interface PartmanServer {
  postgres: string;
  partman: string;
  /** The settings the large runs set, and the lock table's size, as this server has them. */
  settings: Record<string, string>;
}

export interface PartmanResult {
  server: PartmanServer;
  backlogRowsPerTable: number;
  /** After each recovery: every backlog row visible through its parent, no DEFAULT partition holding one. */
  backlogVisible: { shape: string; ours: boolean; partman: boolean }[];
  comparisons: PartmanComparison[];
}

/** Days ahead of today: premake 29 makes today and 29 more, as `daysAhead: 30` does. */
const PREMAKE = 29;
/** The retention scenario: 180 small old days, dropped as older than 20 days. */
const OLD_DAYS = 180;
const RETENTION_DAYS = 20;
const OLD_ROWS_PER_DAY = 1000;
/** partition_data_proc's loop limit: as in the issue's run, more than the backlog's days. */
const PARTMAN_BATCH = 200;
const SETTINGS = [
  'shared_buffers',
  'maintenance_work_mem',
  'max_wal_size',
  'checkpoint_timeout',
  'synchronous_commit',
  // pg_partman's retention drops every expired partition in one transaction: 720 of them nearly fill the default lock table.
  'max_locks_per_transaction',
];

/**
 * The server's PostgreSQL, the pg_partman it offers and its settings; throws an Error saying what
 * to do when it cannot run the section (no pg_partman 4.x, not a superuser).
 */
export async function inspectPartmanServer(url: string): Promise<PartmanServer> {
  const client = new pg.Client(url);
  await client.connect().catch((error: Error) => {
    throw new Error(`cannot connect to BENCH_PARTMAN_URL (${error.message}); check that the server runs and the URL's host, port and user`);
  });
  try {
    const { rows } = await client.query<{ postgres: string; partman: string | null; superuser: boolean }>(
      `SELECT current_setting('server_version') AS postgres,
              (SELECT default_version FROM pg_available_extensions WHERE name = 'pg_partman') AS partman,
              (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser`,
    );
    const found = rows[0];
    if (!found) throw new Error('the server at BENCH_PARTMAN_URL answered nothing');
    const problem = partmanVersionProblem(found.partman);
    if (problem) throw new Error(problem);
    if (!found.superuser)
      throw new Error('BENCH_PARTMAN_URL must log in as a superuser: the section creates and drops databases, roles and the extension');
    const settings: Record<string, string> = {};
    for (const name of SETTINGS) settings[name] = (await client.query('SELECT current_setting($1) AS v', [name])).rows[0]?.v;
    return { postgres: found.postgres, partman: found.partman ?? '?', settings };
  } finally {
    await client.end();
  }
}

/**
 * `--partman`: our `partitions` and `prune` against pg_partman 4.x on one server, in one run. Each
 * scenario runs on a fresh migrated database for ours and another for pg_partman, which then
 * manages our migrated parents (same tables, indexes and foreign keys). Ours are the core
 * operations in this process on a 1-connection pool; pg_partman's are its SQL calls on one
 * connected session; both named MAINTENANCE_APP for the lock watcher, while a writer inserts
 * today's rows one at a time.
 */
export async function partmanBench(
  adminUrl: string,
  server: PartmanServer,
  backlogRowsPerTable: number,
  log: (line: string) => void,
): Promise<PartmanResult> {
  const comparisons = await createThenNothingToDo(adminUrl, log);
  const backlog = await recoverBacklogs(adminUrl, backlogRowsPerTable, log);
  comparisons.push(...backlog.comparisons, await dropOldDays(adminUrl, log));
  return { server, backlogRowsPerTable, backlogVisible: backlog.visible, comparisons };
}

type Log = (line: string) => void;

/** measureOperation of work done in this process. */
async function measure<T>(db: BenchDatabase, name: string, work: () => Promise<T>, describe: (result: T) => string, log: Log) {
  const { result: _, ...measured } = await measureOperation(db.url, name, () => runInProcess(work), describe, log);
  return measured;
}

/** A session for pg_partman's calls; UTC, so create_parent's day boundaries are UTC days as ours are. */
async function partmanSession(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: MAINTENANCE_APP, options: '-c TimeZone=UTC' });
  await client.connect();
  return client;
}

/** A fresh migrated database with pg_partman installed, and a session for its calls. */
async function partmanDatabase(adminUrl: string): Promise<{ db: BenchDatabase; client: pg.Client }> {
  const db = await createBenchDatabase(adminUrl, 'bench_partman_theirs');
  const client = await partmanSession(db.url);
  for (const statement of installPartmanSql()) await client.query(statement);
  return { db, client };
}

/** Every table handed to pg_partman, each in a transaction of its own: partitions from `firstDay` to PREMAKE days ahead. */
async function adoptTables(client: pg.Client, firstDay: string): Promise<void> {
  for (const table of TIME_SERIES_TABLES) for (const statement of adoptTableSql(table, firstDay, PREMAKE)) await client.query(statement);
}

/** adoptTables as setup, then our migration's index on each DEFAULT partition create_parent made. */
async function createParents(client: pg.Client, firstDay: string): Promise<void> {
  await adoptTables(client, firstDay);
  for (const table of TIME_SERIES_TABLES) await client.query(defaultTsIndexSql(table));
}

/** Partitions of the four parents other than the DEFAULT ones. */
async function countDayPartitions(db: BenchDatabase): Promise<number> {
  const { rows } = await db.query(
    `SELECT count(*)::int AS n FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = ANY ($1::regclass[]) AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'`,
    [[...TIME_SERIES_TABLES]],
  );
  return rows[0]?.n ?? 0;
}

/** pg_partman's figure for a measured call: `describe` of what the catalog shows after, unless the call failed. */
async function afterPartman(measured: MeasuredOperation, describe: () => Promise<string>): Promise<MeasuredOperation> {
  return measured.detail.startsWith('FAILED') ? measured : { ...measured, detail: await describe() };
}

/** Scenarios 1 and 2: 30 days x 4 tables from none, then the same again with nothing to do. */
async function createThenNothingToDo(adminUrl: string, log: Log): Promise<PartmanComparison[]> {
  const today = dayOf(new Date());
  const ours = await createBenchDatabase(adminUrl, 'bench_partman_ours');
  let oursCreate: MeasuredOperation;
  let oursIdle: MeasuredOperation;
  try {
    // Connected before the clock starts, as pg_partman's session is.
    await ours.ctx.pool.query('SELECT 1');
    const run = () => ensurePartitions(ours.ctx, { daysAhead: 30 });
    oursCreate = await measure(ours, 'ours: partitions, 30 days ahead', run, (r) => `${r.partitions_created} partitions created`, log);
    oursIdle = await measure(ours, 'ours: partitions again', run, (r) => `${r.partitions_created} partitions created`, log);
  } finally {
    await ours.drop();
  }
  const { db, client } = await partmanDatabase(adminUrl);
  try {
    const created = () => countDayPartitions(db).then((n) => `${n} partitions created`);
    const partmanCreate = await afterPartman(
      await measure(
        db,
        `pg_partman: create_parent x 4, premake ${PREMAKE} from today`,
        () => adoptTables(client, today),
        () => '',
        log,
      ),
      created,
    );
    for (const table of TIME_SERIES_TABLES) await client.query(defaultTsIndexSql(table));
    const before = await countDayPartitions(db);
    const idle = () => client.query(RUN_MAINTENANCE_SQL);
    const partmanIdle = await afterPartman(await measure(db, 'pg_partman: run_maintenance()', idle, () => '', log), async () => {
      return `${(await countDayPartitions(db)) - before} partitions created`;
    });
    return [
      { scenario: 'create 30 days x 4 tables', ours: oursCreate, partman: partmanCreate },
      { scenario: 'nothing to do', ours: oursIdle, partman: partmanIdle },
    ];
  } finally {
    await client.end();
    await db.drop();
  }
}

/** A DEFAULT backlog of scenario 3: the partitions job did not run for three days. Days are offsets from today. */
interface BacklogShape {
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
const BACKLOG_THROUGH_NOW: BacklogShape = { name: 'days -2 to now', present: [-3], from: -2, through: 'now' };
/** The same three days one day earlier, with today's partition present: the writer's rows never touch the DEFAULT partition. */
const BACKLOG_OF_PAST_DAYS: BacklogShape = { name: 'days -3 to -1, today present', present: [-4, 0], from: -3, through: 'yesterday' };

/** Scenario 3 in both shapes. */
async function recoverBacklogs(adminUrl: string, rowsPerTable: number, log: Log) {
  const comparisons: PartmanComparison[] = [];
  const visible: PartmanResult['backlogVisible'] = [];
  for (const shape of [BACKLOG_THROUGH_NOW, BACKLOG_OF_PAST_DAYS]) {
    const recovered = await recoverBacklog(adminUrl, rowsPerTable, shape, log);
    comparisons.push(recovered.comparison);
    visible.push({ shape: shape.name, ...recovered.visible });
  }
  return { comparisons, visible };
}

/**
 * Scenario 3, one shape: ours is `partitions` for today, pg_partman partition_data_proc per
 * table; both create the backlog's day partitions.
 */
async function recoverBacklog(adminUrl: string, rowsPerTable: number, shape: BacklogShape, log: Log) {
  const today = dayOf(new Date());
  const present = shape.present.map((offset) => addDays(today, offset));
  const loadBacklog = async (db: BenchDatabase) => {
    const to = shape.through === 'now' ? new Date() : new Date(dayStart(today).getTime() - 1000);
    for (const table of TIME_SERIES_TABLES)
      await loadDefaultBacklog(db.url, table, rowsPerTable, dayStart(addDays(today, shape.from)), to, SCALE_SYMBOLS);
    // The load's own writes are not the recovery's to pay for.
    await db.query('CHECKPOINT');
    log(`partman: ${rowsPerTable} rows per table in the DEFAULT partitions (${shape.name})`);
    return to;
  };
  const name = `a backlog of ${rowsPerTable.toExponential(1)} rows per table, ${shape.name}`;

  const ours = await createBenchDatabase(adminUrl, 'bench_partman_ours');
  let oursRecovery: MeasuredOperation;
  let oursVisible: boolean;
  try {
    await seedMarkets(ours.url, SCALE_SYMBOLS);
    await createDayPartitions(ours.url, TIME_SERIES_TABLES, present);
    const loadedUntil = await loadBacklog(ours);
    await ours.ctx.pool.query('SELECT 1');
    oursRecovery = await measure(
      ours,
      `ours: partitions, ${name}`,
      () => ensurePartitions(ours.ctx, { daysAhead: 1 }),
      (r) => `${r.rows_moved} rows moved, ${r.partitions_created} partitions created`,
      log,
    );
    oursVisible = await allVisible(ours.url, new Date(loadedUntil.getTime() + 1), rowsPerTable);
  } finally {
    await ours.drop();
  }

  const { db, client } = await partmanDatabase(adminUrl);
  try {
    await seedMarkets(db.url, SCALE_SYMBOLS);
    const first = present[0] ?? today;
    await createParents(client, first);
    // Only the days ours has stay: the others are the backlog's, or after it.
    const absent = daySeries(first, daysBetween(first, today) + 1 + PREMAKE).filter((day) => !present.includes(day));
    for (const table of TIME_SERIES_TABLES)
      await db.query(`DROP TABLE ${absent.map((day) => quoteIdent(`${table}_p${day.replaceAll('-', '_')}`)).join(', ')}`);
    const loadedUntil = await loadBacklog(db);
    const move = async () => {
      for (const table of TIME_SERIES_TABLES) await client.query(partitionDataSql(table, PARTMAN_BATCH));
    };
    const partmanRecovery = await afterPartman(
      await measure(db, `pg_partman: partition_data_proc x 4 (p_batch ${PARTMAN_BATCH}), ${name}`, move, () => '', log),
      async () => `${(await countDayPartitions(db)) - present.length * TIME_SERIES_TABLES.length} partitions created`,
    );
    return {
      comparison: {
        scenario: `DEFAULT backlog ${rowsPerTable.toExponential(0)} x 4 over 3 days (${shape.name})`,
        ours: oursRecovery,
        partman: partmanRecovery,
      },
      visible: { ours: oursVisible, partman: await allVisible(db.url, new Date(loadedUntil.getTime() + 1), rowsPerTable) },
    };
  } finally {
    await client.end();
    await db.drop();
  }
}

/**
 * Scenario 4: 180 small old days (days -200 to -21, OLD_ROWS_PER_DAY rows each per table) among
 * partitions through today + 29, dropped as older than 20 days. Ours: `prune
 * --drop-partitions-older-than 20`; pg_partman: retention '20 days' and run_maintenance().
 */
async function dropOldDays(adminUrl: string, log: Log): Promise<PartmanComparison> {
  const today = dayOf(new Date());
  const firstDay = addDays(today, -RETENTION_DAYS - OLD_DAYS);
  const loadOldRows = async (db: BenchDatabase) => {
    const to = new Date(dayStart(addDays(today, -RETENTION_DAYS)).getTime() - 1000);
    for (const table of TIME_SERIES_TABLES) await copyRows(db.url, table, OLD_ROWS_PER_DAY * OLD_DAYS, dayStart(firstDay), to);
  };
  const ours = await createBenchDatabase(adminUrl, 'bench_partman_ours');
  let oursDrop: MeasuredOperation;
  try {
    await createDayPartitions(ours.url, TIME_SERIES_TABLES, daySeries(firstDay, daysBetween(firstDay, today) + 1 + PREMAKE));
    await loadOldRows(ours);
    await ours.ctx.pool.query('SELECT 1');
    oursDrop = await measure(
      ours,
      `ours: prune, drop partitions older than ${RETENTION_DAYS} days`,
      () => prune(ours.ctx, { dropPartitionsOlderThanDays: RETENTION_DAYS }),
      (r) => `${r.partitions_dropped} partitions dropped`,
      log,
    );
  } finally {
    await ours.drop();
  }
  const { db, client } = await partmanDatabase(adminUrl);
  try {
    await createParents(client, firstDay);
    await loadOldRows(db);
    await client.query(retentionSql(TIME_SERIES_TABLES, RETENTION_DAYS));
    const before = await countDayPartitions(db);
    const partmanDrop = await afterPartman(
      await measure(
        db,
        `pg_partman: run_maintenance(), retention ${RETENTION_DAYS} days`,
        () => client.query(RUN_MAINTENANCE_SQL),
        () => '',
        log,
      ),
      async () => `${before - (await countDayPartitions(db))} partitions dropped`,
    );
    return { scenario: `drop ${OLD_DAYS} days x 4 tables`, ours: oursDrop, partman: partmanDrop };
  } finally {
    await client.end();
    await db.drop();
  }
}
