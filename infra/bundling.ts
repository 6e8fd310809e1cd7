import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, build } from 'esbuild';
import { OPERATION_IDS, type OperationId } from '../functions/operations/registry';
import { PARQUET_ENCODER_WORKER_FILE } from '../functions/shared/archive/parquet-encoder';
import { PARQUET_WASM_FILE } from '../functions/shared/archive/parquet-engine';

/** The Lambda functions: one per operation of the registry, bundled to `dist/<op>/index.mjs`. */
export const HANDLER_OPERATIONS: readonly OperationId[] = OPERATION_IDS;
export type HandlerOperation = OperationId;

export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BUNDLE_DIR = join(PROJECT_ROOT, 'dist');
/**
 * The Parquet engine's WebAssembly, shipped beside every bundle's index.mjs: each bundle holds
 * the whole registry, and the engine loads the file on first use (parquet-engine.ts).
 */
const PARQUET_WASM_SOURCE = createRequire(import.meta.url).resolve(`parquet-wasm/esm/${PARQUET_WASM_FILE}`);

/**
 * The archive's Parquet encoder thread (parquet-encoder.ts), an entry of its own: a worker
 * loads a file, found beside the code that starts it.
 */
const PARQUET_ENCODER_WORKER_SOURCE = join(PROJECT_ROOT, 'functions/shared/archive', PARQUET_ENCODER_WORKER_FILE);

/** Lambda `handler` setting for every bundle: file `index.mjs`, export `handler`. */
export const LAMBDA_HANDLER = 'index.handler';

/**
 * The one esbuild configuration of every handler bundle: `npm run build`, the handler tests
 * and the CDK stack all use it. ESM needs a `require` for the CommonJS inside pg ("Dynamic
 * require of events" otherwise); pg-native is optional in pg and absent on Lambda.
 */
