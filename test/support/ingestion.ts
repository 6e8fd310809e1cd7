import { Worker } from 'node:worker_threads';

/** What a writer did: rows that committed per `table/kind`, every insert's latency, failures. */
export interface IngestResult {
  inserted: Record<string, number>;
  latencies: number[];
  failed: number;
  errors: string[];
}

/** Kinds of rows a writer sends: a name and the offset of their ts from now() (a PostgreSQL interval). */
export type RowKinds = Array<[kind: string, offset: string]>;

/** Starts an ingestion writer thread on `url`; stop() ends it and returns what it did. */
export function startIngestion(url: string, kinds: RowKinds): { stop(): Promise<IngestResult> } {
  const worker = new Worker(new URL('./ingest-worker.mjs', import.meta.url), { workerData: { url, kinds } });
  const done = new Promise<IngestResult>((resolve, reject) => {
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
