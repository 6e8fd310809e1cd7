import type { PartitionInfo } from '../../shared/catalog';
import { addDays, dayOf, dayStart } from '../../shared/days';

/** Closed day partitions looked at: the last week, so a change of pace shows within days. */
export const GROWTH_WINDOW_DAYS = 7;

/** How fast a time-series table grows, from its closed day partitions of the last week. */
export interface TableGrowth {
  /** Median of the closed days' sizes (data and indexes); null without a closed day. */
  bytes_per_day: number | null;
  /** Median of the closed days' row estimates (catalog estimates, as row_count above the exact size). */
  rows_per_day: number | null;
  /** The days the medians are over (YYYY-MM-DD), oldest first. */
  growth_days: string[];
}

/** A leaf relation's catalog size and row estimate, as the stats leaf query reads them. */
export interface LeafSize {
  name: string;
  total_bytes: string | number;
  estimate: string | number;
}

/**
 * Bytes and rows per day of one table: the median over its day partitions whose day lies in the
 * last GROWTH_WINDOW_DAYS closed days (yesterday and before). Catalog figures only: no scan.
 * The median, not the mean, so a day of backfill or an outage does not set the rate.
 */
export function tableGrowth(partitions: PartitionInfo[], leaves: LeafSize[], now: Date): TableGrowth {
  const today = dayStart(dayOf(now));
  const windowStart = dayStart(addDays(dayOf(now), -GROWTH_WINDOW_DAYS));
  const closed = partitions.filter((p) => !p.isDefault && p.from !== null && p.to !== null && p.from >= windowStart && p.to <= today);
  const sizes = closed
    .map((p) => ({ day: dayOf(p.from as Date), leaf: leaves.find((leaf) => leaf.name === p.name) }))
    .filter((entry): entry is { day: string; leaf: LeafSize } => entry.leaf !== undefined)
    .sort((a, b) => a.day.localeCompare(b.day));
  return {
    bytes_per_day: median(sizes.map((s) => Number(s.leaf.total_bytes))),
    rows_per_day: median(sizes.map((s) => Math.max(0, Number(s.leaf.estimate)))),
    growth_days: sizes.map((s) => s.day),
  };
}

/** The middle value (the mean of the two middle ones for an even count), rounded; null when empty. */
export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const middle = sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
  return Math.round(middle);
}
