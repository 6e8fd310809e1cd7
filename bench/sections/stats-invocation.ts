import { pathToFileURL } from 'node:url';
import { bundleFile } from '../../infra/bundling';
import { inFreshNode } from '../support/fresh-node';
import { type Summary, summarize } from '../support/timing';

export interface InvocationResult {
  ready: Summary;
  first: Summary;
  second: Summary;
}

/**
 * One stats invocation through the built bundle in a fresh process against a warm database:
 * process start to handler ready, the first invocation (connects), and a second (warm).
 */
export function statsInvocation(databaseUrl: string, runs: number): InvocationResult {
  const bundle = pathToFileURL(bundleFile('stats')).href;
  const script = `
    const { handler } = await import(${JSON.stringify(bundle)});
    const ready = performance.now();
    const context = { functionName: 'bench-stats', awsRequestId: 'bench', getRemainingTimeInMillis: () => 900000 };
    const t1 = performance.now(); await handler({}, context); const first = performance.now() - t1;
    const t2 = performance.now(); await handler({}, context); const second = performance.now() - t2;
    await handler.close();
    report({ ready, first, second });`;
  const samples: { ready: number; first: number; second: number }[] = [];
  for (let run = 0; run < runs; run += 1) {
    samples.push(inFreshNode(script, { DATABASE_URL: databaseUrl, POWERTOOLS_LOG_LEVEL: 'ERROR' }));
  }
  return {
    ready: summarize(samples.map((s) => s.ready)),
    first: summarize(samples.map((s) => s.first)),
    second: summarize(samples.map((s) => s.second)),
  };
}
