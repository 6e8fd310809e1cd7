import type pg from 'pg';
import type { OperationContext } from '../../functions/shared/context';

/** Runs on the maintenance session's client around each statement; `query` is the unpatched one. */
export interface StatementHooks {
  before?(text: string, client: pg.PoolClient, query: (...args: unknown[]) => Promise<unknown>): Promise<void>;
  after?(text: string, client: pg.PoolClient): Promise<void>;
}

/** A COPY stream of pg-copy-streams: a Submittable that is also a Node stream. */
interface CopyStream {
  text: string;
  submit(connection: unknown): void;
  destroy(error?: Error): void;
  push(chunk: unknown): boolean;
  _read?(size: number): void;
  _final?(callback: (error?: Error | null) => void): void;
}

/**
 * Patches every client `ctx`'s pool hands out so that `hooks` see each statement the core sends.
 * A COPY (a pg-copy-streams Submittable) is returned at once, as the real query() does, and
 * submitted once `before` is done; `after` runs while the COPY is still open: COPY TO once its
 * first rows arrive (no more are read meanwhile), COPY FROM once every row is sent, before the
 * end of the data is.
 */
export function interceptStatements(ctx: OperationContext, hooks: StatementHooks): void {
  const patched = new WeakSet<pg.PoolClient>();
  const connect = ctx.pool.connect.bind(ctx.pool) as () => Promise<pg.PoolClient>;
  const patchedConnect = async () => {
    const client = await connect();
    if (patched.has(client)) return client;
    patched.add(client);
    const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
    client.query = ((...args: unknown[]) => {
      const first = args[0];
      if (isCopyStream(first)) return interceptCopy(first, client, query, hooks);
      return (async () => {
        const text = typeof first === 'string' ? first : ((first as { text?: string })?.text ?? '');
        await hooks.before?.(text, client, query);
        const result = await query(...args);
        await hooks.after?.(text, client);
        return result;
      })();
    }) as typeof client.query;
    return client;
  };
  ctx.pool.connect = patchedConnect as typeof ctx.pool.connect;
}

function isCopyStream(value: unknown): value is CopyStream {
  return typeof (value as { submit?: unknown })?.submit === 'function' && /^COPY /i.test((value as { text?: string }).text ?? '');
}

function interceptCopy(
  copy: CopyStream,
  client: pg.PoolClient,
  query: (...args: unknown[]) => Promise<unknown>,
  hooks: StatementHooks,
): CopyStream {
  const after = () => hooks.after?.(copy.text, client) ?? Promise.resolve();
  if (typeof copy._read === 'function') {
    // COPY TO: once the first rows arrive, the stream reads no more until `after` is done.
    let audit: Promise<void> | undefined;
    const push = copy.push.bind(copy);
    copy.push = (chunk: unknown) => {
      audit ??= chunk === null ? undefined : after();
      return push(chunk);
    };
    const read = copy._read.bind(copy);
    copy._read = (size: number) => {
      if (audit) void audit.finally(() => read(size));
      else read(size);
    };
  } else if (typeof copy._final === 'function') {
    // COPY FROM: every row is sent; the end of the data waits until `after` is done.
    const final = copy._final.bind(copy);
    copy._final = (callback) => {
      void after().then(
        () => final(callback),
        (error: Error) => callback(error),
      );
    };
  }
  void (async () => {
    try {
      await hooks.before?.(copy.text, client, query);
      query(copy);
    } catch (error) {
      // Submitted anyway: a COPY destroyed before its submit would never end.
      query(copy);
      copy.destroy(error instanceof Error ? error : new Error(String(error)));
    }
  })();
  return copy;
}
