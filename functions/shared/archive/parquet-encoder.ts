import { Worker } from 'node:worker_threads';
import { compiledParquetWasm } from './parquet-engine';

/**
 * Encodes Arrow IPC batches into one Parquet file on a worker thread (parquet-encoder-worker.mjs),
 * yielding the file's bytes in order. The thread asks for one batch at a time and one more is
 * made ahead of it, so this thread reads the next COPY rows into Arrow while the worker encodes:
 * on two cores the export takes about the longer of the two instead of their sum. Memory: one
 * batch being encoded, one made ahead, the encoder's row group, and encoded bytes not yet taken
 * (the worker gets no batch while more than MAX_QUEUED_BYTES wait). A failure of `batches`, of
 * the encoder, or the consumer leaving early ends the thread.
 */
export async function* encodeParquet(batches: AsyncIterable<Uint8Array>, rowGroupRows: number): AsyncGenerator<Uint8Array> {
  const encoder = new WorkerEncoder(batches, rowGroupRows);
  try {
    for (let chunk = await encoder.next(); chunk; chunk = await encoder.next()) yield chunk;
  } finally {
    await encoder.close();
  }
}

/** The file name of the worker, beside this module in the sources and in every bundle (infra/bundling.ts). */
export const PARQUET_ENCODER_WORKER_FILE = 'parquet-encoder-worker.mjs';
/** Encoded bytes waiting for the consumer (a slow upload) before the worker gets no more batches. */
const MAX_QUEUED_BYTES = 32 * 1024 * 1024;

type WorkerMessage = { pull: true } | { bytes: Uint8Array } | { done: true } | { error: string };

class WorkerEncoder {
  private readonly worker: Worker;
  private readonly source: AsyncIterator<Uint8Array>;
  private ahead: Promise<IteratorResult<Uint8Array>>;
  private readonly chunks: Uint8Array[] = [];
  private queuedBytes = 0;
  private pullWaiting = false;
  private finished = false;
  private failure: unknown;
  private wake: (() => void) | undefined;

  constructor(batches: AsyncIterable<Uint8Array>, rowGroupRows: number) {
    this.worker = new Worker(new URL(`./${PARQUET_ENCODER_WORKER_FILE}`, import.meta.url), {
      workerData: { wasm: compiledParquetWasm(), rowGroupRows },
      // Not the process's own flags: `--input-type` or `-e` there (a script run with `node -e`) stop a worker from loading a file.
      execArgv: [],
    });
    this.worker.on('message', (message: WorkerMessage) => this.receive(message));
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', (code) => {
      if (!this.finished) this.fail(new Error(`the Parquet encoder thread stopped (exit code ${code}) before the file was complete`));
    });
    this.source = batches[Symbol.asyncIterator]();
    this.ahead = this.read();
  }

  /** The file's next bytes, or undefined at its end; throws the first failure. */
  async next(): Promise<Uint8Array | undefined> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      const chunk = this.chunks.shift();
      if (chunk) {
        this.queuedBytes -= chunk.byteLength;
        void this.answerPull();
        return chunk;
      }
      if (this.finished) return undefined;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  /** Ends the thread (done or not) and the batches' producer, if it has not ended. */
  async close(): Promise<void> {
    if (!this.finished) this.failure ??= new Error('the Parquet encoding was abandoned');
    await this.source.return?.(undefined).catch(() => {});
    await this.worker.terminate();
  }

  private read(): Promise<IteratorResult<Uint8Array>> {
    const next = this.source.next();
    next.catch((error: unknown) => this.fail(error));
    return next;
  }

  private receive(message: WorkerMessage): void {
    if ('pull' in message) {
      this.pullWaiting = true;
      void this.answerPull();
    } else if ('bytes' in message) {
      this.chunks.push(message.bytes);
      this.queuedBytes += message.bytes.byteLength;
      this.notify();
    } else if ('done' in message) {
      this.finished = true;
      this.notify();
    } else {
      this.fail(new Error(`Parquet encoding failed: ${message.error}`));
    }
  }

  /** Hands the worker the batch made ahead, and starts making the next. */
  private async answerPull(): Promise<void> {
    if (!this.pullWaiting || this.queuedBytes > MAX_QUEUED_BYTES || this.failure !== undefined) return;
    this.pullWaiting = false;
    let next: IteratorResult<Uint8Array>;
    try {
      next = await this.ahead;
    } catch {
      return; // read() has failed the encoding
    }
    if (this.failure !== undefined) return;
    if (next.done) {
      this.worker.postMessage({ end: true });
      return;
    }
    this.ahead = this.read();
    const batch = ownBuffer(next.value);
    this.worker.postMessage({ batch }, [batch.buffer as ArrayBuffer]);
  }

  private fail(error: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    void this.worker.terminate();
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/** `bytes` as the whole of an ArrayBuffer of its own (so it can move to the worker without a copy). */
function ownBuffer(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
}
