import { MD5_PADDING_ROOM } from './md5';
import { md5Share } from './row-digest';

const QUOTE = 34;
const BACKSLASH = 92;
const OPEN = 40;
const CLOSE = 41;
const COMMA = 44;
const SPACE = 32;

/**
 * One row's share of the stored-rows checksum (storedRowsCheckSql, export-sql.ts), computed in JS
 * from the values as they are sent to COPY: the md5 of the text PostgreSQL gives the row
 * `ROW(<columns>)::text` once it holds exactly those values (record_out: fields joined by commas
 * in parentheses, NULL as nothing, a field quoted when empty or holding `"`, `\`, `(`, `)`, `,`
 * or white space, with `"` and `\` doubled inside the quotes). Each value must be given in the
 * text its type's output function gives it back (load-rows.ts writes them so).
 */
export class RecordDigest {
  private buffer = new Uint8Array(4096);
  /** The buffer as words, for md5HeadPadded (which pads in the MD5_PADDING_ROOM bytes kept after the text). */
  private words = new Int32Array(this.buffer.buffer);
  private length = 0;
  private fields = 0;

  reset(): void {
    this.buffer[0] = OPEN;
    this.length = 1;
    this.fields = 0;
  }

  addNull(): void {
    this.separate(0);
  }

  /** A value whose output text is bytes[start, end). */
  addBytes(bytes: Uint8Array, start: number, end: number): void {
    this.separate((end - start) * 2 + 2);
    const buffer = this.buffer;
    let quoted = start === end;
    for (let i = start; i < end && !quoted; i++) quoted = needsQuotes(bytes[i] as number);
    let at = this.length;
    if (quoted) buffer[at++] = QUOTE;
    for (let i = start; i < end; i++) {
      const byte = bytes[i] as number;
      if (byte === QUOTE || byte === BACKSLASH) buffer[at++] = byte;
      buffer[at++] = byte;
    }
    if (quoted) buffer[at++] = QUOTE;
    this.length = at;
  }

  /** The row's share as [the first 30 bits, the next 30 bits] of the md5 of its record text. */
  share(): readonly [number, number] {
    this.reserve(0);
    this.buffer[this.length++] = CLOSE;
    return md5Share(this.buffer, this.length, this.words);
  }

  private separate(room: number): void {
    this.reserve(room);
    if (this.fields++ > 0) this.buffer[this.length++] = COMMA;
  }

  private reserve(room: number): void {
    if (this.length + room + 2 + MD5_PADDING_ROOM <= this.buffer.length) return;
    const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.length + room + 2 + MD5_PADDING_ROOM));
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
    this.words = new Int32Array(grown.buffer, 0, grown.length >> 2);
  }
}

/** record_out's quoting test (C isspace: space, \t, \n, \v, \f, \r). */
function needsQuotes(byte: number): boolean {
  return (
    byte === QUOTE || byte === BACKSLASH || byte === OPEN || byte === CLOSE || byte === COMMA || byte === SPACE || (byte >= 9 && byte <= 13)
  );
}
