import { createHash } from 'node:crypto';
import { ARCHIVE_DECIMAL, type ArchiveColumn } from './layout';

const SCALE = ARCHIVE_DECIMAL.scale;
const INTEGER_DIGITS = ARCHIVE_DECIMAL.precision - ARCHIVE_DECIMAL.scale;
const NUMERIC_TEXT = /^(-?)(\d+)(?:\.(\d+))?$/;

/**
 * PostgreSQL's text of a NUMERIC as DECIMAL(38,18)'s unscaled bigint, exactly. Throws for a
 * value it cannot hold (the partition check refuses those first; this is the second guard).
 */
export function toUnscaledDecimal(text: string): bigint {
  const match = NUMERIC_TEXT.exec(text);
  if (!match) throw new Error(`${text} is not a finite decimal number`);
  const [, sign, whole = '', fraction = ''] = match;
  const significantFraction = fraction.replace(/0+$/, '');
  const integer = whole.replace(/^0+(?=\d)/, '');
  if (significantFraction.length > SCALE || (integer !== '0' && integer.length > INTEGER_DIGITS)) {
    throw new Error(`${text} does not fit DECIMAL(${ARCHIVE_DECIMAL.precision},${SCALE})`);
  }
  const unscaled = BigInt(integer + significantFraction.padEnd(SCALE, '0'));
  return sign ? -unscaled : unscaled;
}

/** One exact-text value as the writer takes it: bigint for int64, timestamps and decimals; no double anywhere. */
export function toParquetValue(column: ArchiveColumn, text: string | null): string | number | bigint | null {
  if (text === null) return null;
  switch (column.kind) {
    case 'int32':
      return Number(text);
    case 'int64':
    case 'timestamp':
      return BigInt(text);
    case 'decimal':
      return toUnscaledDecimal(text);
    default:
      return text;
  }
}

/**
 * The checksum's share of one row, from the same text partitionCheckSql hashes: the first 60
 * bits of md5 over each value's byte length, `:` and the value (`-` for NULL), joined by commas.
 */
export function rowChecksum(values: readonly (string | null)[]): bigint {
  const text = values.map((value) => (value === null ? '-' : `${Buffer.byteLength(value)}:${value}`)).join(',');
  return BigInt(`0x${createHash('md5').update(text).digest('hex').slice(0, 15)}`);
}

/** How a checksum is written in the ledger: the method, then the sum of the rows' shares. */
export function checksumText(sum: bigint | string): string {
  return `md5-60-sum:${sum}`;
}
