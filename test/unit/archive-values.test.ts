import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ARCHIVE_COLUMNS } from '../../functions/core/archive/layout';
import { rowChecksum, toParquetValue, toUnscaledDecimal } from '../../functions/core/archive/values';

describe('toUnscaledDecimal: PostgreSQL numeric text to DECIMAL(38,18) unscaled, exactly', () => {
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
    expect(toUnscaledDecimal(text)).toBe(unscaled);
  });

  it.each([
    ['100000000000000000000', 'does not fit DECIMAL(38,18)'],
    ['0.0000000000000000001', 'does not fit DECIMAL(38,18)'],
    ['NaN', 'is not a finite decimal number'],
    ['Infinity', 'is not a finite decimal number'],
    ['1e5', 'is not a finite decimal number'],
    ['', 'is not a finite decimal number'],
  ])('refuses %s', (text, message) => {
    expect(() => toUnscaledDecimal(text)).toThrow(message);
  });
});

describe('toParquetValue', () => {
  const trades = ARCHIVE_COLUMNS.trades;
  const column = (name: string) => {
    const found = trades.find((c) => c.name === name);
    if (!found) throw new Error(name);
    return found;
  };

  it('gives bigints for int64, timestamps and decimals, a number only for int32, text as is, null as null', () => {
    expect(toParquetValue(column('id'), '9223372036854775807')).toBe(9_223_372_036_854_775_807n);
    expect(toParquetValue(column('exchange_id'), '7')).toBe(7);
    expect(toParquetValue(column('ts'), '-1')).toBe(-1n);
    expect(toParquetValue(column('price'), '1.5')).toBe(1_500_000_000_000_000_000n);
    expect(toParquetValue(column('raw'), '{"a": 1e400}')).toBe('{"a": 1e400}');
    expect(toParquetValue(column('size'), null)).toBeNull();
  });
});

describe('rowChecksum', () => {
  it('hashes byte lengths and values, so neither NULL and "-" nor a split value pass for each other', () => {
    const md5Share = (text: string) => BigInt(`0x${createHash('md5').update(text).digest('hex').slice(0, 15)}`);
    // é is two bytes in UTF-8: the length PostgreSQL's octet_length gives.
    expect(rowChecksum(['a', null, 'é,', ''])).toBe(md5Share('1:a,-,3:é,,0:'));
    expect(rowChecksum(['a', null])).not.toBe(rowChecksum(['a', '-']));
    expect(rowChecksum(['ab', 'c'])).not.toBe(rowChecksum(['a', 'bc']));
    expect(rowChecksum(['é'])).toBe(md5Share('2:é'));
  });
});
