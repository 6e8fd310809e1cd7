import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ArrowBatchBuilder, DecimalOverflow } from '../../functions/shared/archive/arrow-columns';
import { ARCHIVE_COLUMNS, type ArchiveColumn } from '../../functions/shared/archive/layout';
import { MD5_PADDING_ROOM, md5Head, md5HeadPadded } from '../../functions/shared/archive/md5';
import { RowDigest } from '../../functions/shared/archive/row-digest';
import { seededRandom } from '../support/random';

const trades = ARCHIVE_COLUMNS.trades;
const column = (name: string): ArchiveColumn => {
  const found = trades.find((c) => c.name === name);
  if (!found) throw new Error(name);
  return found;
};
const encoder = new TextEncoder();

/** One COPY text field through the builder of `of`'s kind; the Arrow value back as a bigint, number or text. */
function build(of: ArchiveColumn, text: string): bigint | number | string | null {
  const builder = new ArrowBatchBuilder([of], 1);
  const bytes = encoder.encode(text);
  builder.appendRow(bytes, 0, bytes.length);
  const data = builder.take().data.children[0];
  if (!data || (data.nullBitmap && data.nullCount > 0)) return null;
  const values = data.values as ArrayLike<number> & { buffer: ArrayBufferLike; byteOffset: number };
  switch (of.kind) {
    case 'decimal': {
      const words = new Uint32Array(values.buffer, values.byteOffset, 4);
      let unscaled = 0n;
      for (let w = 3; w >= 0; w--) unscaled = (unscaled << 32n) | BigInt(words[w] as number);
      return BigInt.asIntN(128, unscaled);
    }
    case 'int64':
    case 'timestamp':
      return new BigInt64Array(values.buffer, values.byteOffset, 1)[0] as bigint;
    case 'int32':
      return values[0] as number;
    default:
      return new TextDecoder().decode(new Uint8Array(values.buffer, values.byteOffset, (data.valueOffsets as Int32Array)[1]));
  }
}

describe('NUMERIC text to DECIMAL(38,18) unscaled, exactly (arrow-columns.ts)', () => {
  it.each([
    ['0', 0n],
    ['-0.000000000001', -1_000_000n],
    ['123456789012.123456789012', 123_456_789_012_123_456_789_012_000_000n],
    ['0.000000000000000001', 1n],
    ['99999999999999999999.999999999999999999', 99_999_999_999_999_999_999_999_999_999_999_999_999n],
    ['-99999999999999999999.999999999999999999', -99_999_999_999_999_999_999_999_999_999_999_999_999n],
    ['1.50000000000000000000000000', 1_500_000_000_000_000_000n],
    ['007.5', 7_500_000_000_000_000_000n],
  ])('%s', (text, unscaled) => {
    expect(build(column('price'), text)).toBe(unscaled);
  });

  it.each([['100000000000000000000'], ['0.0000000000000000001'], ['NaN'], ['Infinity'], ['-Infinity'], ['1e5'], ['']])(
    'refuses %s',
    (text) => {
      expect(() => build(column('price'), text)).toThrow(DecimalOverflow);
    },
  );
});

describe('the other kinds', () => {
  it('gives 64-bit integers for int64 and timestamps (microseconds, from UTC ISO text), 32-bit for int32, text as is, \\N as null', () => {
    expect(build(column('id'), '9223372036854775807')).toBe(9_223_372_036_854_775_807n);
    expect(build(column('id'), '-9223372036854775808')).toBe(-9_223_372_036_854_775_808n);
    expect(build(column('exchange_id'), '7')).toBe(7);
    expect(build(column('ts'), '1969-12-31 23:59:59.999999+00')).toBe(-1n);
    expect(build(column('ts'), '2026-06-17 12:34:56.7+00')).toBe(1_781_699_696_700_000n);
    expect(build(column('ts'), '9999-12-30 23:59:59+00')).toBe(253_402_214_399_000_000n);
    expect(build(column('raw'), '{"a": 1e400, "t": "x\\\\ty\\nz"}')).toBe('{"a": 1e400, "t": "x\\ty\nz"}');
    expect(build(column('received_at'), '\\N')).toBeNull();
  });
});

