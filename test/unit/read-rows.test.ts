// hyparquet-writer (a devDependency) writes files the way the archive did before the Arrow writer: restore still reads those.
import { parquetWriteBuffer } from 'hyparquet-writer';
import { describe, expect, it } from 'vitest';
import { ARCHIVE_COLUMNS } from '../../functions/shared/archive/layout';
import { decimalText, openArchiveFile, readArchiveRows, timestampText } from '../../functions/shared/archive/read-rows';
import type { ArchiveStore } from '../../functions/shared/archive/store';

/** A store over one in-memory object, answering explicit ranges only (as s3rver must be used). */
function memoryStore(objects: Record<string, Uint8Array>): ArchiveStore {
  return {
    location: 'memory://test',
    put: () => Promise.reject(new Error('read-only')),
    size: async (key) => objects[key]?.byteLength ?? null,
    read: async (key, start, end) => {
      const object = objects[key];
      if (!object || start < 0 || end > object.byteLength || start > end) throw new Error(`bad range ${start}-${end} of ${key}`);
      return object.subarray(start, end);
    },
  };
}

const DEC = {
  type: 'FIXED_LEN_BYTE_ARRAY',
  type_length: 16,
  converted_type: 'DECIMAL',
  precision: 38,
  scale: 18,
  logical_type: { type: 'DECIMAL', precision: 38, scale: 18 },
} as const;
const TS = {
  type: 'INT64',
  converted_type: 'TIMESTAMP_MICROS',
  logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' },
} as const;
const STR = { type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } } as const;

/** Decimal text -> the unscaled bigint the writer takes. */
function unscaled(text: string): bigint {
  const [whole = '0', fraction = ''] = text.replace('-', '').split('.');
  const value = BigInt(whole) * 10n ** 18n + BigInt(fraction.padEnd(18, '0'));
  return text.startsWith('-') ? -value : value;
}

const RATES = [
  '99999999999999999999.999999999999999999',
  '-99999999999999999999.999999999999999999',
  '-0.000000000000000001',
  '0',
  '123456789012.123456789012',
  '1.5',
];

/** A funding_rates day file as the archive writes it, in row groups of two rows. */
function fundingRatesFile(): Uint8Array {
  const n = RATES.length;
  const micros = [1767225600000001n, 1767311999999999n, 1767225600000000n, 1767225600123456n, 1767225601000000n, 1767225600999999n];
  const schema = [
    { name: 'root', num_children: 9 },
    { name: 'id', type: 'INT64', repetition_type: 'REQUIRED' },
    { name: 'exchange_id', type: 'INT32', repetition_type: 'REQUIRED' },
    { name: 'market_id', type: 'INT64', repetition_type: 'OPTIONAL' },
    { name: 'symbol', ...STR, repetition_type: 'REQUIRED' },
    { name: 'ts', ...TS, repetition_type: 'REQUIRED' },
    { name: 'received_at', ...TS, repetition_type: 'OPTIONAL' },
    { name: 'rate', ...DEC, repetition_type: 'REQUIRED' },
    { name: 'next_rate', ...DEC, repetition_type: 'OPTIONAL' },
    { name: 'raw', ...STR, repetition_type: 'OPTIONAL' },
  ];
  const columnData = [
    { name: 'id', data: Array.from({ length: n }, (_, i) => 9_007_199_254_740_993n + BigInt(i)) },
    { name: 'exchange_id', data: Array.from({ length: n }, () => 1) },
    { name: 'market_id', data: Array.from({ length: n }, (_, i) => (i % 2 ? null : BigInt(i))) },
    { name: 'symbol', data: Array.from({ length: n }, () => 'BTC-PERP') },
    { name: 'ts', data: micros },
    { name: 'received_at', data: micros.map((m, i) => (i === 0 ? null : m + 1n)) },
    { name: 'rate', data: RATES.map(unscaled) },
    { name: 'next_rate', data: RATES.map((r, i) => (i === 3 ? null : unscaled(r))) },
    { name: 'raw', data: RATES.map((_, i) => (i === 1 ? null : `{"p": 123456789012.123456789012, "s": "tab\\there"}`)) },
  ];
  // biome-ignore lint/suspicious/noExplicitAny: the writer's schema types are hyparquet's; this file is test data
  return new Uint8Array(parquetWriteBuffer({ columnData, schema: schema as any, rowGroupSize: 2 }));
}

describe('the archive read back exactly', () => {
  it('turns unscaled DECIMAL(38,18) bytes into exact text', () => {
    const bytes = (value: bigint) => {
      const out = new Uint8Array(16);
      let v = BigInt.asUintN(128, value);
      for (let i = 15; i >= 0; i--) {
        out[i] = Number(v & 0xffn);
        v >>= 8n;
      }
      return out;
    };
    for (const text of RATES) expect(decimalText(bytes(unscaled(text)))).toBe(text);
  });

  it('turns microseconds into timestamptz text, before 1970 too', () => {
    expect(timestampText(1767225600000001n)).toBe('2026-01-01T00:00:00.000001Z');
    expect(timestampText(-1n)).toBe('1969-12-31T23:59:59.999999Z');
    expect(timestampText(0n)).toBe('1970-01-01T00:00:00.000000Z');
  });

  it('reads every row group of a file, values exact', async () => {
    const store = memoryStore({ k: fundingRatesFile() });
    const file = await openArchiveFile(store, 'k', 'funding_rates');
    expect(file.rows).toBe(RATES.length);
    expect(file.rowGroups).toBe(3);
    const groups: (string | null)[][][] = [];
    for await (const rows of readArchiveRows(file, 'funding_rates')) groups.push(rows);
    expect(groups.map((g) => g.length)).toEqual([2, 2, 2]);
    const rows = groups.flat();
    expect(rows.map((r) => r[0])).toEqual(RATES.map((_, i) => String(9_007_199_254_740_993n + BigInt(i))));
    expect(rows.map((r) => r[6])).toEqual(RATES);
    expect(rows[3]?.[7]).toBeNull();
    expect(rows[0]?.[4]).toBe('1767225600000001');
    expect(rows[0]?.[5]).toBeNull();
    expect(rows[1]?.[2]).toBeNull();
    expect(rows[0]?.[8]).toBe('{"p": 123456789012.123456789012, "s": "tab\\there"}');
    expect(rows[0]?.length).toBe(ARCHIVE_COLUMNS.funding_rates.length);
  });

  it('refuses a file with other columns, saying which', async () => {
    const store = memoryStore({ k: fundingRatesFile() });
    await expect(openArchiveFile(store, 'k', 'trades')).rejects.toThrow(/does not have the columns of trades.*expected \(id, exchange_id/);
  });

  it('refuses a missing object and one that is not Parquet', async () => {
    const store = memoryStore({ junk: new TextEncoder().encode('not parquet at all, just text') });
    await expect(openArchiveFile(store, 'gone', 'trades')).rejects.toThrow('memory://test/gone does not exist');
    await expect(openArchiveFile(store, 'junk', 'trades')).rejects.toThrow(/is not a readable Parquet file/);
  });
});
