/**
 * Cold start of each handler bundle as shipped: its size, and the time from node process start
 * to `handler` ready (the child reports performance.now() after importing the bundle, which
 * counts from process start). A child importing nothing gives the node start itself, in the
 * same run. Builds the bundles first. BENCH_RUNS sets the runs per bundle (default 15).
 */
import { statSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import prettyBytes from 'pretty-bytes';
import { buildHandlers, bundleFile, HANDLER_OPERATIONS } from '../infra/bundling';
import { inFreshNode } from './support/fresh-node';
import { type Summary, summarize } from './support/timing';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);

/** ms from process start until `specifier` is imported and exports a handler function (or plain start for none). */
function readyAfter(specifier: string | undefined): number {
  const script = specifier
    ? `const m = await import(${JSON.stringify(specifier)}); if (typeof m.handler !== 'function') throw new Error('no handler'); report(performance.now());`
    : 'report(performance.now());';
  // The child gets a DATABASE_URL so the handler's settings parse as in a configured function.
  return inFreshNode<number>(script, { DATABASE_URL: 'postgres://bench@127.0.0.1:1/bench' });
}

export async function measureColdStarts(runs = RUNS) {
  await buildHandlers();
  const rows: { name: string; bytes: number | null; ms: Summary }[] = [];
  const baseline: number[] = [];
  const samples = new Map<string, number[]>(HANDLER_OPERATIONS.map((op) => [op, []]));
  // Interleaved, so a noisy moment of the shared machine hits every bundle alike.
  for (let run = 0; run < runs; run += 1) {
    baseline.push(readyAfter(undefined));
    for (const operation of HANDLER_OPERATIONS) samples.get(operation)?.push(readyAfter(pathToFileURL(bundleFile(operation)).href));
  }
  rows.push({ name: 'node (no import)', bytes: null, ms: summarize(baseline) });
  for (const operation of HANDLER_OPERATIONS) {
    rows.push({ name: operation, bytes: statSync(bundleFile(operation)).size, ms: summarize(samples.get(operation) ?? []) });
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const rows = await measureColdStarts();
  const base = rows[0]?.ms.median ?? 0;
  console.log(`Cold start, ${RUNS} runs each, node ${process.version}, ${new Date().toISOString()}\n`);
  console.log('| bundle | size | process start to handler ready: median (min..max) | import cost over node start |');
  console.log('|---|---:|---|---:|');
  for (const row of rows) {
    const { median, min, max } = row.ms;
    const size = row.bytes === null ? '-' : prettyBytes(row.bytes);
    const extra = row.bytes === null ? '-' : `${(median - base).toFixed(1)} ms`;
    console.log(`| ${row.name} | ${size} | ${median.toFixed(1)} ms (${min.toFixed(1)}..${max.toFixed(1)}) | ${extra} |`);
  }
}
