import {
  type Data,
  type DataType,
  Decimal,
  Field,
  Int32,
  Int64,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  TimestampMicrosecond,
  Utf8,
} from 'apache-arrow';
import { ARCHIVE_DECIMAL, type ArchiveColumn, type ArchiveColumnKind } from './layout';
import { RowDigest } from './row-digest';
import { BYTE, daysFromCivil, multiplyAdd, negate, POWERS_OF_TEN, TWO_TO_32 } from './words';

/*
 * PostgreSQL's COPY text rows (`SELECT <columns>` in UTC and ISO DateStyle) straight into Arrow
 * columns, byte by byte: no JS string, bigint or double is made for a value on the way. Integers
 * become 32/64-bit two's complement, timestamps whole microseconds, NUMERIC text DECIMAL(38,18)'s
 * 128-bit unscaled value, text and JSON keep their UTF-8 bytes. Each value's exact text (the
 * checksum's definition, export-sql.ts) goes into a RowDigest on the way. A NUMERIC value
 * DECIMAL(38,18) cannot hold stops the batch with DecimalOverflow; the caller then asks
 * PostgreSQL which ones.
 */

/** The Arrow type each archive kind is written as; parquet-wasm maps them to the Parquet types of parquet-schema.ts. */
export const ARROW_TYPES: Record<ArchiveColumnKind, () => DataType> = {
  int32: () => new Int32(),
  int64: () => new Int64(),
  text: () => new Utf8(),
  json: () => new Utf8(),
  timestamp: () => new TimestampMicrosecond('UTC'),
  decimal: () => new Decimal(ARCHIVE_DECIMAL.scale, ARCHIVE_DECIMAL.precision, 128),
};

/** The Arrow schema of a table's archive. */
export function arrowSchema(columns: readonly ArchiveColumn[]): Schema {
  return new Schema(columns.map((column) => new Field(column.name, ARROW_TYPES[column.kind](), column.nullable)));
}

/** A NUMERIC value outside DECIMAL(38,18) reached the builder. */
export class DecimalOverflow extends Error {
  constructor(readonly column: string) {
    super(`a value of ${column} does not fit DECIMAL(${ARCHIVE_DECIMAL.precision},${ARCHIVE_DECIMAL.scale})`);
    this.name = 'DecimalOverflow';
  }
}

/** A value the COPY text should never hold for this column (a bug or a schema change): the export stops. */
export class UnexpectedValueError extends Error {
  constructor(column: string, text: string) {
    super(`${column}: unexpected value ${JSON.stringify(text.slice(0, 80))} in the COPY stream`);
    this.name = 'UnexpectedValueError';
  }
}

const { TAB, BACKSLASH, MINUS, DOT, ZERO } = BYTE;
const SCALE = ARCHIVE_DECIMAL.scale;
const INTEGER_DIGITS = ARCHIVE_DECIMAL.precision - ARCHIVE_DECIMAL.scale;
const DECODER = new TextDecoder();

/** One column's values as they arrive. */
interface ColumnBuilder {
  /** Appends the field bytes[start, end) (COPY text, still escaped), or NULL when start < 0; feeds its exact text to `digest`. */
  append(bytes: Uint8Array, start: number, end: number, digest: RowDigest): void;
  finish(length: number): Data;
}

/** Builds batches of rows for `columns` from COPY text rows, and each row's checksum share. */
export class ArrowBatchBuilder {
  private builders: ColumnBuilder[];
  private readonly digest = new RowDigest();
  rows = 0;

  constructor(
    private readonly columns: readonly ArchiveColumn[],
    private readonly capacity: number,
  ) {
    this.builders = this.fresh();
  }

