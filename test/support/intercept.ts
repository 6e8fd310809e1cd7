import type pg from 'pg';
import type { OperationContext } from '../../functions/core/context';

/** Runs on the maintenance session's client around each statement; `query` is the unpatched one. */
export interface StatementHooks {
  before?(text: string, client: pg.PoolClient, query: (...args: unknown[]) => Promise<unknown>): Promise<void>;
  after?(text: string, client: pg.PoolClient): Promise<void>;
}

/** Patches every client `ctx`'s pool hands out so that `hooks` see each statement the core sends. */
export function interceptStatements(ctx: OperationContext, hooks: StatementHooks): void {
  const patched = new WeakSet<pg.PoolClient>();
  const connect = ctx.pool.connect.bind(ctx.pool) as () => Promise<pg.PoolClient>;
  const patchedConnect = async () => {
    const client = await connect();
    if (patched.has(client)) return client;
    patched.add(client);
    const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
    client.query = (async (...args: unknown[]) => {
      const first = args[0];
      const text = typeof first === 'string' ? first : ((first as { text?: string })?.text ?? '');
      await hooks.before?.(text, client, query);
      const result = await query(...args);
      await hooks.after?.(text, client);
      return result;
    }) as typeof client.query;
    return client;
  };
  ctx.pool.connect = patchedConnect as typeof ctx.pool.connect;
}
