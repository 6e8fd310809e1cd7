import { once } from 'node:events';
import { type Data, type RecordBatch, tableFromIPC } from 'apache-arrow';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { quoteIdent } from '../db/identifiers';
import type { TimeSeriesTable } from '../tables';
import { StreamTotals } from './copy-rows';
import { ARCHIVE_COLUMNS, ARCHIVE_DECIMAL, type ArchiveColumn } from './layout';
import { loadParquetWasm } from './parquet-engine';
import { type ArchiveFile, type ArchiveValue, readArchiveRows } from './read-rows';
import { RecordDigest } from './record-digest';
import { RowDigest } from './row-digest';
import { storedChecksumText } from './values';
import { BYTE, civilFromDays, divideBy, MicrosText, negate, TWO_TO_32, writeDigits, writePadded } from './words';

/*
 * An archived object back into a table: parquet-wasm decodes it into Arrow batches, each row
 * becomes a line of COPY text (PostgreSQL input for each column's type: timestamps in ISO UTC,
 * DECIMAL(38,18) as exact decimal text without trailing fraction zeros), and COPY FROM STDIN
 * loads the lines. Each row's exact text also goes into the archive checksum on the way, so the
 * caller compares the rows read from the object with the rows that landed.
 */

/** Rows per batch decoded from the object. */
const READ_BATCH_ROWS = 65_536;
/** COPY text bytes gathered before they are sent. */
const SEND_BYTES = 1 << 20;