describe('random values, each Arrow value and checksum text against a bigint reference (arrow-columns.ts)', () => {
  const { next: random, below, digits } = seededRandom(0x5eed);
  const md5Share = (text: string) => BigInt(`0x${createHash('md5').update(text).digest('hex').slice(0, 15)}`);

  /** One field through a one-column builder: its Arrow value (as build() reads it) and its row's checksum share. */
  function buildWithShare(of: ArchiveColumn, text: string): [bigint | number | string | null, bigint] {
    const builder = new ArrowBatchBuilder([of], 1);
    const bytes = encoder.encode(text);
    const [high, low] = builder.appendRow(bytes, 0, bytes.length);
    return [build(of, text), (BigInt(high) << 30n) + BigInt(low)];
  }
  const shareOf = (exact: string) => md5Share(`${exact.length}:${exact}`);

  it('NUMERIC text of 1 to 38 digits, both signs, with and without fraction zeros (the short and the wide path)', () => {
    for (let n = 0; n < 20_000; n++) {
      const integer = below(4) === 0 ? '0' : String(1 + below(9)) + digits(below(20));
      const fraction = below(5) === 0 ? '' : '0'.repeat(below(3) === 0 ? below(12) : 0) + digits(below(12));
      const kept = fraction.replace(/0+$/, '');
      if (kept.length > 18) continue;
      const zeros = '0'.repeat(below(4));
      const negative = below(3) === 0 && (integer !== '0' || kept !== '');
      const text = `${negative ? '-' : ''}${integer}${fraction || zeros ? `.${fraction}${zeros}` : ''}`;
      const unscaled = BigInt(integer + kept.padEnd(18, '0')) * (negative ? -1n : 1n);
      const exact = `${negative ? '-' : ''}${integer}${kept ? `.${kept}` : ''}`;
      expect(buildWithShare(column('price'), text), text).toEqual([unscaled, shareOf(exact)]);
    }
  });

  it('timestamps from 1900 to 2200 with 0 to 6 fraction digits: microseconds since 1970, exact text those microseconds', () => {
    const from = Date.UTC(1900, 0, 1);
    const to = Date.UTC(2200, 0, 1);
    for (let n = 0; n < 20_000; n++) {
      const millis = from + Math.floor(random() * (to - from));
      const micros = BigInt(millis) * 1000n + BigInt(below(1000));
      const date = new Date(Number(micros / 1000n - (micros < 0n && micros % 1000n !== 0n ? 1n : 0n)));
      const fraction = String(((micros % 1_000_000n) + 1_000_000n) % 1_000_000n)
        .padStart(6, '0')
        .replace(/0+$/, '');
      const text = `${date.toISOString().slice(0, 19).replace('T', ' ')}${fraction ? `.${fraction}` : ''}+00`;
      expect(buildWithShare(column('ts'), text), text).toEqual([micros, shareOf(String(micros))]);
    }
  });

  it('64-bit integers of every length and sign', () => {
    for (let n = 0; n < 20_000; n++) {
      const magnitude = BigInt(String(1 + below(9)) + digits(below(18)));
      const value = below(2) === 0 ? -magnitude : magnitude;
      expect(buildWithShare(column('id'), String(value))).toEqual([value, shareOf(String(value))]);
    }
  });
});

describe('the row checksum (row-digest.ts)', () => {
  const share = (values: (string | null)[]) => {
    const digest = new RowDigest();
    for (const value of values) {
      if (value === null) digest.addNull();
      else {
        const bytes = encoder.encode(value);
        digest.addBytes(bytes, 0, bytes.length);
      }
    }
    const [high, low] = digest.share();
    return (BigInt(high) << 30n) + BigInt(low);
  };
  const md5Share = (text: string) => BigInt(`0x${createHash('md5').update(text).digest('hex').slice(0, 15)}`);

  it('hashes byte lengths and values, so neither NULL and "-" nor a split value pass for each other', () => {
    // é is two bytes in UTF-8: the length PostgreSQL's octet_length gives.
    expect(share(['a', null, 'é,', ''])).toBe(md5Share('1:a,-,3:é,,0:'));
    expect(share(['a', null])).not.toBe(share(['a', '-']));
    expect(share(['ab', 'c'])).not.toBe(share(['a', 'bc']));
    expect(share(['é'])).toBe(md5Share('2:é'));
  });

  it('hashes a row longer than its first buffer (grown, still read as words)', () => {
    const long = 'x'.repeat(10_001);
    expect(share([long, 'é'])).toBe(md5Share(`10001:${long},2:é`));
  });

  it('writes an integer value as its decimal text', () => {
    const digest = new RowDigest();
    digest.addInteger(-1);
    digest.addInteger(1_781_699_696_700_000);
    const [high, low] = digest.share();
    expect((BigInt(high) << 30n) + BigInt(low)).toBe(md5Share('2:-1,16:1781699696700000'));
  });
});

describe('md5 in JS (md5.ts)', () => {
  it("gives node:crypto's md5 head at every length around the block and padding edges, on any bytes", () => {
    // A fixed pseudo-random stream: the same bytes every run, every byte value met.
    let seed = 12_345;
    const bytes = new Uint8Array(1_200);
    for (let i = 0; i < bytes.length; i++) {
      seed = (seed * 1_103_515_245 + 12_345) >>> 0;
      bytes[i] = seed >>> 24;
    }
    const words = new Int32Array(bytes.buffer);
    // Not at a word boundary: no word view can be given, the bytes are put together.
    const shifted = new Uint8Array(bytes.length + 1).subarray(1);
    shifted.set(bytes);
    for (let length = 0; length <= bytes.length; length++) {
      const digest = createHash('md5').update(bytes.subarray(0, length)).digest();
      const expected = [digest.readUInt32BE(0), digest.readUInt32BE(4)];
      expect([...md5Head(bytes, length)], `length ${length}`).toEqual(expected);
      expect([...md5Head(bytes, length, words)], `length ${length}, read as words`).toEqual(expected);
      expect([...md5Head(shifted, length, words)], `length ${length}, a view of other bytes`).toEqual(expected);
    }
  });

  it('pads in place in the room its caller keeps (md5HeadPadded), at every length, whatever lies after the message', () => {
    const bytes = new Uint8Array(1_200 + MD5_PADDING_ROOM);
    const words = new Int32Array(bytes.buffer);
    for (let length = 0; length <= 1_200; length++) {
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + length) & 0xff;
      const digest = createHash('md5').update(bytes.subarray(0, length)).digest();
      expect([...md5HeadPadded(bytes, words, length)], `length ${length}`).toEqual([digest.readUInt32BE(0), digest.readUInt32BE(4)]);
    }
  });

  it('hashes only the bytes before `length`, wherever they lie', () => {
    const bytes = new TextEncoder().encode('abcXYZ');
    const digest = createHash('md5').update('abc').digest();
    expect([...md5Head(bytes, 3)]).toEqual([digest.readUInt32BE(0), digest.readUInt32BE(4)]);
  });
});