  /**
   * Appends one COPY text row, bytes[start, end) without its newline, holding one field per
   * column; returns the row's checksum share as [high 30 bits, low 30 bits].
   */
  appendRow(bytes: Uint8Array, start: number, end: number): readonly [number, number] {
    let field = start;
    this.digest.reset();
    for (const builder of this.builders) {
      let stop = field;
      while (stop < end && bytes[stop] !== TAB) stop++;
      const isNull = stop - field === 2 && bytes[field] === BACKSLASH && bytes[field + 1] === 78; // \N
      builder.append(bytes, isNull ? -1 : field, stop, this.digest);
      field = stop + 1;
    }
    if (field !== end + 1) throw new Error(`a COPY row holds more fields than the ${this.columns.length} columns asked for`);
    this.rows++;
    return this.digest.share();
  }

  get full(): boolean {
    return this.rows >= this.capacity;
  }

  /** The rows so far as one RecordBatch; the builder starts a new batch. */
  take(): RecordBatch {
    const schema = arrowSchema(this.columns);
    const children = this.builders.map((builder) => builder.finish(this.rows));
    const data = makeData({ type: new Struct(schema.fields), length: this.rows, nullCount: 0, children });
    const batch = new RecordBatch(schema, data);
    this.builders = this.fresh();
    this.rows = 0;
    return batch;
  }

  private fresh(): ColumnBuilder[] {
    return this.columns.map((column) => BUILDERS[column.kind](column, this.capacity));
  }
}

/** Validity bits, made on the first NULL: a column without NULLs gets no bitmap. */
class Validity {
  private bits: Uint8Array | undefined;
  nulls = 0;

  constructor(private readonly capacity: number) {}

  markNull(index: number): void {
    this.bits ??= new Uint8Array(Math.ceil(this.capacity / 8)).fill(0xff);
    this.bits[index >> 3] = (this.bits[index >> 3] as number) & ~(1 << (index & 7));
    this.nulls++;
  }

  bitmap(): Uint8Array | undefined {
    return this.bits;
  }
}

/** NULL handling and counting shared by every column type. */
abstract class Builder implements ColumnBuilder {
  protected count = 0;
  protected readonly validity: Validity;

  constructor(
    protected readonly column: ArchiveColumn,
    capacity: number,
  ) {
    this.validity = new Validity(capacity);
  }

  append(bytes: Uint8Array, start: number, end: number, digest: RowDigest): void {
    if (start < 0) {
      if (!this.column.nullable) throw new UnexpectedValueError(this.column.name, 'NULL');
      this.validity.markNull(this.count);
      digest.addNull();
    } else {
      this.parse(bytes, start, end, digest);
    }
    this.count++;
  }

  protected abstract parse(bytes: Uint8Array, start: number, end: number, digest: RowDigest): void;
  abstract finish(length: number): Data;

  protected data(type: DataType, length: number, fields: { data: ArrayBufferView; valueOffsets?: Int32Array }): Data {
    return makeData({ type, length, nullCount: this.validity.nulls, nullBitmap: this.validity.bitmap(), ...fields } as never);
  }

  protected unexpected(bytes: Uint8Array, start: number, end: number): UnexpectedValueError {
    return new UnexpectedValueError(this.column.name, DECODER.decode(bytes.subarray(start, end)));
  }
}

class Int32Builder extends Builder {
  private readonly values: Int32Array;

  constructor(column: ArchiveColumn, capacity: number) {
    super(column, capacity);
    this.values = new Int32Array(capacity);
  }

  protected parse(bytes: Uint8Array, start: number, end: number, digest: RowDigest): void {
    const negative = bytes[start] === MINUS;
    let value = 0;
    for (let i = negative ? start + 1 : start; i < end; i++) value = value * 10 + digitAt(bytes, i, this);
    this.values[this.count] = negative ? -value : value;
    digest.addBytes(bytes, start, end);
  }

  finish(length: number): Data {
    return this.data(new Int32(), length, { data: this.values.subarray(0, length) });
  }
}

/** 64-bit values as two little-endian 32-bit words each. */
abstract class Word64Builder extends Builder {
  protected readonly words: Uint32Array;
  protected readonly limbs = [0, 0];

  constructor(column: ArchiveColumn, capacity: number) {
    super(column, capacity);
    this.words = new Uint32Array(capacity * 2);
  }

