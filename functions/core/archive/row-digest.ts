import { hash } from 'node:crypto';

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

  /** A value whose exact text is the decimal text of `value`, a safe integer. */
  addInteger(value: number): void {
    this.separate(48);
    const at = this.length;
    this.length += 3; // room for the length prefix, at most 2 digits and ':'
    const digitsStart = this.length;
    this.writeInteger(value);
    const digits = this.length - digitsStart;
    // Write the prefix, then close the gap it left (a safe integer has at most 17 characters).
    const prefix = digits < 10 ? 2 : 3;
    this.buffer[at] = digits < 10 ? ZERO + digits : ZERO + Math.floor(digits / 10);
    if (prefix === 3) this.buffer[at + 1] = ZERO + (digits % 10);
    this.buffer[at + prefix - 1] = COLON;
    if (prefix === 2) {
      this.buffer.copyWithin(at + 2, digitsStart, this.length);
      this.length--;
    }
  }

  /** The row's share as [the first 30 bits, the next 30 bits] of its md5. */
  share(): readonly [number, number] {
    const digest = hash('md5', this.buffer.subarray(0, this.length), 'buffer');
    const first = digest.readUInt32BE(0);
    const second = digest.readUInt32BE(4);
    return [first >>> 2, ((first & 3) << 28) | (second >>> 4)];
  }

  private separate(room: number): void {
    if (this.length + room + 1 > this.buffer.length) {
      const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.length + room + 1));
      grown.set(this.buffer.subarray(0, this.length));
      this.buffer = grown;
    }
    if (this.values++ > 0) this.buffer[this.length++] = COMMA;
  }

  /** Writes the decimal text of a safe integer. */
  private writeInteger(value: number): void {
    const buffer = this.buffer;
    if (value < 0) {
      buffer[this.length++] = DASH;
      value = -value;
    }
    if (value < 10) {
      buffer[this.length++] = ZERO + value;
      return;
    }
    const start = this.length;
    while (value > 0) {
      const next = Math.floor(value / 10);
      buffer[this.length++] = ZERO + (value - next * 10);
      value = next;
    }
    buffer.subarray(start, this.length).reverse();
  }
}
