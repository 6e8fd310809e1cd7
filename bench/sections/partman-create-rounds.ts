import { ensurePartitions } from '../../functions/operations/partitions/partitions';
import { dayOf } from '../../functions/shared/days';
import { createBenchDatabase } from '../support/database';
import { adoptTables, partmanDatabase } from '../support/partman-session';

/** Rounds of the quiet create comparison: each round times ours and pg_partman's once. */
export const CREATE_ROUNDS = 6;

/** Creating 30 days x 4 tables in rounds, ours and pg_partman's, in ms; the same index is one round. */
export interface CreateRounds {
  ours: number[];
  partman: number[];
}

/**
 * Creating 30 days x 4 tables, ours and pg_partman's create_parent, each on a fresh migrated
 * database, with no writer, in CREATE_ROUNDS rounds that alternate which goes first. Without a
 * writer neither gains CPU from stalling ingestion (pg_partman's call blocks the writer for its
 * whole length; ours shares the two cores with it), and alternating cancels the drift of a server
 * that has created and dropped many databases.
 */
export async function createRounds(adminUrl: string, log: (line: string) => void): Promise<CreateRounds> {
  const today = dayOf(new Date());
  const rounds: CreateRounds = { ours: [], partman: [] };
  const ours = async () => {
    const db = await createBenchDatabase(adminUrl, 'bench_partman_ours');
    try {
      await db.ctx.pool.query('SELECT 1');
      const started = performance.now();
      const report = await ensurePartitions(db.ctx, { daysAhead: 30 });
      rounds.ours.push(performance.now() - started);
      if (report.partitions_created !== 120) throw new Error(`ours created ${report.partitions_created} partitions, not 120`);
    } finally {
      await db.drop();
    }
  };
  const partman = async () => {
    const { db, client } = await partmanDatabase(adminUrl);
    try {
      const started = performance.now();
      await adoptTables(client, today);
      rounds.partman.push(performance.now() - started);
    } finally {
      await client.end();
      await db.drop();
    }
  };
  for (let round = 0; round < CREATE_ROUNDS; round++) {
    for (const run of round % 2 === 0 ? [ours, partman] : [partman, ours]) await run();
    log(
      `create 30 days, no writer, round ${round + 1}: ours ${Math.round(rounds.ours[round] ?? 0)} ms, pg_partman ${Math.round(rounds.partman[round] ?? 0)} ms`,
    );
  }
  return rounds;
}
