// The archive's Parquet encoding, on a thread of its own (parquet-encoder.ts starts it): the
// main thread turns the next COPY rows into Arrow while this one encodes the last batch. Plain
// JavaScript because it runs as it is from the sources too (tests, `tsx`), where Node cannot
// load TypeScript into a worker; the bundles build it as an entry of its own.
//
// Messages in:  { batch: Uint8Array }  an Arrow IPC stream of record batches
//               { end: true }          no more batches: finish the file
// Messages out: { pull: true }         send the next batch (one is asked for at a time)
//               { bytes: Uint8Array }  the file's next bytes, in order
//               { done: true }         the file is complete
//               { error: string }      encoding failed; nothing more comes
import { parentPort, workerData } from 'node:worker_threads';
import * as wasm from 'parquet-wasm/esm';

const port = parentPort;
if (!port) throw new Error('parquet-encoder-worker.mjs runs only as a worker thread (see parquet-encoder.ts)');

/**
 * How every archive file is written, for the readers Athena (Trino), Spark, Redshift Spectrum,
 * DuckDB and polars alike: Parquet format 1 data pages (DATA_PAGE, not DATA_PAGE_V2, which
 * Trino misread with dictionaries), zstd, dictionary encoding where it pays (arrow-rs falls back
 * to plain per column chunk), chunk statistics for predicate pushdown, `rowGroupRows` rows per
 * row group.
 */
function writerProperties(rowGroupRows) {
  return new wasm.WriterPropertiesBuilder()
    .setWriterVersion(wasm.WriterVersion.V1)
    .setCompression(wasm.Compression.ZSTD)
    .setDictionaryEnabled(true)
    .setStatisticsEnabled(wasm.EnabledStatistics.Chunk)
    .setMaxRowGroupSize(rowGroupRows)
    .setCreatedBy('perps-stats-db archive (parquet-wasm, arrow-rs)')
    .build();
}

/** Batches as the encoder asks for them: each pull asks the main thread for one IPC stream. */
function incomingBatches() {
  let answer;
  port.on('message', (message) => answer?.(message));
  return new ReadableStream(
    {
      async pull(controller) {
        const message = await new Promise((resolve) => {
          answer = resolve;
          port.postMessage({ pull: true });
        });
        if (message.end) {
          controller.close();
          return;
        }
        // The encoder takes each batch over; the table must be freed here, or its memory waits
        // for a garbage collection this thread, holding next to no JS, hardly ever runs.
        const table = wasm.Table.fromIPCStream(message.batch);
        try {
          for (const batch of table.recordBatches()) controller.enqueue(batch);
        } finally {
          table.free();
        }
      },
    },
    { highWaterMark: 0 },
  );
}

try {
  wasm.initSync({ module: workerData.wasm });
  const encoded = await wasm.transformParquetStream(incomingBatches(), writerProperties(workerData.rowGroupRows));
  for await (const chunk of encoded) {
    // A chunk that is a whole buffer of its own moves to the main thread without a copy.
    const bytes = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength ? chunk : chunk.slice();
    port.postMessage({ bytes }, [bytes.buffer]);
  }
  port.postMessage({ done: true });
} catch (error) {
  port.postMessage({ error: error instanceof Error ? error.message : String(error) });
}
