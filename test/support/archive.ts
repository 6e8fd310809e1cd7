import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type pg from 'pg';
import { vi } from 'vitest';
import { migrate } from '../../functions/operations/migrate/migrate';
import { ensurePartitions } from '../../functions/operations/partitions/partitions';
import { type LedgerEntry, readLedger } from '../../functions/shared/archive/ledger';
import type { ArchiveSettings } from '../../functions/shared/archive/store';
import type { OperationContext } from '../../functions/shared/context';
import { connect, copiesOf, withContext } from './database';

/** A fresh archive directory in this test file's temp folder. */
export function archiveDirectory(): string {
  return mkdtempSync(join(tmpdir(), 'archive-'));
}

/** `ctx` writing its archives to `settings`. */
export function withArchive(ctx: OperationContext, settings: Partial<ArchiveSettings>): OperationContext {
  return { ...ctx, archive: { prefix: 'perps-archive', ...settings } };
}

/** Downloads an object to a temp file (for DuckDB) and returns its path. */
export async function downloadObject(client: S3Client, bucket: string, key: string): Promise<string> {
  const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const path = join(mkdtempSync(join(tmpdir(), 'download-')), 'object.parquet');
  writeFileSync(path, await (object.Body?.transformToByteArray() ?? new Uint8Array()));
  return path;
}

/**
 * Waits until pg_stat_user_tables has counted `expected` inserts+updates+deletes into
 * `relations`, after ending the idle sessions of the test pools: PostgreSQL 12-14 send an idle
 * session's statistics only with its next transaction or when it exits. The archive compares
 * these counters with the ones it recorded, so a test must not start one before they settle.
 */
export async function settleModifications(url: string, relations: string[], expected: number): Promise<void> {
  const admin = await connect(url);
  try {
    await admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'perps-test' AND state = 'idle'`,
    );
    await vi.waitFor(
      async () => {
        await admin.query('SELECT pg_stat_clear_snapshot()');
        const { rows } = await admin.query<{ n: string }>(
          'SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) AS n FROM pg_stat_user_tables WHERE relname = ANY ($1)',
          [relations],
        );
        if (Number(rows[0]?.n) !== expected) throw new Error(`statistics count ${rows[0]?.n} modifications, waiting for ${expected}`);
      },
      { timeout: 20_000, interval: 200 },
    );
  } finally {
    await admin.end();
  }
}

/** The archive ledger of the database at `url`, by table and day. */
export async function ledgerOf(url: string): Promise<LedgerEntry[]> {
  const client = await connect(url);
  try {
    return await readLedger(client);
  } finally {
    await client.end();
  }
}

/**
 * A migrated database, copied for each call of the returned function, holding the rows `insert`
 * writes: they land in the DEFAULT partitions, then the partitions run (as of `now`) gives them
 * their day partitions.
 */
export function seededCopies(now: Date, insert: (client: pg.ClientBase) => Promise<void>): () => Promise<string> {
  return copiesOf(async (url) => {
    await withContext(url, { now }, async (ctx) => {
      await migrate(ctx);
      const client = await ctx.pool.connect();
      try {
        await insert(client);
      } finally {
        client.release();
      }
      await ensurePartitions(ctx, { daysAhead: 1 });
    });
  });
}
