import { pathToFileURL } from 'node:url';
import { bundleFile, type HandlerOperation } from '../../infra/bundling';
import { MAINTENANCE_APP } from './database';
import { inFreshNodeAsync } from './fresh-node';

/** One invocation of a handler bundle in a process of its own. */
export interface ProcessRun<T> {
  /** The invocation, from the call to its answer (the import of the bundle is not in it). */
  ms: number;
  /** Peak resident set of the whole process, in MiB (the functions have 256 MB). */
  peakRssMiB: number;
  /** CPU time (user and system) of the whole process, in seconds: what a share of a core would have to run. */
  cpuSeconds?: number;
  result?: T;
  error?: { name: string; message: string };
}

/**
 * Invokes `operation`'s Lambda bundle once in a fresh node process, as a cold function would run
 * it, on `databaseUrl`. Its sessions are named MAINTENANCE_APP (the function name), so a lock
 * watcher can find them. `nowMs` pins the clock the handler reads, to place a cutoff exactly; the
 * deadline is an hour away, so long recoveries run to their end.
 */
export function invokeInFreshProcess<T>(
  operation: HandlerOperation,
  event: unknown,
  databaseUrl: string,
  options: { nowMs?: number; env?: Record<string, string> } = {},
): Promise<ProcessRun<T>> {
  const pin =
    options.nowMs === undefined
      ? ''
      : `const offset = ${options.nowMs} - Date.now(); const RealDate = Date;
         globalThis.Date = class extends RealDate {
           constructor(...args) { if (args.length === 0) super(RealDate.now() + offset); else super(...args); }
           static now() { return RealDate.now() + offset; }
         };`;
  const script = `${pin}
    const { handler } = await import(${JSON.stringify(pathToFileURL(bundleFile(operation)).href)});
    const context = { functionName: ${JSON.stringify(MAINTENANCE_APP)}, awsRequestId: 'bench', getRemainingTimeInMillis: () => 3600000 };
    const started = performance.now();
    let result, error;
    try { result = await handler(${JSON.stringify(event)}, context); } catch (e) { error = { name: e.name, message: e.message }; }
    const ms = performance.now() - started;
    await handler.close?.();
    const usage = process.resourceUsage();
    report({ ms, peakRssMiB: usage.maxRSS / 1024, cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6, result, error });`;
  return inFreshNodeAsync<ProcessRun<T>>(script, {
    DATABASE_URL: databaseUrl,
    POWERTOOLS_LOG_LEVEL: 'ERROR',
    // As in Lambda: the function's name names its database sessions.
    AWS_LAMBDA_FUNCTION_NAME: MAINTENANCE_APP,
    ...options.env,
  });
}
