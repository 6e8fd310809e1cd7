/*
 * MD5 (RFC 1321) of a byte range, in plain JS. The row checksums hash one short text (about a
 * hundred bytes) per row, millions of times a day partition; node:crypto's hash() spends about
 * 1.5 us a call getting into OpenSSL and back, where the hashing itself takes a tenth of that.
 * This runs on the bytes where they lie, calls nothing and allocates nothing per row: about
 * 0.2 us per 64-byte block. The rounds are written out (a call per step would not be inlined in
 * a function this long). A caller that keeps an Int32Array over its buffer lets the blocks be
 * read a word at a time on a little-endian machine (every machine Node runs the functions on;
 * elsewhere the bytes are put together). The unit test (archive-values.test.ts) holds it equal
 * to node:crypto's md5 at every length, both ways.
 */

/** Whether an Int32Array reads bytes as md5's little-endian words. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The state after the last block. */
const state = new Int32Array(4);
/** The last block or two: the message's tail, the 0x80 byte, zeros, and its length in bits. */
const tail = new Uint8Array(128);
const tailWords = new Int32Array(tail.buffer);
/** A block's words, put together from its bytes (a buffer without a word view, or a big-endian machine). */
const x = new Int32Array(16);
const head: [number, number] = [0, 0];

/**
 * The first 8 bytes of the md5 of bytes[0, length), as two unsigned 32-bit numbers read
 * big-endian (digest bytes 0-3, then 4-7: what Buffer's readUInt32BE(0) and (4) give). The
 * pair is reused by the next call: read it before hashing again. `words`, when given, must be an
 * Int32Array over the same bytes (same buffer, same start): the whole blocks are then read from it.
 */
export function md5Head(bytes: Uint8Array, length: number, words?: Int32Array): readonly [number, number] {
  resetState();
  const whole = length - (length % 64);
  if (LITTLE_ENDIAN && words && words.buffer === bytes.buffer && words.byteOffset === bytes.byteOffset) {
    for (let at = 0; at < whole; at += 64) block(words, at >> 2);
  } else {
    for (let at = 0; at < whole; at += 64) block(gather(bytes, at), 0);
  }
  const rest = length - whole;
  for (let i = 0; i < rest; i++) tail[i] = bytes[whole + i] as number;
  tail[rest] = 0x80;
  const end = rest < 56 ? 64 : 128;
  tail.fill(0, rest + 1, end);
  // The length in bits, little-endian, in the last 8 bytes (up to 2^53 bits: far beyond a row).
  const bits = length * 8;
  const high = Math.floor(bits / 0x100000000);
  for (let i = 0; i < 4; i++) {
    tail[end - 8 + i] = (bits >>> (8 * i)) & 0xff;
    tail[end - 4 + i] = (high >>> (8 * i)) & 0xff;
  }
  for (let at = 0; at < end; at += 64) block(LITTLE_ENDIAN ? tailWords : gather(tail, at), LITTLE_ENDIAN ? at >> 2 : 0);
  return stateHead();
}

/** The bytes md5HeadPadded may write after the message: its padding (0x80, zeros, the length) ends at most 72 bytes on. */
export const MD5_PADDING_ROOM = 72;

/**
 * md5Head for a buffer whose owner keeps MD5_PADDING_ROOM bytes free after `length`: the
 * padding is written there, in place, and every block read from `words`, so nothing is copied.
 * `words` must be an Int32Array over the same buffer, both starting at its byte 0 (the digests
 * keep the two so; not checked here, a row's hash being the hot path). The bytes after `length`
 * are overwritten.
 */
export function md5HeadPadded(bytes: Uint8Array, words: Int32Array, length: number): readonly [number, number] {
  if (!LITTLE_ENDIAN) return md5Head(bytes, length);
  const end = Math.ceil((length + 9) / 64) * 64;
  bytes[length] = 0x80;
  for (let i = length + 1; i < end - 8; i++) bytes[i] = 0;
  // The length in bits, little-endian, in the last 8 bytes.
  const bits = length * 8;
  words[(end >> 2) - 2] = (bits % 0x100000000) | 0;
  words[(end >> 2) - 1] = Math.floor(bits / 0x100000000);
  resetState();
  for (let at = 0; at < end; at += 64) block(words, at >> 2);
  return stateHead();
}

