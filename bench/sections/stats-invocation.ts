import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { bundleFile } from '../../infra/bundling';
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
    process.stderr.write('BENCH ' + JSON.stringify({ ready, first, second }) + '\\n');`;
  const samples: { ready: number; first: number; second: number }[] = [];
  for (let run = 0; run < runs; run += 1) {
    // stdout carries the function's logs and EMF; the result comes on stderr.
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { PATH: process.env.PATH, DATABASE_URL: databaseUrl, POWERTOOLS_LOG_LEVEL: 'ERROR' },
      encoding: 'utf8',
    });
    const line = child.stderr.split('\n').find((l) => l.startsWith('BENCH '));
    if (!line) throw new Error(`the stats invocation printed no result (exit ${child.status}): ${child.stderr}`);
    samples.push(JSON.parse(line.slice(6)));
  }
  return {
    ready: summarize(samples.map((s) => s.ready)),
    first: summarize(samples.map((s) => s.first)),
    second: summarize(samples.map((s) => s.second)),
  };
}
