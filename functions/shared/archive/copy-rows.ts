import { checksumText } from './values';

const NEWLINE = 10;

/**
 * Splits a COPY text stream's chunks into rows (a row never holds a raw newline: COPY escapes
 * it), handing each to `onRow` as bytes[start, end) without its newline. A row cut between two
 * chunks is carried over.
 */
export class CopyRowSplitter {
  private rest: Uint8Array | undefined;

  push(chunk: Uint8Array, onRow: (bytes: Uint8Array, start: number, end: number) => void): void {
    const bytes = this.rest ? concat(this.rest, chunk) : chunk;
    let start = 0;
    for (let end = bytes.indexOf(NEWLINE, start); end >= 0; end = bytes.indexOf(NEWLINE, start)) {
      onRow(bytes, start, end);
      start = end + 1;
    }
    this.rest = start < bytes.length ? bytes.slice(start) : undefined;
  }

  /** Throws when the stream ended in the middle of a row. */
  end(): void {
    if (this.rest) throw new Error('the COPY stream ended in the middle of a row');
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}

/** Rows counted and their checksum shares (row-digest.ts) summed, exactly. */
export class StreamTotals {
  rows = 0;
  private high = 0;
  private low = 0;
  private carried = 0n;

  /** `format` writes the sum: checksumText (the archive checksum) unless told. */
  constructor(private readonly format: (sum: bigint) => string = checksumText) {}

  add(high: number, low: number): void {
    this.high += high;
    this.low += low;
    // Halves below 2^30: a double stays exact for 2^23 rows, so fold into the bigint before that.
    if ((++this.rows & 0xfffff) === 0) this.fold();
  }

  checksum(): string {
    this.fold();
    return this.format(this.carried);
  }

  private fold(): void {
    this.carried += (BigInt(this.high) << 30n) + BigInt(this.low);
    this.high = 0;
    this.low = 0;
  }
}