/** md5's initial state (RFC 1321, section 3.3). */
function resetState(): void {
  state[0] = 0x67452301;
  state[1] = 0xefcdab89 | 0;
  state[2] = 0x98badcfe | 0;
  state[3] = 0x10325476;
}

/** The digest's first 8 bytes from the state, as md5Head returns them. */
function stateHead(): readonly [number, number] {
  head[0] = swap(state[0] as number);
  head[1] = swap(state[1] as number);
  return head;
}

/** A little-endian word as the unsigned number its bytes read big-endian. */
function swap(word: number): number {
  return (((word & 0xff) << 24) | ((word & 0xff00) << 8) | ((word >>> 8) & 0xff00) | (word >>> 24)) >>> 0;
}

/** The 64 bytes at bytes[at...] as 16 little-endian words, in x. */
function gather(bytes: Uint8Array, at: number): Int32Array {
  for (let i = 0; i < 16; i++) {
    const p = at + i * 4;
    x[i] = (bytes[p] as number) | ((bytes[p + 1] as number) << 8) | ((bytes[p + 2] as number) << 16) | ((bytes[p + 3] as number) << 24);
  }
  return x;
}

/** One 64-byte block, the 16 words at words[at...], into the state (RFC 1321, section 3.4). */
function block(words: Int32Array, at: number): void {
  const x0 = words[at] as number;
  const x1 = words[at + 1] as number;
  const x2 = words[at + 2] as number;
  const x3 = words[at + 3] as number;
  const x4 = words[at + 4] as number;
  const x5 = words[at + 5] as number;
  const x6 = words[at + 6] as number;
  const x7 = words[at + 7] as number;
  const x8 = words[at + 8] as number;
  const x9 = words[at + 9] as number;
  const x10 = words[at + 10] as number;
  const x11 = words[at + 11] as number;
  const x12 = words[at + 12] as number;
  const x13 = words[at + 13] as number;
  const x14 = words[at + 14] as number;
  const x15 = words[at + 15] as number;
  let a = state[0] as number;
  let b = state[1] as number;
  let c = state[2] as number;
  let d = state[3] as number;
  let t = 0;
  t = (a + ((b & c) | (~b & d)) + x0 + -680876936) | 0;
  a = (((t << 7) | (t >>> 25)) + b) | 0;
  t = (d + ((a & b) | (~a & c)) + x1 + -389564586) | 0;
  d = (((t << 12) | (t >>> 20)) + a) | 0;
  t = (c + ((d & a) | (~d & b)) + x2 + 606105819) | 0;
  c = (((t << 17) | (t >>> 15)) + d) | 0;
  t = (b + ((c & d) | (~c & a)) + x3 + -1044525330) | 0;
  b = (((t << 22) | (t >>> 10)) + c) | 0;
  t = (a + ((b & c) | (~b & d)) + x4 + -176418897) | 0;
  a = (((t << 7) | (t >>> 25)) + b) | 0;
  t = (d + ((a & b) | (~a & c)) + x5 + 1200080426) | 0;
  d = (((t << 12) | (t >>> 20)) + a) | 0;
  t = (c + ((d & a) | (~d & b)) + x6 + -1473231341) | 0;
  c = (((t << 17) | (t >>> 15)) + d) | 0;
  t = (b + ((c & d) | (~c & a)) + x7 + -45705983) | 0;
  b = (((t << 22) | (t >>> 10)) + c) | 0;
  t = (a + ((b & c) | (~b & d)) + x8 + 1770035416) | 0;
  a = (((t << 7) | (t >>> 25)) + b) | 0;
  t = (d + ((a & b) | (~a & c)) + x9 + -1958414417) | 0;
  d = (((t << 12) | (t >>> 20)) + a) | 0;
  t = (c + ((d & a) | (~d & b)) + x10 + -42063) | 0;
  c = (((t << 17) | (t >>> 15)) + d) | 0;
  t = (b + ((c & d) | (~c & a)) + x11 + -1990404162) | 0;
  b = (((t << 22) | (t >>> 10)) + c) | 0;
  t = (a + ((b & c) | (~b & d)) + x12 + 1804603682) | 0;
  a = (((t << 7) | (t >>> 25)) + b) | 0;
  t = (d + ((a & b) | (~a & c)) + x13 + -40341101) | 0;
  d = (((t << 12) | (t >>> 20)) + a) | 0;
  t = (c + ((d & a) | (~d & b)) + x14 + -1502002290) | 0;
  c = (((t << 17) | (t >>> 15)) + d) | 0;
  t = (b + ((c & d) | (~c & a)) + x15 + 1236535329) | 0;
  b = (((t << 22) | (t >>> 10)) + c) | 0;
  t = (a + ((b & d) | (c & ~d)) + x1 + -165796510) | 0;
  a = (((t << 5) | (t >>> 27)) + b) | 0;
  t = (d + ((a & c) | (b & ~c)) + x6 + -1069501632) | 0;
  d = (((t << 9) | (t >>> 23)) + a) | 0;
  t = (c + ((d & b) | (a & ~b)) + x11 + 643717713) | 0;
  c = (((t << 14) | (t >>> 18)) + d) | 0;
  t = (b + ((c & a) | (d & ~a)) + x0 + -373897302) | 0;
  b = (((t << 20) | (t >>> 12)) + c) | 0;
  t = (a + ((b & d) | (c & ~d)) + x5 + -701558691) | 0;
  a = (((t << 5) | (t >>> 27)) + b) | 0;
  t = (d + ((a & c) | (b & ~c)) + x10 + 38016083) | 0;
  d = (((t << 9) | (t >>> 23)) + a) | 0;
  t = (c + ((d & b) | (a & ~b)) + x15 + -660478335) | 0;
  c = (((t << 14) | (t >>> 18)) + d) | 0;
  t = (b + ((c & a) | (d & ~a)) + x4 + -405537848) | 0;
  b = (((t << 20) | (t >>> 12)) + c) | 0;
  t = (a + ((b & d) | (c & ~d)) + x9 + 568446438) | 0;
  a = (((t << 5) | (t >>> 27)) + b) | 0;
  t = (d + ((a & c) | (b & ~c)) + x14 + -1019803690) | 0;
  d = (((t << 9) | (t >>> 23)) + a) | 0;
  t = (c + ((d & b) | (a & ~b)) + x3 + -187363961) | 0;
  c = (((t << 14) | (t >>> 18)) + d) | 0;
  t = (b + ((c & a) | (d & ~a)) + x8 + 1163531501) | 0;
  b = (((t << 20) | (t >>> 12)) + c) | 0;
  t = (a + ((b & d) | (c & ~d)) + x13 + -1444681467) | 0;
  a = (((t << 5) | (t >>> 27)) + b) | 0;
  t = (d + ((a & c) | (b & ~c)) + x2 + -51403784) | 0;
  d = (((t << 9) | (t >>> 23)) + a) | 0;
  t = (c + ((d & b) | (a & ~b)) + x7 + 1735328473) | 0;
  c = (((t << 14) | (t >>> 18)) + d) | 0;
  t = (b + ((c & a) | (d & ~a)) + x12 + -1926607734) | 0;
  b = (((t << 20) | (t >>> 12)) + c) | 0;
  t = (a + (b ^ c ^ d) + x5 + -378558) | 0;
  a = (((t << 4) | (t >>> 28)) + b) | 0;
  t = (d + (a ^ b ^ c) + x8 + -2022574463) | 0;
  d = (((t << 11) | (t >>> 21)) + a) | 0;
  t = (c + (d ^ a ^ b) + x11 + 1839030562) | 0;
  c = (((t << 16) | (t >>> 16)) + d) | 0;
  t = (b + (c ^ d ^ a) + x14 + -35309556) | 0;
  b = (((t << 23) | (t >>> 9)) + c) | 0;
  t = (a + (b ^ c ^ d) + x1 + -1530992060) | 0;
  a = (((t << 4) | (t >>> 28)) + b) | 0;
  t = (d + (a ^ b ^ c) + x4 + 1272893353) | 0;
  d = (((t << 11) | (t >>> 21)) + a) | 0;
  t = (c + (d ^ a ^ b) + x7 + -155497632) | 0;
  c = (((t << 16) | (t >>> 16)) + d) | 0;
  t = (b + (c ^ d ^ a) + x10 + -1094730640) | 0;
  b = (((t << 23) | (t >>> 9)) + c) | 0;
  t = (a + (b ^ c ^ d) + x13 + 681279174) | 0;
  a = (((t << 4) | (t >>> 28)) + b) | 0;
  t = (d + (a ^ b ^ c) + x0 + -358537222) | 0;
  d = (((t << 11) | (t >>> 21)) + a) | 0;
  t = (c + (d ^ a ^ b) + x3 + -722521979) | 0;
  c = (((t << 16) | (t >>> 16)) + d) | 0;
  t = (b + (c ^ d ^ a) + x6 + 76029189) | 0;
  b = (((t << 23) | (t >>> 9)) + c) | 0;
  t = (a + (b ^ c ^ d) + x9 + -640364487) | 0;
  a = (((t << 4) | (t >>> 28)) + b) | 0;
  t = (d + (a ^ b ^ c) + x12 + -421815835) | 0;
  d = (((t << 11) | (t >>> 21)) + a) | 0;
  t = (c + (d ^ a ^ b) + x15 + 530742520) | 0;
  c = (((t << 16) | (t >>> 16)) + d) | 0;
  t = (b + (c ^ d ^ a) + x2 + -995338651) | 0;
  b = (((t << 23) | (t >>> 9)) + c) | 0;
  t = (a + (c ^ (b | ~d)) + x0 + -198630844) | 0;
  a = (((t << 6) | (t >>> 26)) + b) | 0;
  t = (d + (b ^ (a | ~c)) + x7 + 1126891415) | 0;
  d = (((t << 10) | (t >>> 22)) + a) | 0;
  t = (c + (a ^ (d | ~b)) + x14 + -1416354905) | 0;
  c = (((t << 15) | (t >>> 17)) + d) | 0;
  t = (b + (d ^ (c | ~a)) + x5 + -57434055) | 0;
  b = (((t << 21) | (t >>> 11)) + c) | 0;
  t = (a + (c ^ (b | ~d)) + x12 + 1700485571) | 0;
  a = (((t << 6) | (t >>> 26)) + b) | 0;
  t = (d + (b ^ (a | ~c)) + x3 + -1894986606) | 0;
  d = (((t << 10) | (t >>> 22)) + a) | 0;
  t = (c + (a ^ (d | ~b)) + x10 + -1051523) | 0;
  c = (((t << 15) | (t >>> 17)) + d) | 0;
  t = (b + (d ^ (c | ~a)) + x1 + -2054922799) | 0;
  b = (((t << 21) | (t >>> 11)) + c) | 0;
  t = (a + (c ^ (b | ~d)) + x8 + 1873313359) | 0;
  a = (((t << 6) | (t >>> 26)) + b) | 0;
  t = (d + (b ^ (a | ~c)) + x15 + -30611744) | 0;
  d = (((t << 10) | (t >>> 22)) + a) | 0;
  t = (c + (a ^ (d | ~b)) + x6 + -1560198380) | 0;
  c = (((t << 15) | (t >>> 17)) + d) | 0;
  t = (b + (d ^ (c | ~a)) + x13 + 1309151649) | 0;
  b = (((t << 21) | (t >>> 11)) + c) | 0;
  t = (a + (c ^ (b | ~d)) + x4 + -145523070) | 0;
  a = (((t << 6) | (t >>> 26)) + b) | 0;
  t = (d + (b ^ (a | ~c)) + x11 + -1120210379) | 0;
  d = (((t << 10) | (t >>> 22)) + a) | 0;
  t = (c + (a ^ (d | ~b)) + x2 + 718787259) | 0;
  c = (((t << 15) | (t >>> 17)) + d) | 0;
  t = (b + (d ^ (c | ~a)) + x9 + -343485551) | 0;
  b = (((t << 21) | (t >>> 11)) + c) | 0;
  state[0] = ((state[0] as number) + a) | 0;
  state[1] = ((state[1] as number) + b) | 0;
  state[2] = ((state[2] as number) + c) | 0;
  state[3] = ((state[3] as number) + d) | 0;
}
