/**
 * A fixed-seed pseudo-random source (mulberry32): the same values on every run, so a test over
 * many generated values fails the same way twice. Not for anything but test data.
 */
export function seededRandom(seed: number) {
  let state = seed | 0;
  const next = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  /** An integer in [0, n). */
  const below = (n: number) => Math.floor(next() * n);
  /** `count` decimal digits (leading zeros possible). */
  const digits = (count: number) => Array.from({ length: count }, () => String(below(10))).join('');
  return { next, below, digits };
}
