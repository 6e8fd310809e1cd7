/*
 * Exact integer arithmetic on little-endian 32-bit words held in doubles (each step stays below
 * 2^53), for the archive's 64- and 128-bit values, and calendar days: what the Arrow builders
 * (arrow-columns.ts) and the COPY text writer (load-rows.ts) share.
 */

/** 10^i for i up to 16: a safe integer has at most 16 digits. */
export const POWERS_OF_TEN = Array.from({ length: 17 }, (_, i) => 10 ** i);

/** How many decimal digits a safe integer at or above zero has. */
export function digitCount(value: number): number {
  let digits = 1;
  while (digits < 16 && value >= (POWERS_OF_TEN[digits] as number)) digits++;
  return digits;
}

/** Writes the decimal digits of a safe integer at or above zero at out[at...]; returns how many. */
export function writeDigits(out: Uint8Array, at: number, value: number): number {
  return writePadded(out, at, value, digitCount(value));
}

/** Writes a safe integer at or above zero in `width` digits, zero-padded, at out[at...] (right to left, no string made); returns `width`. */
export function writePadded(out: Uint8Array, at: number, value: number, width: number): number {
  let rest = value;
  for (let i = at + width - 1; i >= at; i--) {
    const next = Math.floor(rest / 10);
    out[i] = BYTE.ZERO + rest - next * 10;
    rest = next;
  }
  return width;
}

/** 2^32: one word. */
export const TWO_TO_32 = 4294967296;

/** Bytes of COPY text the archive reads and writes. */
export const BYTE = { TAB: 9, NEWLINE: 10, CARRIAGE_RETURN: 13, MINUS: 45, DOT: 46, ZERO: 48, BACKSLASH: 92 } as const;

/** limbs = limbs * factor + addend, little-endian 32-bit words (factor and addend at most 1e6). */
export function multiplyAdd(limbs: number[], factor: number, addend: number): void {
  let carry = addend;
  for (let i = 0; i < limbs.length; i++) {
    const limb = limbs[i] as number;
    // Most values use the low words only: nothing left to carry into zero words.
    if (limb === 0 && carry === 0) continue;
    const value = limb * factor + carry;
    carry = Math.floor(value / TWO_TO_32);
    limbs[i] = value - carry * TWO_TO_32;
  }
}

/** limbs = floor(limbs / divisor); returns the remainder (divisor at most 2^21). */
export function divideBy(limbs: number[], divisor: number): number {
  let remainder = 0;
  for (let i = limbs.length - 1; i >= 0; i--) {
    const limb = limbs[i] as number;
    // The high words of most values are zero: their quotient and remainder are too.
    if (limb === 0 && remainder === 0) continue;
    const value = remainder * TWO_TO_32 + limb;
    const quotient = Math.floor(value / divisor);
    remainder = value - quotient * divisor;
    limbs[i] = quotient;
  }
  return remainder;
}

/** Two's complement negation of little-endian 32-bit words, in place. */
export function negate(words: number[]): void {
  let carry = 1;
  for (let i = 0; i < words.length; i++) {
    const value = (~(words[i] as number) >>> 0) + carry;
    carry = value >= TWO_TO_32 ? 1 : 0;
    words[i] = value - carry * TWO_TO_32;
  }
}

/** negate for `count` words of a Uint32Array from words[at], in place (the Arrow builders' values). */
export function negateWords(words: Uint32Array, at: number, count: number): void {
  let carry = 1;
  for (let i = at; i < at + count; i++) {
    const value = (~(words[i] as number) >>> 0) + carry;
    carry = value >= TWO_TO_32 ? 1 : 0;
    // A Uint32Array keeps a value modulo 2^32: one that wrapped to 2^32 is stored as 0.
    words[i] = value;
  }
}

/** Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

/** The proleptic Gregorian date of a day count from 1970-01-01 (Howard Hinnant's civil_from_days). */
export function civilFromDays(days: number): [number, number, number] {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor(
    (dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthIndex = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * monthIndex + 2) / 5) + 1;
  const month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9;
  return [yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day];
}

/**
 * The decimal text of a time's microseconds since 1970 (the archive checksum's text of a
 * timestamp), for times from 1970-01-01 00:00:01 on: the digits of its second, kept while rows
 * share a second, then six digits of microseconds. What the archive's builders and restore's
 * COPY text writer hash once a value; a digit loop over all sixteen digits was a tenth of their work.
 */
export class MicrosText {
  readonly bytes = new Uint8Array(24);
  private second = -1;
  private secondDigits = 0;

  /** Writes the text of second * 10^6 + micros (second >= 1, 0 <= micros < 10^6) into `bytes`; returns its length. */
  write(second: number, micros: number): number {
    const bytes = this.bytes;
    if (second !== this.second) {
      this.secondDigits = writeDigits(bytes, 0, second);
      this.second = second;
    }
    return this.secondDigits + writePadded(bytes, this.secondDigits, micros, 6);
  }
}
