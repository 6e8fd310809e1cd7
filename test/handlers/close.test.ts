import { expect, it } from 'vitest';
import { adminUrl, createTestDatabase, databaseOf, withClient } from '../support/database';
import { invoke, loadHandler } from '../support/handlers';
import { holdingRelay } from '../support/holding-relay';

/** The frontend/backend protocol's Terminate message: a client's goodbye. */
const TERMINATE = Buffer.from([0x58, 0, 0, 0, 4]);

/** Ends the sessions on `database`, as the test files' cleanup does before dropping it; returns how many. */
async function endSessionsOn(database: string): Promise<number> {
  return withClient(adminUrl(), async (admin) => {
    const { rows } = await admin.query<{ ended: boolean }>(
      'SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE datname = $1',
      [database],
    );
    return rows.filter((row) => row.ended).length;
  });
}

it("a handler's close() resolves only once the server has closed its connection: nothing of it is left for a later DROP DATABASE to end", async () => {
  const url = await createTestDatabase();
  // The handler's goodbye is held on its way, as a busy server would leave it unread for a while.
  const relay = await holdingRelay(url);
  const handler = await loadHandler('migrate', { DATABASE_URL: relay.url });
  expect((await invoke(handler, {})).error).toBeUndefined();

  relay.hold();
  let closed = false;
  const closing = handler.close().then(() => {
    closed = true;
  });
  expect(await relay.held()).toEqual(TERMINATE);
  // The server has not read the goodbye, so the session is still open: close() is not done.
  expect(closed).toBe(false);
  relay.release();
  await closing;
  // A session ended here would answer with "terminating connection due to administrator
  // command", which a pool still listening logs as 'idle database connection failed'. None is
  // left: a backend leaves pg_stat_activity before it closes its socket (shmem_exit, then
  // on_proc_exit), and close() waited for that socket to close.
  expect(await endSessionsOn(databaseOf(url))).toBe(0);
});
