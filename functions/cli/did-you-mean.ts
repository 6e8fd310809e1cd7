import { closest, distance } from 'fastest-levenshtein';

/** The closest of `candidates` when it is near enough to be a typo of `given` ("partitons"). */
function didYouMean(given: string, candidates: readonly string[]): string | undefined {
  if (candidates.length === 0) return undefined;
  const best = closest(given, [...candidates]);
  return distance(given.toLowerCase(), best.toLowerCase()) <= Math.max(1, Math.floor(given.length / 4)) ? best : undefined;
}

/** ` (did you mean --days?)` after a message, or nothing when no candidate is near. */
export function suggest(given: string, candidates: readonly string[], show = (name: string) => name): string {
  const near = didYouMean(given, candidates);
  return near === undefined ? '' : ` (did you mean ${show(near)}?)`;
}
