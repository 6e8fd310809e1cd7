import {
  Table as ArrowTable,
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
  tableToIPC,
  Utf8,
} from 'apache-arrow';
import { ARCHIVE_DECIMAL, type ArchiveColumn, type ArchiveColumnKind } from './layout';
import { RowDigest } from './row-digest';
import { BYTE, daysFromCivil, MicrosText, multiplyAdd, negate, negateWords, POWERS_OF_TEN, TWO_TO_32 } from './words';

/*
 * PostgreSQL's COPY text rows (`SELECT <columns>` in UTC and ISO DateStyle) straight into Arrow
 * columns, byte by byte: no JS string or bigint is made for a value on the way, and no value is
 * ever a binary fraction (a double holds only whole numbers below 2^53, which it holds exactly: a
 * decimal's digits without its point, a timestamp's microseconds). Integers
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

/**
 * One column's values as they arrive: appendValue(bytes, start, end, digest, row) takes the field
 * bytes[start, end) (COPY text, still escaped) as row `row` and feeds its exact text to
 * `digest`; appendNull a NULL. ArrowBatchBuilder calls appendValue by `form`, so that each call
 * site meets one class (a call site shared by five classes is one V8 cannot inline).
 */
type ColumnBuilder = Int32Builder | Int64Builder | TimestampBuilder | DecimalBuilder | Utf8Builder;

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
    const digest = this.digest;
    const row = this.rows;
    digest.reset();
    for (const builder of this.builders) {
      let stop = field;
      while (stop < end && bytes[stop] !== TAB) stop++;
      if (stop - field === 2 && bytes[field] === BACKSLASH && bytes[field + 1] === 78 /* \N */) builder.appendNull(digest, row);
      else if (builder.form === 'decimal') builder.appendValue(bytes, field, stop, digest, row);
      else if (builder.form === 'timestamp') builder.appendValue(bytes, field, stop, digest, row);
      else if (builder.form === 'int64') builder.appendValue(bytes, field, stop, digest, row);
      else if (builder.form === 'int32') builder.appendValue(bytes, field, stop, digest, row);
      else builder.appendValue(bytes, field, stop, digest, row);
      field = stop + 1;
    }
    if (field !== end + 1) throw new Error(`a COPY row holds more fields than the ${this.columns.length} columns asked for`);
    this.rows++;
    return this.digest.share();
  }

  get full(): boolean {
    return this.rows >= this.capacity;
  }

  /** The rows so far as one RecordBatch; the builder starts a new batch in new memory (the batch keeps this one's). */
  take(): RecordBatch {
    const batch = this.batch();
    this.builders = this.fresh();
    this.rows = 0;
    return batch;
  }

  /**
   * The rows so far as an Arrow IPC stream (a copy); the builder starts a new batch in the same
   * memory. A batch a second makes no garbage, so memory does not wait on the collector.
   */
  takeIpc(): Uint8Array {
    const ipc = tableToIPC(new ArrowTable(this.batch()), 'stream');
    for (const builder of this.builders) builder.reset();
    this.rows = 0;
    return ipc;
  }

  private batch(): RecordBatch {
    const schema = arrowSchema(this.columns);
    const children = this.builders.map((builder) => builder.finish(this.rows));
    const data = makeData({ type: new Struct(schema.fields), length: this.rows, nullCount: 0, children });
    return new RecordBatch(schema, data);
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

  reset(): void {
    this.bits?.fill(0xff);
    this.nulls = 0;
  }

  markNull(index: number): void {
    this.bits ??= new Uint8Array(Math.ceil(this.capacity / 8)).fill(0xff);
    this.bits[index >> 3] = (this.bits[index >> 3] as number) & ~(1 << (index & 7));
    this.nulls++;
  }

  bitmap(): Uint8Array | undefined {
    return this.bits;
  }
}

/** NULL handling shared by every column type. */
abstract class Builder {
  protected readonly validity: Validity;

  constructor(
    protected readonly column: ArchiveColumn,
    capacity: number,
  ) {
    this.validity = new Validity(capacity);
  }

  appendNull(digest: RowDigest, row: number): void {
    if (!this.column.nullable) throw new UnexpectedValueError(this.column.name, 'NULL');
    this.validity.markNull(row);
    digest.addNull();
  }

  abstract finish(length: number): Data;

  /** Starts a new batch in the same memory. */
  reset(): void {
    this.validity.reset();
  }

  protected data(type: DataType, length: number, fields: { data: ArrayBufferView; valueOffsets?: Int32Array }): Data {
    return makeData({ type, length, nullCount: this.validity.nulls, nullBitmap: this.validity.bitmap(), ...fields } as never);
  }

  protected unexpected(bytes: Uint8Array, start: number, end: number): UnexpectedValueError {
    return new UnexpectedValueError(this.column.name, DECODER.decode(bytes.subarray(start, end)));
  }
}

class Int32Builder extends Builder {
  readonly form = 'int32';
  private readonly values: Int32Array;