const BUNDLE_OPTIONS = {
  bundle: true,
  platform: 'node',
  // Lambda runs Node.js 24; the tests run the same files on Node.js 20.
  target: 'node20',
  format: 'esm',
  outExtension: { '.js': '.mjs' },
  minify: true,
  // Error class names are what Lambda reports as errorType (InputError, LockBusyError, ...).
  keepNames: true,
  sourcemap: true,
  legalComments: 'none',
  mainFields: ['module', 'main'],
  external: ['pg-native'],
  banner: {
    js: "import { createRequire as __perpsCreateRequire } from 'node:module'; const require = __perpsCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
} as const satisfies BuildOptions;

/**
 * The Lambda entry of an operation, derived from the registry rather than written per
 * operation: its middleware chain (createOperationHandler) over its registry entry.
 */
function handlerEntry(operation: HandlerOperation): string {
  return [
    `import { createOperationHandler } from './functions/lambda/operation-handler';`,
    `import { OPERATIONS } from './functions/operations/registry';`,
    `/** Lambda entry of \`${operation}\`: see createOperationHandler for the middleware chain. */`,
    `export const handler = createOperationHandler(OPERATIONS[${JSON.stringify(operation)}]);`,
  ].join('\n');
}

/** The local runner (`npm run local`), prebuilt: scripts/local.mjs runs it, rebuilding it first when a source is newer. */
const RUNNER_DIR = join(BUNDLE_DIR, 'cli');
export const RUNNER_FILE = join(RUNNER_DIR, 'main.mjs');
/** The runner's lazily loaded parts (an operation's code, the handlers' middleware, PGlite's wrapper). */
const RUNNER_CHUNKS = join(RUNNER_DIR, 'chunks');

/**
 * The handlers' configuration for the local runner, split: what a command imports only when it
 * runs (each operation's implementation, the middleware, the embedded database) becomes a file
 * of its own, so `--version` and `help` load a fraction of the code. PGlite stays in
 * node_modules: it loads its WebAssembly and data files from beside its own module.
 */
const RUNNER_BUILD = {
  ...BUNDLE_OPTIONS,
  entryPoints: [
    join(PROJECT_ROOT, 'functions/cli/main.ts'),
    // Beside the chunk that starts it: an operation's code is always a lazily loaded chunk.
    { in: PARQUET_ENCODER_WORKER_SOURCE, out: `chunks/${PARQUET_ENCODER_WORKER_FILE.replace(/\.mjs$/, '')}` },
  ],
  splitting: true,
  outdir: RUNNER_DIR,
  chunkNames: 'chunks/[name]-[hash]',
  external: [...BUNDLE_OPTIONS.external, '@electric-sql/pglite', '@electric-sql/pglite-socket'],
  write: false,
} as const satisfies BuildOptions;

/**
 * Builds the runner into dist/cli/; returns the size of its entry file. The chunks are named by
 * their content and written first, main.mjs last, each in one step: a run starting meanwhile
 * reads the old build or the new one. Chunks no longer referenced are removed.
 */
export async function buildRunner(): Promise<number> {
  const { outputFiles } = await build(RUNNER_BUILD);
  mkdirSync(RUNNER_CHUNKS, { recursive: true });
  const entryLast = [...outputFiles].sort((a, b) => Number(a.path.startsWith(RUNNER_FILE)) - Number(b.path.startsWith(RUNNER_FILE)));
  for (const file of entryLast) writeInOneStep(file.path, file.contents);
  const current = new Set(outputFiles.filter((file) => dirname(file.path) === RUNNER_CHUNKS).map((file) => basename(file.path)));
  for (const name of readdirSync(RUNNER_CHUNKS)) if (!current.has(name)) rmSync(join(RUNNER_CHUNKS, name), { force: true });
  return statSync(RUNNER_FILE).size;
}

/** Writes beside `path`, then renames over it: a reader sees the old file or the new one, never half of one. */
function writeInOneStep(path: string, contents: Uint8Array): void {
  const staged = `${path}.${process.pid}.tmp`;
  writeFileSync(staged, contents);
  renameSync(staged, path);
}

export function bundleDir(operation: HandlerOperation): string {
  return join(BUNDLE_DIR, operation);
}

export function bundleFile(operation: HandlerOperation): string {
  return join(bundleDir(operation), 'index.mjs');
}

/**
 * Builds every handler bundle; returns each bundle's size in bytes. Each file is replaced in one
 * step (written beside it, then renamed over it): a test or a benchmark that imports a bundle
 * while another process rebuilds it reads the old file or the new one, never half of one.
 */
export async function buildHandlers(): Promise<Record<HandlerOperation, number>> {
  const worker = await build({ ...BUNDLE_OPTIONS, entryPoints: [PARQUET_ENCODER_WORKER_SOURCE], outdir: BUNDLE_DIR, write: false });
  const workerCode = worker.outputFiles.find((file) => file.path.endsWith('.mjs'));
  if (!workerCode) throw new Error(`esbuild produced no ${PARQUET_ENCODER_WORKER_FILE}`);
  await Promise.all(
    HANDLER_OPERATIONS.map(async (operation) => {
      const { outputFiles } = await build({
        ...BUNDLE_OPTIONS,
        stdin: {
          contents: handlerEntry(operation),
          resolveDir: PROJECT_ROOT,
          sourcefile: `generated/${operation}-handler.ts`,
          loader: 'ts',
        },
        outfile: bundleFile(operation),
        write: false,
      });
      mkdirSync(bundleDir(operation), { recursive: true });
      const wasm = { path: join(bundleDir(operation), PARQUET_WASM_FILE), contents: readFileSync(PARQUET_WASM_SOURCE) };
      const encoder = { path: join(bundleDir(operation), PARQUET_ENCODER_WORKER_FILE), contents: workerCode.contents };
      for (const file of [...outputFiles, wasm, encoder]) writeInOneStep(file.path, file.contents);
    }),
  );
  return Object.fromEntries(HANDLER_OPERATIONS.map((operation) => [operation, statSync(bundleFile(operation)).size])) as Record<
    HandlerOperation,
    number
  >;
}
