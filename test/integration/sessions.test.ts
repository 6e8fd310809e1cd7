import { describe, expect, it } from 'vitest';
import { createPool } from '../../functions/shared/db/pool';
import { withAdvisoryLock, withClient } from '../../functions/shared/db/sessions';
import { DEFAULT_CONNECTION_SETTINGS } from '../../functions/shared/db/settings';
import { LockBusyError } from '../../functions/shared/errors';
import { silentLogger } from '../../functions/shared/log';
import { createTestDatabase, holdMaintenanceLock } from '../support/database';

describe('database sessions', () => {
  it('set application_name and statement_timeout on every connection', async () => {
    const url = await createTestDatabase();
    const pool = createPool(
      { ...DEFAULT_CONNECTION_SETTINGS, url, applicationName: 'perps-stats-db/stats', statementTimeoutMs: 12_345 },
      silentLogger,
    );
    try {
      const { rows } = await pool.query(
        `SELECT current_setting('application_name') AS app, current_setting('statement_timeout') AS timeout`,
      );
      expect(rows[0]).toEqual({ app: 'perps-stats-db/stats', timeout: '12345ms' });
    } finally {
      await pool.end();
    }
  });

  it('make a waiting lock holder give up after its timeout with LockBusyError', async () => {
    const url = await createTestDatabase();
    const holder = await holdMaintenanceLock(url);
    const pool = createPool({ ...DEFAULT_CONNECTION_SETTINGS, url, poolMin: 0 }, silentLogger);
    try {
      const started = Date.now();
      const waited = withClient(pool, (client) => withAdvisoryLock(client, 'migrate', { wait: true, timeoutMs: 300 }, async () => 'ran'));
      await expect(waited).rejects.toBeInstanceOf(LockBusyError);
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      await holder.release();
      // The lock wait did not leak a lock_timeout into the pooled session.
      const after = await withClient(pool, async (client) => {
        const ran = await withAdvisoryLock(client, 'migrate', { wait: true, timeoutMs: 300 }, async () => 'ran');
        const { rows } = await client.query(`SELECT current_setting('lock_timeout') AS lt`);
        return [ran, rows[0]?.lt];
      });
      expect(after).toEqual(['ran', '0']);
    } finally {
      await pool.end();
    }
  });

  it('wait for the migration lock up to its own timeout even when statement_timeout is shorter', async () => {
    const url = await createTestDatabase();
    const holder = await holdMaintenanceLock(url);
    const pool = createPool({ ...DEFAULT_CONNECTION_SETTINGS, url, poolMin: 0, statementTimeoutMs: 200 }, silentLogger);
    try {
      const started = Date.now();
      const waited = withClient(pool, (client) => withAdvisoryLock(client, 'migrate', { wait: true, timeoutMs: 800 }, async () => 'ran'));
      await expect(waited).rejects.toBeInstanceOf(LockBusyError);
      expect(Date.now() - started).toBeGreaterThanOrEqual(750);
      await holder.release();
      const restored = await withClient(pool, async (client) => {
        await withAdvisoryLock(client, 'migrate', { wait: true, timeoutMs: 800 }, async () => 'ran');
        return (await client.query(`SELECT current_setting('statement_timeout') AS st`)).rows[0]?.st;
      });
      expect(restored).toBe('200ms');
    } finally {
      await pool.end();
    }
  });
});