  finish(length: number): Data {
    const type = this.column.kind === 'timestamp' ? new TimestampMicrosecond('UTC') : new Int64();
    return this.data(type, length, { data: new BigInt64Array(this.words.buffer, 0, length) });
  }
}

class Int64Builder extends Word64Builder {
  protected parse(bytes: Uint8Array, start: number, end: number, digest: RowDigest): void {
    const limbs = this.limbs;
    limbs.fill(0);
    const negative = bytes[start] === MINUS;
    const from = negative ? start + 1 : start;
    if (end - from <= 15) {
      const value = readNumber(bytes, from, end, this);
      limbs[1] = Math.floor(value / TWO_TO_32);
      limbs[0] = value - (limbs[1] as number) * TWO_TO_32;
    } else {
      if (!readDigits(bytes, from, end, limbs)) throw this.unexpected(bytes, start, end);
    }
    if (negative) negate(limbs);
    this.words.set(limbs, this.count * 2);
    digest.addBytes(bytes, start, end);
  }
}

const MICROS_PER_SECOND = 1_000_000;
const SECONDS_PER_DAY = 86_400;
const SAFE_SECONDS = Math.floor(Number.MAX_SAFE_INTEGER / MICROS_PER_SECOND);

/**
 * timestamptz text in UTC and ISO DateStyle (`2026-12-03 12:34:56.123456+00`, four-digit years:
 * a day partition holds nothing else) as microseconds since 1970-01-01; the exact text is those
 * microseconds as an integer, as export-sql.ts defines it.
 */
class TimestampBuilder extends Word64Builder {
  /** The date last read (YYYYMMDD) and its days since 1970-01-01: a day partition has a date or two. */
  private lastDate = -1;
  private lastDays = 0;

  protected parse(bytes: Uint8Array, start: number, end: number, digest: RowDigest): void {
    // 2026-12-03 12:34:56[.ffffff]+00
    if (end - start < 22 || bytes[start + 4] !== MINUS || bytes[end - 3] !== 43 /* + */ || bytes[end - 1] !== ZERO) {
      throw this.unexpected(bytes, start, end);
    }
    const year = readNumber(bytes, start, start + 4, this);
    const month = readNumber(bytes, start + 5, start + 7, this);
    const day = readNumber(bytes, start + 8, start + 10, this);
    const date = year * 10_000 + month * 100 + day;
    if (date !== this.lastDate) {
      this.lastDays = daysFromCivil(year, month, day);
      this.lastDate = date;
    }
    const days = this.lastDays;
    const seconds =
      days * SECONDS_PER_DAY +
      readNumber(bytes, start + 11, start + 13, this) * 3600 +
      readNumber(bytes, start + 14, start + 16, this) * 60 +
      readNumber(bytes, start + 17, start + 19, this);
    let micros = 0;
    if (bytes[start + 19] === DOT) {
      const fractionEnd = end - 3;
      const digits = fractionEnd - start - 20;
      if (digits < 1 || digits > 6) throw this.unexpected(bytes, start, end); // microseconds at most
      micros = readNumber(bytes, start + 20, fractionEnd, this) * (POWERS_OF_TEN[6 - digits] as number);
    }
    if (Math.abs(seconds) >= SAFE_SECONDS) {
      // After about 2255 the microseconds leave a double's exact range: bigint for those.
      const exact = BigInt(seconds) * 1_000_000n + BigInt(micros);
      this.words[this.count * 2] = Number(BigInt.asUintN(32, exact));
      this.words[this.count * 2 + 1] = Number(BigInt.asUintN(32, exact >> 32n));
      digest.addAscii(exact.toString());
      return;
    }
    const total = seconds * MICROS_PER_SECOND + micros;
    const magnitude = Math.abs(total);
    const limbs = this.limbs;
    limbs[1] = Math.floor(magnitude / TWO_TO_32);
    limbs[0] = magnitude - (limbs[1] as number) * TWO_TO_32;
    if (total < 0) negate(limbs);
    this.words.set(limbs, this.count * 2);
    digest.addInteger(total);
  }
}

