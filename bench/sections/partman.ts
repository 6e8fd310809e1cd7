import pg from 'pg';
import { ensurePartitions } from '../../functions/operations/partitions/partitions';
import { prune } from '../../functions/operations/prune/prune';
import { addDays, dayOf, daySeries, dayStart, daysBetween } from '../../functions/shared/days';
import { TIME_SERIES_TABLES } from '../../functions/shared/tables';
import { copyRows, createDayPartitions } from '../support/data';
import { type BenchDatabase, createBenchDatabase } from '../support/database';
import {
  adoptTables,
  afterPartman,
  countDayPartitions,
  createParents,
  measureInProcess,
  PREMAKE,
  partmanDatabase,
} from '../support/partman-session';
import { defaultTsIndexSql, partmanVersionProblem, RUN_MAINTENANCE_SQL, retentionSql } from '../support/partman-sql';
import type { MeasuredOperation } from '../support/scenario';
import { BACKLOG_OF_PAST_DAYS, BACKLOG_THROUGH_NOW, compareRecovery } from './partman-backlog';
import { type CreateRounds, createRounds } from './partman-create-rounds';

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
  /** Creating 30 days with no writer, in alternating rounds (see createRounds). */
  createRounds: CreateRounds;
}

/** The retention scenario: 180 small old days, dropped as older than 20 days. */
const OLD_DAYS = 180;
const RETENTION_DAYS = 20;
const OLD_ROWS_PER_DAY = 1000;
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
  const rounds = await createRounds(adminUrl, log);
  const backlogVisible: PartmanResult['backlogVisible'] = [];
  for (const shape of [BACKLOG_THROUGH_NOW, BACKLOG_OF_PAST_DAYS]) {
    const recovered = await compareRecovery(adminUrl, backlogRowsPerTable, shape, log);
    comparisons.push(recovered.comparison);
    backlogVisible.push(recovered.visible);
  }
  comparisons.push(await dropOldDays(adminUrl, log));
  return { server, backlogRowsPerTable, backlogVisible, comparisons, createRounds: rounds };
}

/** Scenarios 1 and 2: 30 days x 4 tables from none, then the same again with nothing to do. */
async function createThenNothingToDo(adminUrl: string, log: (line: string) => void): Promise<PartmanComparison[]> {
  const today = dayOf(new Date());
  const ours = await createBenchDatabase(adminUrl, 'bench_partman_ours');
  let oursCreate: MeasuredOperation;
  let oursIdle: MeasuredOperation;
  try {
    // Connected before the clock starts, as pg_partman's session is.
    await ours.ctx.pool.query('SELECT 1');
    const run = () => ensurePartitions(ours.ctx, { daysAhead: 30 });
    oursCreate = await measureInProcess(
      ours,
      'ours: partitions, 30 days ahead',
      run,
      (r) => `${r.partitions_created} partitions created`,
      log,
    );
    oursIdle = await measureInProcess(ours, 'ours: partitions again', run, (r) => `${r.partitions_created} partitions created`, log);
  } finally {
    await ours.drop();
  }
  const { db, client } = await partmanDatabase(adminUrl);
  try {
    const created = () => countDayPartitions(db).then((n) => `${n} partitions created`);
    const partmanCreate = await afterPartman(
      await measureInProcess(
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
    const partmanIdle = await afterPartman(await measureInProcess(db, 'pg_partman: run_maintenance()', idle, () => '', log), async () => {
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

/**
 * Scenario 4: 180 small old days (days -200 to -21, OLD_ROWS_PER_DAY rows each per table) among
 * partitions through today + 29, dropped as older than 20 days. Ours: `prune
 * --drop-partitions-older-than 20`; pg_partman: retention '20 days' and run_maintenance().
 */
async function dropOldDays(adminUrl: string, log: (line: string) => void): Promise<PartmanComparison> {
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
    oursDrop = await measureInProcess(
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
      await measureInProcess(
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