/** The object could not be read or decoded (a damaged file): restore reports it as ArchiveIntegrityError. */
export class ArchiveReadError extends Error {
  constructor(key: string, cause: unknown) {
    super(`${key} cannot be read: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'ArchiveReadError';
  }
}

/** What loadArchiveRows loaded. */
export interface LoadedRows {
  rows: number;
  /** The archive checksum of the rows as read from the object (values.ts's checksumText). */
  checksum: string;
  /** The stored-rows checksum of the rows as sent (record-digest.ts): checkStoredRows of the table must equal it. */
  storedChecksum: string;
}

/**
 * Loads every row of `file` into `relation` (a standalone table nobody else writes), calling
 * `onBatch(rowsSoFar)` after each batch (it may throw to stop: the COPY is then failed, and
 * nothing of it stays). `file.verifiedObject` (the whole object, checked against the ledger's
 * SHA-256) are decoded by parquet-wasm: the engine only ever decodes bytes the archive wrote,
 * since a damaged file can make it trap (abort) instead of throwing. Without them (a ledger row
 * from before migration 0006, or no ledger row), hyparquet reads the object a row group at a
 * time: slower, and a damaged file is an ordinary error. Memory: the object's bytes, and one batch.
 */
export async function loadArchiveRows(
  client: pg.ClientBase,
  file: ArchiveFile,
  relation: string,
  table: TimeSeriesTable,
  options: { onBatch?: (rowsSoFar: number) => void },
): Promise<LoadedRows> {
  const columns = ARCHIVE_COLUMNS[table];
  const verified = file.verifiedObject;
  const list = columns.map((column) => quoteIdent(column.name)).join(', ');
  const copy = client.query(copyFrom(`COPY ${quoteIdent(relation)} (${list}) FROM STDIN`));
  const writer = new CopyTextWriter(columns);
  let rows = 0;
  // Called only once SEND_BYTES are pending: an async call per row would make a promise per row.
  const send = async () => {
    if (!copy.write(writer.take())) await once(copy, 'drain');
  };
  try {
    if (verified) {
      for await (const record of arrowBatches(file.key, verified)) {
        const children = columns.map((column, i) => {
          const child = record.data.children[i];
          if (!child || record.schema.fields[i]?.name !== column.name) throw new Error(`${file.key}: column ${i} is not ${column.name}`);
          return child;
        });
        writer.startBatch(children);
        for (let row = 0; row < record.numRows; row++) {
          writer.writeRow(children, row);
          if (writer.pending >= SEND_BYTES) await send();
        }
        rows += record.numRows;
        options.onBatch?.(rows);
      }
    } else {
      for await (const group of textRows(file, table)) {
        for (const values of group) {
          writer.writeTextRow(values);
          if (writer.pending >= SEND_BYTES) await send();
        }
        rows += group.length;
        options.onBatch?.(rows);
      }
    }
    copy.end(writer.take());
    await once(copy, 'finish');
  } catch (error) {
    copy.destroy(error instanceof Error ? error : new Error(String(error)));
    await once(copy, 'close').catch(() => {});
    throw error;
  }
  return { rows, checksum: writer.checksum(), storedChecksum: writer.storedChecksum() };
}

/** The object's rows as Arrow record batches, decoded by parquet-wasm READ_BATCH_ROWS at a time. */
async function* arrowBatches(key: string, object: Blob): AsyncGenerator<RecordBatch> {
  const wasm = await loadParquetWasm();
  const batches = await readable(key, async () => {
    const parquet = await wasm.ParquetFile.fromFile(object);
    return (await parquet.stream({ batchSize: READ_BATCH_ROWS })) as unknown as AsyncIterable<{ intoIPCStream(): Uint8Array }>;
  });
  const reader = batches[Symbol.asyncIterator]();
  for (;;) {
    const next = await readable(key, () => reader.next());
    if (next.done) return;
    yield* (await readable(key, async () => tableFromIPC(next.value.intoIPCStream()))).batches;
  }
}

/** The object's rows as exact text (read-rows.ts, hyparquet), one row group at a time. */
async function* textRows(file: ArchiveFile, table: TimeSeriesTable): AsyncGenerator<ArchiveValue[][]> {
  const reader = readArchiveRows(file, table)[Symbol.asyncIterator]();
  for (;;) {
    const next = await readable(file.key, () => reader.next());
    if (next.done) return;
    yield next.value;
  }
}

/** Runs a read of the object, turning its failure into ArchiveReadError. */
async function readable<T>(key: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    throw new ArchiveReadError(key, error);
  }
}

const { TAB, NEWLINE, BACKSLASH, CARRIAGE_RETURN, ZERO } = BYTE;
const MICROS_PER_DAY = 86_400_000_000;
const PLUS = 43;
const SCALE = ARCHIVE_DECIMAL.scale;
const ENCODER = new TextEncoder();
const DECODER = new TextDecoder();
/** `YYYY-MM-DD HH:MM:SS`: a timestamp's text up to its fraction. */
const SECOND_TEXT_BYTES = 19;
/** Reused by readTimestampText: setUTCFullYear, unlike Date.UTC, reads years below 100 as they are. */
const SCRATCH_DATE = new Date(0);
/** The date readTimestampText last read (YYYYMMDD) and its days since 1970-01-01. */
const lastDate = { text: -1, days: 0 };

/**
 * What a timestamp column's last value leaves for the next: its date (days since 1970-01-01, and
 * year, month and day), its second (since 1970) with the text up to it (`YYYY-MM-DD HH:MM:SS`),
 * and the digits of its exact text. Per column: a table's two timestamps (ts, ingested_at) lie
 * days apart, and one cache for both would miss on every value.
 */
class TimeColumn {
  days = Number.NaN;
  year = 0;
  month = 0;
  day = 0;
  second = Number.NaN;
  readonly secondText = new Uint8Array(SECOND_TEXT_BYTES);
  readonly micros = new MicrosText();
}

/** Arrow values as COPY text lines, with their checksum. */
class CopyTextWriter {
  private buffer = new Uint8Array(SEND_BYTES * 2);
  private length = 0;
  private readonly digest = new RowDigest();
  private readonly totals = new StreamTotals();
  private readonly stored = new RecordDigest();
  private readonly storedTotals = new StreamTotals(storedChecksumText);
  /** The batch's 64-bit columns as 32-bit words (startBatch), by column index. */
  private wordViews: (Uint32Array | undefined)[] = [];
  /** Per column, what its last timestamp left to reuse (see TimeColumn). */
  private readonly times: TimeColumn[];
  /** Scratch for decimalText: the value's four words, and its digits right to left (38 and a group). */
  private readonly limbs = [0, 0, 0, 0];
  /** Scratch for shortDecimalText: its fraction's three groups of six digits, lowest first. */
  private readonly groups = [0, 0, 0];
  private readonly digits = new Uint8Array(42);
  /** Scratch for a value's digits (a decimal has at most 40 characters). */
  private readonly scratch = new Uint8Array(64);

  constructor(private readonly columns: readonly ArchiveColumn[]) {
    this.times = columns.map(() => new TimeColumn());
  }

  get pending(): number {
    return this.length;
  }

  take(): Uint8Array {
    const chunk = this.buffer.slice(0, this.length);
    this.length = 0;
    return chunk;
  }

  checksum(): string {
    return this.totals.checksum();
  }

  storedChecksum(): string {
    return this.storedTotals.checksum();
  }

  /** Before the rows of a batch: its 64-bit columns' values as 32-bit words, once per batch, not per value. */
  startBatch(children: Data[]): void {
    this.wordViews = children.map((data, i) => {
      const kind = (this.columns[i] as ArchiveColumn).kind;
      if (kind !== 'int64' && kind !== 'timestamp') return undefined;
      const values = data.values as BigInt64Array;
      return new Uint32Array(values.buffer, values.byteOffset, values.length * 2);
    });
  }

  /** One row of the batch startBatch was given. */
  writeRow(children: Data[], row: number): void {
    this.digest.reset();
    this.stored.reset();
    for (let i = 0; i < this.columns.length; i++) {
      if (i > 0) this.push(TAB);
      this.writeValue(i, children[i] as Data, row, this.wordViews[i] as Uint32Array);
    }
    this.push(NEWLINE);
    this.addShare();
  }

  private addShare(): void {
    const [high, low] = this.digest.share();
    this.totals.add(high, low);
    const [storedHigh, storedLow] = this.stored.share();
    this.storedTotals.add(storedHigh, storedLow);
  }

  /** A timestamp's exact text (its microseconds since 1970) into the archive checksum. */
  private addMicros(micros: number, time: TimeColumn): void {
    const second = Math.floor(micros / 1_000_000);
    if (second > 0) this.digest.addBytes(time.micros.bytes, 0, time.micros.write(second, micros - second * 1_000_000));
    else this.digest.addInteger(micros);
  }

  /** A NULL: COPY's \N, in both checksums. */
  private writeNull(): void {
    this.push(BACKSLASH);
    this.push(78); // \N
    this.digest.addNull();
    this.stored.addNull();
  }

  /** One row of exact text (read-rows.ts: timestamps as microseconds), as writeRow writes an Arrow row. */
  writeTextRow(values: readonly ArchiveValue[]): void {
    this.digest.reset();
    this.stored.reset();
    for (let i = 0; i < this.columns.length; i++) {
      if (i > 0) this.push(TAB);
      const value = values[i] ?? null;
      const column = this.columns[i] as ArchiveColumn;
      if (value === null) {
        this.writeNull();
      } else if (column.kind === 'timestamp') {
        const micros = Number(value);
        const time = this.times[i] as TimeColumn;
        this.addMicros(micros, time);
        this.writeTimestamp(micros, time);
      } else {
        const bytes = ENCODER.encode(value);
        this.digest.addBytes(bytes, 0, bytes.length);
        this.stored.addBytes(bytes, 0, bytes.length);
        this.writeEscaped(bytes, 0, bytes.length);
      }
    }
    this.push(NEWLINE);
    this.addShare();
  }

  /** `words`: a 64-bit column's values as 32-bit words (startBatch). */
  private writeValue(columnIndex: number, data: Data, row: number, words: Uint32Array): void {
    const column = this.columns[columnIndex] as ArchiveColumn;
    const index = data.offset + row;
    if (data.nullCount > 0 && data.nullBitmap && ((data.nullBitmap[index >> 3] as number) & (1 << (index & 7))) === 0) {
      this.writeNull();
      return;
    }
    switch (column.kind) {
      case 'int32': {
        const value = (data.values as Int32Array)[index] as number;
        this.writeExact(this.integerText(value));
        return;
      }
      case 'int64': {
        this.writeExact(this.int64Text(words, index));
        return;
      }
      case 'timestamp': {
        const micros = int64Number(words, index);
        if (Number.isSafeInteger(micros)) {
          const time = this.times[columnIndex] as TimeColumn;
          this.addMicros(micros, time);
          this.writeTimestamp(micros, time);
        } else {
          // After about 2255: the exact microseconds as a bigint, split into whole days and the rest.
          const exact = (BigInt.asIntN(32, BigInt(words[index * 2 + 1] as number)) << 32n) | BigInt(words[index * 2] as number);
          const day = 86_400_000_000n;
          const days = exact / day - (exact % day < 0n ? 1n : 0n);
          this.digest.addAscii(exact.toString());
          this.writeTimestamp(Number(exact - days * day), this.times[columnIndex] as TimeColumn, Number(days));
        }
        return;
      }
      case 'decimal': {
        this.writeExact(this.decimalText(data.values as Uint32Array, index * 4));
        return;
      }
      default: {
        const offsets = data.valueOffsets as Int32Array;
        const values = data.values as Uint8Array;
        const start = offsets[index] as number;
        const end = offsets[index + 1] as number;
        this.digest.addBytes(values, start, end);
        this.stored.addBytes(values, start, end);
        this.writeEscaped(values, start, end);
      }
    }
  }

  /** Writes scratch[0, length) as the value and feeds it to the checksum. */
  private writeExact(length: number): void {
    const scratch = this.scratch;
    this.digest.addBytes(scratch, 0, length);
    this.stored.addBytes(scratch, 0, length);
    this.reserve(length);
    // A loop, not set(subarray): a value is a few bytes, and a view per value is garbage.
    const buffer = this.buffer;
    let at = this.length;
    for (let i = 0; i < length; i++) buffer[at++] = scratch[i] as number;
    this.length = at;
  }

  /** A safe integer's text into scratch; returns its length. */
  private integerText(value: number): number {
    let at = 0;
    if (value < 0) {
      this.scratch[at++] = 45;
      value = -value;
    }
    return at + writeDigits(this.scratch, at, value);
  }

  private int64Text(words: Uint32Array, index: number): number {
    const high = words[index * 2 + 1] as number;
    if (high < 0x200000 || high > 0xffe00000) return this.integerText(int64Number(words, index));
    const value = (BigInt.asIntN(32, BigInt(high)) << 32n) | BigInt(words[index * 2] as number);
    const text = value.toString();
    for (let i = 0; i < text.length; i++) this.scratch[i] = text.charCodeAt(i);
    return text.length;
  }

  /** DECIMAL(38,18) words as exact text without trailing fraction zeros, into scratch; returns its length. */
  private decimalText(words: Uint32Array, at: number): number {
    const length = this.shortDecimalText(words, at);
    return length >= 0 ? length : this.wideDecimalText(words, at);
  }

  /**
   * decimalText for a value whose unscaled magnitude fits three words (below 2^96: an integer
   * part below about 7.9e10, as prices and sizes are), divided by 10^6 three times in locals;
   * -1 for any other (wideDecimalText's).
   */
  private shortDecimalText(words: Uint32Array, at: number): number {
    let w0 = words[at] as number;
    let w1 = words[at + 1] as number;
    let w2 = words[at + 2] as number;
    const w3 = words[at + 3] as number;
    const negative = w3 >= 0x80000000;
    if (negative) {
      if (w3 !== 0xffffffff) return -1;
      // Two's complement back to the magnitude: every word inverted, plus one carried up.
      w0 = (~w0 >>> 0) + 1;
      let carry = w0 === TWO_TO_32 ? 1 : 0;
      if (carry) w0 = 0;
      w1 = (~w1 >>> 0) + carry;
      carry = w1 === TWO_TO_32 ? 1 : 0;
      if (carry) w1 = 0;
      w2 = (~w2 >>> 0) + carry;
      if (w2 >= TWO_TO_32) return -1;
    } else if (w3 !== 0) {
      return -1;
    }
    // Three groups of six fraction digits, lowest first; what remains is the integer part.
    const groups = this.groups;
    for (let g = 0; g < 3; g++) {
      const q2 = Math.floor(w2 / 1_000_000);
      let rest = (w2 - q2 * 1_000_000) * TWO_TO_32 + w1;
      const q1 = Math.floor(rest / 1_000_000);
      rest = (rest - q1 * 1_000_000) * TWO_TO_32 + w0;
      const q0 = Math.floor(rest / 1_000_000);
      groups[g] = rest - q0 * 1_000_000;
      w2 = q2;
      w1 = q1;
      w0 = q0;
    }
    const scratch = this.scratch;
    let length = 0;
    if (negative) scratch[length++] = 45;
    length += writeDigits(scratch, length, w1 * TWO_TO_32 + w0);
    // The fraction without its trailing zeros: zero groups left out, then the lowest group's zero digits.
    let g = 0;
    while (g < 3 && groups[g] === 0) g++;
    if (g === 3) return length;
    scratch[length++] = 46;
    for (let k = 2; k >= g; k--) {
      let group = groups[k] as number;
      let width = 6;
      if (k === g) {
        while (group % 10 === 0) {
          group /= 10;
          width--;
        }
      }
      length += writePadded(scratch, length, group, width);
    }
    return length;
  }

  private wideDecimalText(words: Uint32Array, at: number): number {
    const limbs = this.limbs;
    for (let i = 0; i < 4; i++) limbs[i] = words[at + i] as number;
    const negative = (limbs[3] as number) >= 0x80000000;
    if (negative) negate(limbs);
    // Six digits at a time from the right: three groups of fraction, then the integer part.
    const digits = this.digits;
    let count = 0;
    do {
      let remainder = divideBy(limbs, 1_000_000);
      for (let d = 0; d < 6; d++) {
        const next = Math.floor(remainder / 10);
        digits[count++] = remainder - next * 10;
        remainder = next;
      }
    } while (count < SCALE || limbs[0] !== 0 || limbs[1] !== 0 || limbs[2] !== 0 || limbs[3] !== 0);
    // digits holds the number right to left; the first SCALE are the fraction.
    let fractionStart = 0;
    while (fractionStart < SCALE && digits[fractionStart] === 0) fractionStart++;
    let integerEnd = count;
    while (integerEnd > SCALE + 1 && digits[integerEnd - 1] === 0) integerEnd--;
    let length = 0;
    if (negative) this.scratch[length++] = 45;
    if (integerEnd <= SCALE) this.scratch[length++] = ZERO;
    for (let d = integerEnd - 1; d >= SCALE; d--) this.scratch[length++] = ZERO + (digits[d] as number);
    if (fractionStart < SCALE) {
      this.scratch[length++] = 46;
      for (let d = SCALE - 1; d >= fractionStart; d--) this.scratch[length++] = ZERO + (digits[d] as number);
    }
    return length;
  }

  /**
   * Microseconds since 1970 (plus `wholeDays` days) as `YYYY-MM-DD HH:MM:SS[.ffffff]+00`, the
   * fraction without trailing zeros: timestamptz's input, and its output in UTC and ISO style
   * (what the stored-rows checksum reads back).
   */
  private writeTimestamp(micros: number, time: TimeColumn, wholeDays = 0): void {
    this.reserve(40);
    const start = this.length;
    const second = Math.floor(micros / 1_000_000);
    if (wholeDays === 0 && second === time.second) {
      // Rows a second apart or less: the date and time the column's last value wrote (and read back).
      this.buffer.set(time.secondText, start);
      this.length += SECOND_TEXT_BYTES;
      const fraction = micros - second * 1_000_000;
      this.writeFraction(fraction);
      if (readFraction(this.buffer, start + SECOND_TEXT_BYTES) !== fraction) {
        const text = DECODER.decode(this.buffer.subarray(start, this.length));
        throw new Error(`timestamp text ${text} does not end in ${fraction} us: a bug in the COPY text writer, please report it`);
      }
    } else {
      this.writeWholeTimestamp(micros, wholeDays, time);
      time.secondText.set(this.buffer.subarray(start, start + SECOND_TEXT_BYTES));
      time.second = wholeDays === 0 ? second : Number.NaN;
    }
    this.stored.addBytes(this.buffer, start, this.length);
  }

  /** writeTimestamp's text made from the calendar, then read back with the engine's own (Date). */
  private writeWholeTimestamp(micros: number, wholeDays: number, time: TimeColumn): void {
    const days = Math.floor(micros / MICROS_PER_DAY) + wholeDays;
    const dayMicros = micros - (days - wholeDays) * MICROS_PER_DAY;
    let rest = dayMicros;
    // A day partition's timestamps share a date or two: the calendar runs once per date.
    if (days !== time.days) {
      [time.year, time.month, time.day] = civilFromDays(days);
      time.days = days;
    }
    const { year, month, day } = time;
    const hour = Math.floor(rest / 3_600_000_000);
    rest -= hour * 3_600_000_000;
    const minute = Math.floor(rest / 60_000_000);
    rest -= minute * 60_000_000;
    const second = Math.floor(rest / 1_000_000);
    const fraction = rest - second * 1_000_000;
    if (year < 1 || year > 9999) throw new Error(`a timestamp in year ${year} cannot be restored by this path`);
    const start = this.length;
    this.pad(year, 4);
    this.pad(month, 2, 45);
    this.pad(day, 2, 45);
    this.pad(hour, 2, 32);
    this.pad(minute, 2, 58);
    this.pad(second, 2, 58);
    this.writeFraction(fraction);
    // The stored-rows check proves PostgreSQL holds this text, not that it is these microseconds:
    // read it back with the engine's own calendar (Date), independent of civilFromDays and pad.
    const readRest = readTimestampText(this.buffer, start);
    if (lastDate.days !== days || readRest !== dayMicros) {
      const text = DECODER.decode(this.buffer.subarray(start, this.length));
      throw new Error(`timestamp text ${text} is not day ${days} + ${dayMicros} us: a bug in the COPY text writer, please report it`);
    }
  }

  /** `.ffffff` without trailing zeros (nothing for zero), then the zone `+00`. */
  private writeFraction(fraction: number): void {
    if (fraction > 0) {
      this.pad(fraction, 6, 46);
      while (this.buffer[this.length - 1] === ZERO) this.length--;
    }
    this.pad(0, 2, 43);
  }

  /** `value` in `width` digits, zero-padded, after the byte `separator` when given. */
  private pad(value: number, width: number, separator?: number): void {
    if (separator !== undefined) this.buffer[this.length++] = separator;
    this.length += writePadded(this.buffer, this.length, value, width);
  }

  /** Text bytes with COPY's escapes: backslash, newline, carriage return and tab. */
  private writeEscaped(values: Uint8Array, start: number, end: number): void {
    this.reserve((end - start) * 2);
    const buffer = this.buffer;
    let at = this.length;
    for (let i = start; i < end; i++) {
      const byte = values[i] as number;
      if (byte === BACKSLASH || byte === NEWLINE || byte === CARRIAGE_RETURN || byte === TAB) {
        buffer[at++] = BACKSLASH;
        buffer[at++] = byte === BACKSLASH ? BACKSLASH : byte === NEWLINE ? 110 : byte === TAB ? 116 : 114;
      } else {
        buffer[at++] = byte;
      }
    }
    this.length = at;
  }

  private push(byte: number): void {
    this.reserve(1);
    this.buffer[this.length++] = byte;
  }

  private reserve(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.length + extra));
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
  }
}

/** A little-endian two's complement 64-bit value (two 32-bit words) as a double: exact within ±2^53. */
function int64Number(words: Uint32Array, index: number): number {
  const low = words[index * 2] as number;
  const high = words[index * 2 + 1] as number;
  return (high >= 0x80000000 ? high - TWO_TO_32 : high) * TWO_TO_32 + low;
}

/**
 * `YYYY-MM-DD HH:MM:SS[.f...]+00` at bytes[start...]: returns the microseconds into the day, and
 * leaves its days since 1970-01-01 in lastDate.days (no pair allocated per value).
 */
function readTimestampText(bytes: Uint8Array, start: number): number {
  const date = digitsAt(bytes, start, 4) * 10_000 + digitsAt(bytes, start + 5, 2) * 100 + digitsAt(bytes, start + 8, 2);
  // A day partition's rows share one date: Date's calendar runs once per date, not per value.
  if (date !== lastDate.text) {
    SCRATCH_DATE.setTime(0);
    SCRATCH_DATE.setUTCFullYear(Math.floor(date / 10_000), (Math.floor(date / 100) % 100) - 1, date % 100);
    lastDate.text = date;
    lastDate.days = SCRATCH_DATE.getTime() / 86_400_000;
  }
  const seconds = (digitsAt(bytes, start + 11, 2) * 60 + digitsAt(bytes, start + 14, 2)) * 60 + digitsAt(bytes, start + 17, 2);
  return seconds * 1_000_000 + readFraction(bytes, start + SECOND_TEXT_BYTES);
}

/** The microseconds of the fraction at bytes[at...] (`.ffffff` up to the zone's `+`, or none). */
function readFraction(bytes: Uint8Array, at: number): number {
  if (bytes[at] !== BYTE.DOT) return 0;
  let micros = 0;
  let scale = 100_000;
  for (let i = at + 1; bytes[i] !== PLUS; i++, scale /= 10) micros += ((bytes[i] as number) - ZERO) * scale;
  return micros;
}

/** The number the `width` ASCII digits at bytes[at...] write. */
function digitsAt(bytes: Uint8Array, at: number, width: number): number {
  let value = 0;
  for (let i = at; i < at + width; i++) value = value * 10 + ((bytes[i] as number) - ZERO);
  return value;
}
