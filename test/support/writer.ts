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
export function startWriter(url: string, options: WriterOptions = {}): { stop(): Promise<WriterResult> } {
  const { batch = 1, symbols = [['BTC-PERP', '0']], applicationName = 'test-writer' } = options;
  const worker = new Worker(new URL('./writer-worker.mjs', import.meta.url), { workerData: { url, batch, symbols, applicationName } });
  const done = new Promise<WriterResult>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return {
    async stop() {
      worker.postMessage('stop');
      const result = await done;
      await worker.terminate();
      return result;
    },
  };
}
