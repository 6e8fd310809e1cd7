/** Median, min and max of a set of samples (ms). */
export interface Summary {
  median: number;
  min: number;
  max: number;
  runs: number;
}

export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  const median = sorted.length % 2 ? (sorted[Math.floor(middle)] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
  return { median, min: sorted[0] ?? 0, max: sorted.at(-1) ?? 0, runs: sorted.length };
}

/** The p-th percentile (0-100) by nearest rank. */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return 0;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;
}

/**
 * The largest sample, 0 for none. A loop, not `Math.max(...samples)`: spreading the ~10^5
 * samples of a long recovery overflows the call stack.
 */
export function largest(samples: readonly number[]): number {
  let max = 0;
  for (const sample of samples) if (sample > max) max = sample;
  return max;
}

/** Runs `setup` (untimed) then `measure` (timed), `runs` times. */
export async function repeat(runs: number, measure: () => Promise<unknown>, setup?: () => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let run = 0; run < runs; run += 1) {
    await setup?.();
    const started = performance.now();
    await measure();
    samples.push(performance.now() - started);
  }
  return samples;
}

export function ms(value: number): string {
  if (value >= 10_000) return `${(value / 1000).toFixed(1)} s`;
  if (value >= 100) return `${Math.round(value)} ms`;
  return `${value.toFixed(1)} ms`;
}

export function formatSummary(summary: Summary): string {
  return `${ms(summary.median)} (${ms(summary.min)}..${ms(summary.max)})`;
}
