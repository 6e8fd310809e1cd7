import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import { expect, vi } from 'vitest';
import { localLambdaContext } from '../../functions/cli/lambda-context';
import { bundleFile, type HandlerOperation } from '../../infra/bundling';
import { capturingOutput, jsonLines } from './output';
import { recordOutput } from './secret-guard';

/** A handler as the bundle exports it. */
export interface BundledHandler {
  (event: unknown, context: Context): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

let coldStarts = 0;

/**
 * Imports the built bundle (dist/<op>/index.mjs, built by the global setup) as a fresh module:
 * a cold start that reads process.env as it is now. vitest leaves dist/ to Node's own loader
 * (server.deps.external in vitest.config.ts), so the file runs untransformed, as Lambda runs it.
 */
export async function loadHandler(operation: HandlerOperation, env: Record<string, string | undefined> = {}): Promise<BundledHandler> {
  coldStarts += 1;
  const saved = setEnv(env);
  try {
    const module = (await import(`${pathToFileURL(bundleFile(operation)).href}?cold=${coldStarts}`)) as { handler: BundledHandler };
    return module.handler;
  } finally {
    setEnv(saved);
  }
}

/** Sets (undefined: deletes) environment variables; returns their previous values, to restore with setEnv. */
export function setEnv(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const previous = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]));
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  return previous;
}

/** Everything an invocation wrote to stdout and stderr (the password guard scans it too). */
export interface Invocation {
  result?: Record<string, unknown>;
  error?: Error & { report?: unknown; retryable?: boolean };
  stdout: string;
  stderr: string;
  /** The EMF documents on stdout. */
  emf: EmfDocument[];
  /** The JSON log lines (stdout and stderr) that are not EMF. */
  logs: Record<string, unknown>[];
}

export interface EmfDocument {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[];
  };
  [key: string]: unknown;
}

/** Invokes with a Lambda-like context, capturing the process's stdout and stderr while it runs. */
export async function invoke(
  handler: BundledHandler,
  event: unknown,
  functionName = 'perps-stats-db-test',
  timeoutMs?: number,
): Promise<Invocation> {
  const { value, stdout, stderr } = await capturingOutput(() => settle(handler, event, functionName, timeoutMs));
  keepForSecretScans(functionName, stdout, stderr, [value]);
  const lines = jsonLines(`${stdout}\n${stderr}`);
  return {
    ...value,
    stdout,
    stderr,
    emf: lines.filter((line): line is EmfDocument => '_aws' in line),
    logs: lines.filter((line) => !('_aws' in line)),
  };
}

/**
 * Invokes every handler at once with its event, as concurrent Lambda instances would. The output
 * is captured once for all of them (so it is not attributed per invocation); each outcome is.
 */
export async function invokeAll(calls: Array<[BundledHandler, unknown]>): Promise<Outcome[]> {
  const { value, stdout, stderr } = await capturingOutput(() =>
    Promise.all(calls.map(([handler, event], i) => settle(handler, event, `perps-stats-db-concurrent-${i}`))),
  );
  keepForSecretScans('concurrent invocations', stdout, stderr, value);
  return value;
}

/** What one invocation returned or threw. */
export type Outcome = Pick<Invocation, 'result' | 'error'>;

async function settle(handler: BundledHandler, event: unknown, functionName: string, timeoutMs?: number): Promise<Outcome> {
  try {
    return { result: await handler(event, localLambdaContext(functionName, timeoutMs)) };
  } catch (error) {
    return { error: error as Invocation['error'] };
  }
}

/** Hands what invocations wrote, threw and returned to the suite-wide password guard. */
function keepForSecretScans(source: string, stdout: string, stderr: string, outcomes: Outcome[]): void {
  recordOutput(`${source} stdout`, stdout);
  recordOutput(`${source} stderr`, stderr);
  for (const outcome of outcomes) {
    recordOutput(`${source} ${outcome.error ? 'error' : 'report'}`, `${describeOutcome(outcome)} ${outcome.error?.stack ?? ''}`);
  }
}

function describeOutcome(outcome: Outcome): string {
  return outcome.error ? `${outcome.error.message} ${JSON.stringify(outcome.error.report ?? '')}` : JSON.stringify(outcome.result ?? '');
}

/**
 * Runs `end`, which ends server sessions of warm handlers and returns how many, and checks what
 * each of their pools logs, once, when its idle connection is lost: captured here, not printed.
 */
export async function expectLostConnectionLogs(end: () => Promise<number>): Promise<void> {
  const {
    value: ended,
    stdout,
    stderr,
  } = await capturingOutput(async (written) => {
    const count = await end();
    // The pools hear of it asynchronously, when the server's message arrives.
    await vi.waitFor(() => expect(jsonLines(written())).toHaveLength(count));
    return count;
  });
  expect(ended).toBeGreaterThan(0);
  expect(jsonLines(stdout + stderr)).toEqual(
    Array(ended).fill(
      expect.objectContaining({
        level: 'WARN',
        message: 'idle database connection failed',
        error: 'terminating connection due to administrator command',
      }),
    ),
  );
}

/** The metrics of EMF documents as `Name{dim=value,...}` -> { value, unit }. */
export function metricsOf(documents: EmfDocument[]): Map<string, { value: unknown; unit: string; namespace: string }> {
  const metrics = new Map<string, { value: unknown; unit: string; namespace: string }>();
  for (const document of documents) {
    for (const directive of document._aws.CloudWatchMetrics) {
      const dimensions = (directive.Dimensions[0] ?? []).map((name) => `${name}=${String(document[name])}`).join(',');
      for (const metric of directive.Metrics) {
        metrics.set(`${metric.Name}{${dimensions}}`, { value: document[metric.Name], unit: metric.Unit, namespace: directive.Namespace });
      }
    }
  }
  return metrics;
}
