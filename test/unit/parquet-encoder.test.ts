import { tableFromArrays, tableFromIPC, tableToIPC } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { encodeParquet } from '../../functions/shared/archive/parquet-encoder';
import { loadParquetWasm } from '../../functions/shared/archive/parquet-engine';

/** Arrow IPC streams of `count` batches of 1,000 rows: id 0.. in order, and a text column. */
async function* batches(count: number, failAfter = Number.POSITIVE_INFINITY) {
  for (let b = 0; b < count; b++) {
    if (b >= failAfter) throw new Error('the COPY broke off');
    const id = Int32Array.from({ length: 1000 }, (_, i) => b * 1000 + i);
    yield tableToIPC(tableFromArrays({ id, symbol: Array.from(id, (i) => `S${i % 7}`) }), 'stream');
  }
}

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}

describe('the Parquet encoder thread (parquet-encoder.ts)', () => {
  it('encodes the batches, in order, into one file parquet-wasm reads back whole', async () => {
    const file = await collect(encodeParquet(batches(5), 2048));
    const wasm = await loadParquetWasm();
    const table = tableFromIPC(wasm.readParquet(file).intoIPCStream());
    expect(table.numRows).toBe(5000);
    expect(Array.from(table.getChild('id')?.toArray() ?? [])).toEqual(Array.from({ length: 5000 }, (_, i) => i));
    expect(table.getChild('symbol')?.get(4999)).toBe(`S${4999 % 7}`);
  });

  it('fails with the batches’ own error when they fail, and ends its thread', async () => {
    await expect(collect(encodeParquet(batches(5, 2), 2048))).rejects.toThrow('the COPY broke off');
  });

  it('fails, saying so, when its thread cannot encode what it is given', async () => {
    async function* garbage() {
      yield new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    }
    await expect(collect(encodeParquet(garbage(), 2048))).rejects.toThrow(/^Parquet encoding failed: /);
  });

  it('ends when its consumer stops early (a failed upload), without waiting for the rest', async () => {
    let made = 0;
    const counted = async function* () {
      for await (const batch of batches(1000)) {
        made++;
        yield batch;
      }
    };
    for await (const chunk of encodeParquet(counted(), 1000)) {
      expect(chunk.byteLength).toBeGreaterThan(0);
      break;
    }
    expect(made).toBeLessThan(1000);
  });
});
