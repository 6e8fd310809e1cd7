import { Worker } from 'node:worker_threads';

export interface WriterResult {
  /** Per insert: start (wall-clock ms, performance.timeOrigin + now) and latency. */
  samples: { at: number; ms: number }[];
  failed: number;
  /** Distinct messages of the failed inserts. */
  errors: string[];
}

/** Starts a writer thread inserting `batch`-row batches back to back; stop() returns each insert's start and latency. */
export async function startWriter(url: string, batch = 50): Promise<{ stop(): Promise<WriterResult> }> {
  const worker = new Worker(new URL('./writer-worker.mjs', import.meta.url), { workerData: { url, batch } });
  const done = new Promise<WriterResult>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  // Let it reach a steady state before anything is measured against it.
  await new Promise((resolve) => setTimeout(resolve, 300));
  return {
    async stop() {
      worker.postMessage('stop');
      const result = await done;
      await worker.terminate();
      return result;
    },
  };
}
