import { MD5_PADDING_ROOM, md5HeadPadded } from './md5';
import { digitCount, writePadded } from './words';

const COMMA = 44;
const COLON = 58;
const DASH = 45;
const ZERO = 48;

/**
 * One row's share of the archive checksum, computed in JS from the values as they stream past:
 * the same text partitionCheckSql hashes in SQL (export-sql.ts): each value's exact text
 * prefixed by its byte length and `:`, `-` for NULL, joined by commas; then the first 60 bits of
 * its md5. The buffer is reused from row to row.
 */
export class RowDigest {
  private buffer = new Uint8Array(4096);
  /** The buffer as words, for md5HeadPadded (which pads in the MD5_PADDING_ROOM bytes kept after the text). */
  private words = new Int32Array(this.buffer.buffer);
  private length = 0;
  private values = 0;

  reset(): void {
    this.length = 0;
    this.values = 0;
  }

  addNull(): void {
    this.separate(1);
    this.buffer[this.length++] = DASH;
  }

  /** A value whose exact text is bytes[start, end). */
  addBytes(bytes: Uint8Array, start: number, end: number): void {
    const size = end - start;
    this.separate(size + 12);
    this.writeInteger(size);
    this.buffer[this.length++] = COLON;
    // Most values are short: a loop beats making a subarray for set().
    if (size < 64) {
      const buffer = this.buffer;
      let at = this.length;
      for (let i = start; i < end; i++) buffer[at++] = bytes[i] as number;
    } else {
      this.buffer.set(bytes.subarray(start, end), this.length);
    }
    this.length += size;
  }

  /** A value whose exact text is the decimal text of `value`, a safe integer (written digit by digit: no string per value). */
  addInteger(value: number): void {
    const magnitude = Math.abs(value);
    const digits = digitCount(magnitude);
    const size = value < 0 ? digits + 1 : digits;
    this.separate(size + 4);
    this.writeInteger(size);
    const buffer = this.buffer;
    buffer[this.length++] = COLON;
    if (value < 0) buffer[this.length++] = DASH;
    this.length += writePadded(buffer, this.length, magnitude, digits);
  }

  /** A value whose exact text is `text`, all ASCII (a number). */
  addAscii(text: string): void {
    this.separate(text.length + 4);
    this.writeInteger(text.length);
    this.buffer[this.length++] = COLON;
    for (let i = 0; i < text.length; i++) this.buffer[this.length++] = text.charCodeAt(i);
  }

  /** The row's share as [the first 30 bits, the next 30 bits] of its md5 (md5Share: read it before the next share). */
  share(): readonly [number, number] {
    return md5Share(this.buffer, this.length, this.words);
  }

  private separate(room: number): void {
    if (this.length + room + 1 + MD5_PADDING_ROOM > this.buffer.length) {
      const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.length + room + 1 + MD5_PADDING_ROOM));
      grown.set(this.buffer.subarray(0, this.length));
      this.buffer = grown;
      this.words = new Int32Array(grown.buffer, 0, grown.length >> 2);
    }
    if (this.values++ > 0) this.buffer[this.length++] = COMMA;
  }

  /** Writes the decimal text of a safe integer (a length prefix: a digit or two, at most). */
  private writeInteger(value: number): void {
    const buffer = this.buffer;
    if (value >= 0 && value < 10) {
      buffer[this.length++] = ZERO + value;
    } else if (value >= 10 && value < 100) {
      const tens = (value / 10) | 0;
      buffer[this.length++] = ZERO + tens;
      buffer[this.length++] = ZERO + value - tens * 10;
    } else {
      // V8's number-to-string beats a digit loop for long numbers (timestamps' microseconds).
      const text = String(value);
      for (let i = 0; i < text.length; i++) buffer[this.length++] = text.charCodeAt(i);
    }
  }
}

/** md5Share's answer: one pair for every call (a row's share is added up at once, nothing keeps it). */
const SHARE: [number, number] = [0, 0];

/**
 * The first 60 bits of the md5 of buffer[0, length), as two 30-bit halves (what SQL's rowShare
 * sums). The pair is overwritten by the next call: read it first. `words` and the room after
 * `length`: see md5HeadPadded.
 */
export function md5Share(buffer: Uint8Array, length: number, words: Int32Array): readonly [number, number] {
  const [first, second] = md5HeadPadded(buffer, words, length);
  SHARE[0] = first >>> 2;
  SHARE[1] = ((first & 3) << 28) | (second >>> 4);
  return SHARE;
}
