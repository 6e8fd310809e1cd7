import { Worker } from 'node:worker_threads';

/** What a writer did: each insert's start (wall-clock ms) and latency, rows committed per `table/symbol`, failures. */
export interface WriterResult {
  samples: { at: number; ms: number }[];
  inserted: Record<string, number>;
  failed: number;
  /** Distinct messages of the failed inserts. */
  errors: string[];
}

export interface WriterOptions {
  /** Rows per INSERT. */
  batch?: number;
  /** Symbols to write, each with the offset of its rows' ts from now() (a PostgreSQL interval). */
  symbols?: Array<[symbol: string, offset: string]>;
  /** Shown in pg_stat_activity. */
  applicationName?: string;
}

/**
 * Starts an ingestion writer thread (see writer-worker.mjs) on `url`; stop() ends it and returns
 * what it did. The benchmark and the ingestion test both measure inserts against it.
 */
export function startWriter(url: string, options: WriterOptions = {}): { ready(): Promise<void>; stop(): Promise<WriterResult> } {
  const { batch = 1, symbols = [['BTC-PERP', '0']], applicationName = 'test-writer' } = options;
  const worker = new Worker(new URL('./writer-worker.mjs', import.meta.url), { workerData: { url, batch, symbols, applicationName } });
  let writing: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    writing = resolve;
  });
  const done = new Promise<WriterResult>((resolve, reject) => {
    worker.on('message', (message: { ready?: true; result?: WriterResult }) => {
      if (message.ready) writing();
      if (message.result) resolve(message.result);
    });
    worker.once('error', reject);
  });
  return {
    /** Resolves at the writer's first committed insert, or after 30 s of none (every insert failing: its result says why). */
    ready: () => Promise.race([ready, done.then(() => undefined), new Promise<void>((resolve) => setTimeout(resolve, 30_000).unref())]),
    async stop() {
      worker.postMessage('stop');
      const result = await done;
      await worker.terminate();
      return result;
    },
  };
}