/** The decimal number in bytes[start, end), all digits (else UnexpectedValueError). */
function readNumber(bytes: Uint8Array, start: number, end: number, builder: Builder): number {
  let value = 0;
  for (let i = start; i < end; i++) value = value * 10 + digitAt(bytes, i, builder);
  return value;
}

/**
 * NUMERIC text (no exponent) as DECIMAL(38,18): four little-endian 32-bit words. Its exact text
 * is PostgreSQL's without trailing fraction zeros (and without a trailing dot).
 */
class DecimalBuilder extends Builder {
  private readonly words: Uint32Array;
  private readonly limbs = [0, 0, 0, 0];

  constructor(column: ArchiveColumn, capacity: number) {
    super(column, capacity);
    this.words = new Uint32Array(capacity * 4);
  }

  protected parse(bytes: Uint8Array, start: number, end: number, digest: RowDigest): void {
    let dot = start;
    while (dot < end && bytes[dot] !== DOT) dot++;
    const hasFraction = dot < end;
    let exactEnd = end;
    if (hasFraction) {
      while (exactEnd > dot + 1 && bytes[exactEnd - 1] === ZERO) exactEnd--;
      if (exactEnd === dot + 1) exactEnd = dot;
    }
    const negative = bytes[start] === MINUS;
    let from = negative ? start + 1 : start;
    const integerEnd = hasFraction ? dot : end;
    if (integerEnd === from && !hasFraction) throw new DecimalOverflow(this.column.name); // no digits at all
    while (from < integerEnd - 1 && bytes[from] === ZERO) from++;
    if (integerEnd - from > INTEGER_DIGITS || exactEnd - (hasFraction ? dot + 1 : exactEnd) > SCALE) {
      throw new DecimalOverflow(this.column.name);
    }
    const limbs = this.limbs;
    limbs.fill(0);
    if (!readDigits(bytes, from, integerEnd, limbs)) throw new DecimalOverflow(this.column.name); // NaN, Infinity
    if (hasFraction && !readDigits(bytes, dot + 1, exactEnd, limbs)) throw new DecimalOverflow(this.column.name);
    const fractionDigits = hasFraction && exactEnd > dot ? exactEnd - dot - 1 : 0;
    scaleBy(limbs, SCALE - fractionDigits);
    if (negative) negate(limbs);
    this.words.set(limbs, this.count * 4);
    digest.addBytes(bytes, start, exactEnd);
  }

  finish(length: number): Data {
    return this.data(ARROW_TYPES.decimal(), length, { data: this.words.subarray(0, length * 4) });
  }
}

/** text and JSON: the UTF-8 bytes COPY sends, unescaped. */
class Utf8Builder extends Builder {
  private readonly offsets: Int32Array;
  private values: Uint8Array;
  private used = 0;

  constructor(column: ArchiveColumn, capacity: number) {
    super(column, capacity);
    this.offsets = new Int32Array(capacity + 1);
    this.values = new Uint8Array(Math.max(1024, capacity * 16));
  }

  override append(bytes: Uint8Array, start: number, end: number, digest: RowDigest): void {
    super.append(bytes, start, end, digest);
    this.offsets[this.count] = this.used;
  }

  protected parse(bytes: Uint8Array, start: number, end: number, digest: RowDigest): void {
    if (this.used + (end - start) > this.values.length) {
      const grown = new Uint8Array(Math.max(this.values.length * 2, this.used + (end - start)));
      grown.set(this.values.subarray(0, this.used));
      this.values = grown;
    }
    const from = this.used;
    this.used = copyUnescaped(bytes, start, end, this.values, this.used);
    digest.addBytes(this.values, from, this.used);
  }

  finish(length: number): Data {
    return this.data(new Utf8(), length, { data: this.values.subarray(0, this.used), valueOffsets: this.offsets.subarray(0, length + 1) });
  }
}

