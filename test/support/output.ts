import { format } from 'node:util';

/*
 * Output a test expects is captured by that test, never printed: a passing run prints nothing it
 * did not ask for (quiet-setup.ts fails a file that prints a warning). These capture it, and
 * watchPrinted lets the guards see what does get printed.
 */

type ConsoleMethod = 'log' | 'info' | 'warn' | 'error' | 'debug' | 'trace';

/**
 * Calls `seen(source, text)` with everything this process prints from now on, still printing it:
 * each write to stdout and stderr (`source` 'stdout' or 'stderr') and each call of the given
 * console methods (`console.<method>`). Output a capture diverts is not printed, so not seen.
 */
export function watchPrinted(seen: (source: string, text: string) => void, consoleMethods: readonly ConsoleMethod[]): void {
  for (const stream of [process.stdout, process.stderr]) {
    const source = stream === process.stdout ? 'stdout' : 'stderr';
    const write = stream.write.bind(stream);
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      seen(source, typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof stream.write;
  }
  for (const method of consoleMethods) {
    const original = console[method].bind(console);
    console[method] = (...args: unknown[]) => {
      seen(`console.${method}`, format(...args));
      original(...args);
    };
  }
}

/**
 * Runs `work` with this process's stdout and stderr diverted into strings. `work` may read what
 * was written so far (`written()`), to wait for a log line that comes asynchronously.
 */
export async function capturingOutput<T>(
  work: (written: () => string) => Promise<T>,
): Promise<{ value: T; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const originalOut = process.stdout.write.bind(process.stdout);
  const originalErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => out.push(String(chunk)) > 0) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => err.push(String(chunk)) > 0) as typeof process.stderr.write;
  try {
    return { value: await work(() => out.join('') + err.join('')), stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = originalOut;
    process.stderr.write = originalErr;
  }
}

/** Runs `work`, collecting the Node process warnings it emits (process.emitWarning) instead of printing them. */
export async function capturingWarnings<T>(work: () => Promise<T>): Promise<{ value: T; warnings: string[] }> {
  const warnings: string[] = [];
  const original = process.emitWarning;
  process.emitWarning = ((warning: string | Error) => {
    warnings.push(typeof warning === 'string' ? warning : warning.message);
  }) as typeof process.emitWarning;
  try {
    return { value: await work(), warnings };
  } finally {
    process.emitWarning = original;
  }
}

/** The JSON documents among the lines of `text` (structured logs and EMF), in order. */
export function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