  constructor(column: ArchiveColumn, capacity: number) {
    super(column, capacity);
    this.values = new Int32Array(capacity);
  }

  appendValue(bytes: Uint8Array, start: number, end: number, digest: RowDigest, row: number): void {
    const negative = bytes[start] === MINUS;
    const from = negative ? start + 1 : start;
    const value = end - from <= 10 ? readNumber(bytes, from, end) : -1;
    if (value < 0 || end === from) throw this.unexpected(bytes, start, end);
    this.values[row] = negative ? -value : value;
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
  readonly form = 'int64';
  appendValue(bytes: Uint8Array, start: number, end: number, digest: RowDigest, row: number): void {
    const negative = bytes[start] === MINUS;
    const from = negative ? start + 1 : start;
    if (end - from <= 15) {
      const value = readNumber(bytes, from, end);
      if (value < 0 || end === from) throw this.unexpected(bytes, start, end);
      setWord64(this.words, row * 2, negative ? -value : value);
    } else {
      const limbs = this.limbs;
      limbs.fill(0);
      if (!readDigits(bytes, from, end, limbs)) throw this.unexpected(bytes, start, end);
      if (negative) negate(limbs);
      this.words.set(limbs, row * 2);
    }
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
  readonly form = 'timestamp';
  /** The date last read (YYYYMMDD) and its days since 1970-01-01: a day partition has a date or two. */
  private lastDate = -1;
  private lastDays = 0;
  /** The exact text: microseconds since 1970 as an integer. */
  private readonly text = new MicrosText();

  appendValue(bytes: Uint8Array, start: number, end: number, digest: RowDigest, row: number): void {
    // 2026-12-03 12:34:56[.ffffff]+00
    if (end - start < 22 || bytes[start + 4] !== MINUS || bytes[end - 3] !== 43 /* + */ || bytes[end - 1] !== ZERO) {
      throw this.unexpected(bytes, start, end);
    }
    const year = readNumber(bytes, start, start + 4);
    const month = readNumber(bytes, start + 5, start + 7);
    const day = readNumber(bytes, start + 8, start + 10);
    const hours = readNumber(bytes, start + 11, start + 13);
    const minutes = readNumber(bytes, start + 14, start + 16);
    const secondsOfMinute = readNumber(bytes, start + 17, start + 19);
    if ((year | month | day | hours | minutes | secondsOfMinute) < 0) throw this.unexpected(bytes, start, end);
    const date = year * 10_000 + month * 100 + day;
    if (date !== this.lastDate) {
      this.lastDays = daysFromCivil(year, month, day);
      this.lastDate = date;
    }
    const seconds = this.lastDays * SECONDS_PER_DAY + hours * 3600 + minutes * 60 + secondsOfMinute;
    let micros = 0;
    if (bytes[start + 19] === DOT) {
      const fractionEnd = end - 3;
      const digits = fractionEnd - start - 20;
      if (digits < 1 || digits > 6) throw this.unexpected(bytes, start, end); // microseconds at most
      micros = readNumber(bytes, start + 20, fractionEnd) * (POWERS_OF_TEN[6 - digits] as number);
      if (micros < 0) throw this.unexpected(bytes, start, end);
    }
    if (Math.abs(seconds) >= SAFE_SECONDS) {
      // After about 2255 the microseconds leave a double's exact range: bigint for those.
      const exact = BigInt(seconds) * 1_000_000n + BigInt(micros);
      this.words[row * 2] = Number(BigInt.asUintN(32, exact));
      this.words[row * 2 + 1] = Number(BigInt.asUintN(32, exact >> 32n));
      digest.addAscii(exact.toString());
      return;
    }
    const total = seconds * MICROS_PER_SECOND + micros;
    setWord64(this.words, row * 2, total);
    if (seconds > 0) digest.addBytes(this.text.bytes, 0, this.text.write(seconds, micros));
    else digest.addInteger(total);
  }
}

/** A safe integer as 64-bit two's complement at words[at] (low word) and words[at + 1]. */
function setWord64(words: Uint32Array, at: number, value: number): void {
  const magnitude = value < 0 ? -value : value;
  const high = Math.floor(magnitude / TWO_TO_32);
  words[at] = magnitude - high * TWO_TO_32;
  words[at + 1] = high;
  if (value < 0) negateWords(words, at, 2);
}

/** The decimal number in bytes[start, end) (at most 15 digits), or -1 when a byte is not a digit. */
function readNumber(bytes: Uint8Array, start: number, end: number): number {
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = (bytes[i] as number) - ZERO;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/**
 * NUMERIC text (no exponent) as DECIMAL(38,18): four little-endian 32-bit words. Its exact text
 * is PostgreSQL's without trailing fraction zeros (and without a trailing dot).
 */
class DecimalBuilder extends Builder {
  readonly form = 'decimal';
  private readonly words: Uint32Array;
  private readonly limbs = [0, 0, 0, 0];

  constructor(column: ArchiveColumn, capacity: number) {
    super(column, capacity);
    this.words = new Uint32Array(capacity * 4);
  }

  appendValue(bytes: Uint8Array, start: number, end: number, digest: RowDigest, row: number): void {
    let exactEnd = this.parseShort(bytes, start, end, row);
    if (exactEnd < 0) exactEnd = this.parseWide(bytes, start, end, row);
    digest.addBytes(bytes, start, exactEnd);
  }

  /**
   * A value of at most 15 digits (leading zeros aside), as prices and sizes are: its digits are
   * one exact double, scaled in the double as far as it stays exact, the rest in words. Returns
   * the end of its exact text, or -1 for any other value (parseWide's).
   */
  private parseShort(bytes: Uint8Array, start: number, end: number, row: number): number {
    const negative = bytes[start] === MINUS;
    let i = negative ? start + 1 : start;
    const integerStart = i;
    let value = 0;
    let digits = 0;
    for (; i < end; i++) {
      const digit = (bytes[i] as number) - ZERO;
      if (digit < 0 || digit > 9) break;
      value = value * 10 + digit;
      if (value > 0) digits++;
    }
    if (i === integerStart) return -1;
    let exactEnd = i;
    let fractionDigits = 0;
    if (i < end) {
      if (bytes[i] !== DOT) return -1;
      const dot = i;
      let lastNonZero = dot;
      for (i = dot + 1; i < end; i++) {
        const digit = (bytes[i] as number) - ZERO;
        if (digit < 0 || digit > 9) return -1;
        if (digit === 0) continue; // trailing zeros are not part of the value's exact text
        if (value > 0) {
          // The zeros since the last non-zero digit, then this one.
          digits += i - lastNonZero;
          if (digits > 15) return -1;
          value = value * (POWERS_OF_TEN[i - lastNonZero] as number) + digit;
        } else {
          digits = 1;
          value = digit;
        }
        lastNonZero = i;
      }
      fractionDigits = lastNonZero - dot;
      exactEnd = fractionDigits > 0 ? lastNonZero + 1 : dot;
    }
    if (digits > 15 || fractionDigits > SCALE) return -1;
    // value * 10^(SCALE - fractionDigits): in the double up to 15 digits, then 10^6 a step in words.
    let scale = SCALE - fractionDigits;
    const inDouble = Math.min(scale, 15 - digits);
    value *= POWERS_OF_TEN[inDouble] as number;
    scale -= inDouble;
    let w1 = Math.floor(value / TWO_TO_32);
    let w0 = value - w1 * TWO_TO_32;
    let w2 = 0;
    let w3 = 0;
    for (; scale > 0; scale -= GROUP) {
      const factor = POWERS_OF_TEN[scale < GROUP ? scale : GROUP] as number;
      let product = w0 * factor;
      let carry = Math.floor(product / TWO_TO_32);
      w0 = product - carry * TWO_TO_32;
      product = w1 * factor + carry;
      carry = Math.floor(product / TWO_TO_32);
      w1 = product - carry * TWO_TO_32;
      product = w2 * factor + carry;
      carry = Math.floor(product / TWO_TO_32);
      w2 = product - carry * TWO_TO_32;
      w3 = w3 * factor + carry; // below 2^14: 15 digits times 10^18 is below 2^110
    }
    const at = row * 4;
    const words = this.words;
    words[at] = w0;
    words[at + 1] = w1;
    words[at + 2] = w2;
    words[at + 3] = w3;
    if (negative) negateWords(words, at, 4);
    return exactEnd;
  }

  /** Any other NUMERIC text, up to DECIMAL(38,18)'s 38 digits, in words (DecimalOverflow beyond); returns the end of its exact text. */
  private parseWide(bytes: Uint8Array, start: number, end: number, row: number): number {
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
    this.words.set(limbs, row * 4);
    return exactEnd;
  }

  finish(length: number): Data {
    return this.data(ARROW_TYPES.decimal(), length, { data: this.words.subarray(0, length * 4) });
  }
}

/** text and JSON: the UTF-8 bytes COPY sends, unescaped. */
class Utf8Builder extends Builder {
  readonly form = 'utf8';
  private readonly offsets: Int32Array;
  private values: Uint8Array;
  private used = 0;

  constructor(column: ArchiveColumn, capacity: number) {
    super(column, capacity);
    this.offsets = new Int32Array(capacity + 1);
    this.values = new Uint8Array(Math.max(1024, capacity * 16));
  }

  override appendNull(digest: RowDigest, row: number): void {
    super.appendNull(digest, row);
    this.offsets[row + 1] = this.used;
  }

  override reset(): void {
    super.reset();
    this.used = 0;
  }

  appendValue(bytes: Uint8Array, start: number, end: number, digest: RowDigest, row: number): void {
    if (this.used + (end - start) > this.values.length) {
      const grown = new Uint8Array(Math.max(this.values.length * 2, this.used + (end - start)));
      grown.set(this.values.subarray(0, this.used));
      this.values = grown;
    }
    const from = this.used;
    this.used = copyUnescaped(bytes, start, end, this.values, this.used);
    this.offsets[row + 1] = this.used;
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