const BUILDERS: Record<ArchiveColumnKind, (column: ArchiveColumn, capacity: number) => ColumnBuilder> = {
  int32: (column, capacity) => new Int32Builder(column, capacity),
  int64: (column, capacity) => new Int64Builder(column, capacity),
  timestamp: (column, capacity) => new TimestampBuilder(column, capacity),
  decimal: (column, capacity) => new DecimalBuilder(column, capacity),
  text: (column, capacity) => new Utf8Builder(column, capacity),
  json: (column, capacity) => new Utf8Builder(column, capacity),
};

function digitAt(bytes: Uint8Array, i: number, builder: Builder): number {
  const digit = (bytes[i] as number) - ZERO;
  if (digit < 0 || digit > 9)
    throw new UnexpectedValueError((builder as unknown as { column: ArchiveColumn }).column.name, `byte ${bytes[i]}`);
  return digit;
}

const ESCAPES: Record<number, number> = { 98: 8, 102: 12, 110: 10, 114: 13, 116: 9, 118: 11 }; // \b \f \n \r \t \v

/**
 * Copies a COPY text field into `out` at `at`, undoing its escapes (\\, \b \f \n \r \t \v,
 * \ooo octal, \xhh); returns the new end. Unescaping only shortens: `out` needs end - start bytes.
 */
export function copyUnescaped(bytes: Uint8Array, start: number, end: number, out: Uint8Array, at: number): number {
  let i = start;
  while (i < end) {
    const byte = bytes[i] as number;
    if (byte !== BACKSLASH || i + 1 >= end) {
      out[at++] = byte;
      i++;
      continue;
    }
    const next = bytes[i + 1] as number;
    const simple = ESCAPES[next];
    if (simple !== undefined) {
      out[at++] = simple;
      i += 2;
    } else if (next >= ZERO && next <= ZERO + 7) {
      let value = 0;
      let j = i + 1;
      for (; j < end && j < i + 4 && isOctal(bytes[j] as number); j++) value = value * 8 + ((bytes[j] as number) - ZERO);
      out[at++] = value & 0xff;
      i = j;
    } else if (next === 120 /* x */) {
      let value = 0;
      let j = i + 2;
      for (; j < end && j < i + 4 && hexValue(bytes[j] as number) >= 0; j++) value = value * 16 + hexValue(bytes[j] as number);
      out[at++] = value & 0xff;
      i = j;
    } else {
      out[at++] = next;
      i += 2;
    }
  }
  return at;
}

function isOctal(byte: number): boolean {
  return byte >= ZERO && byte <= ZERO + 7;
}

function hexValue(byte: number): number {
  if (byte >= ZERO && byte <= ZERO + 9) return byte - ZERO;
  const lower = byte | 0x20;
  return lower >= 97 && lower <= 102 ? lower - 87 : -1;
}

/** Digits at a time in readDigits: a 32-bit word times 1e6 plus a carry stays exact in a double. */
const GROUP = 6;

/**
 * limbs = limbs * 10^(end - start) + the digits bytes[start, end), in little-endian 32-bit
 * words. Returns false when a byte is not a digit. Callers bound the digits so the words cannot
 * overflow.
 */
function readDigits(bytes: Uint8Array, start: number, end: number, limbs: number[]): boolean {
  for (let i = start; i < end; ) {
    const stop = Math.min(end, i + GROUP);
    let chunk = 0;
    for (let j = i; j < stop; j++) {
      const digit = (bytes[j] as number) - ZERO;
      if (digit < 0 || digit > 9) return false;
      chunk = chunk * 10 + digit;
    }
    multiplyAdd(limbs, 10 ** (stop - i), chunk);
    i = stop;
  }
  return true;
}

/** limbs = limbs * 10^digits. */
function scaleBy(limbs: number[], digits: number): void {
  for (let left = digits; left > 0; left -= GROUP) multiplyAdd(limbs, 10 ** Math.min(GROUP, left), 0);
}
