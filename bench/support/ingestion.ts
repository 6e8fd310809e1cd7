import { startWriter } from '../../test/support/writer';
import { WRITER_APP } from './lock-watch';
import { largest, percentile } from './timing';

/** Inserts of the writer thread that started while an operation ran. */
export interface IngestionResult {
  during: string;
  inserts: number;
  failed: number;
  errors: string[];
  p50: number;
  p99: number;
  max: number;
}

/** Wall-clock ms shared by the writer thread and this one. */
const wallClock = () => performance.timeOrigin + performance.now();

/**
 * Runs `work` while a writer thread inserts `batch`-row batches into the four parents, back to
 * back (rows for now), and returns what `work` returned with the latencies of the inserts that
 * started while it ran.
 */
export async function duringIngestion<T>(
  url: string,
  during: string,
  work: () => Promise<T>,
  options: { batch?: number; log?: (line: string) => void } = {},
): Promise<{ result: T; ingestion: IngestionResult }> {
  const writer = startWriter(url, { batch: options.batch ?? 50, applicationName: WRITER_APP });
  // Writing first (a loaded machine takes a while to start a thread and connect), then a steady
  // state before anything is measured against it.
  await writer.ready();
  await new Promise((resolve) => setTimeout(resolve, 300));
  const started = wallClock();
  const outcome = await work().then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  const ended = wallClock();
  const { samples, failed, errors } = await writer.stop();
  if ('error' in outcome) throw outcome.error;
  if (failed > 0) options.log?.(`ingestion: ${failed} inserts failed during ${during}: ${errors.join(' | ')}`);
  const inWindow = samples.filter((s) => s.at >= started && s.at <= ended).map((s) => s.ms);
  return {
    result: outcome.value,
    ingestion: {
      during,
      inserts: inWindow.length,
      failed,
      errors,
      p50: percentile(inWindow, 50),
      p99: percentile(inWindow, 99),
      max: largest(inWindow),
    },
  };
}
