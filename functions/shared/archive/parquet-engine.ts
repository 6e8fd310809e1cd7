import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * The Parquet writer and reader: arrow-rs compiled to WebAssembly (parquet-wasm). Loaded on
 * first use, so the functions that never touch Parquet (stats every five minutes) do not pay
 * for compiling 5 MB of WebAssembly at their cold start. A handler bundle ships the .wasm file
 * beside its index.mjs (infra/bundling.ts copies it); from source it comes from node_modules.
 */
export type ParquetWasm = typeof import('parquet-wasm/esm');

/** The file name the bundles ship (see infra/bundling.ts). */
export const PARQUET_WASM_FILE = 'parquet_wasm_bg.wasm';

let loading: Promise<ParquetWasm> | undefined;

export function loadParquetWasm(): Promise<ParquetWasm> {
  loading ??= (async () => {
    const module = await import('parquet-wasm/esm');
    module.initSync({ module: compiledParquetWasm() });
    return module;
  })();
  return loading;
}

let compiled: WebAssembly.Module | undefined;
/** WebAssembly.Module's constructor: a global of Node, which the project's typings (no DOM lib) declare as a type only. */
const WasmModule = (globalThis as unknown as { WebAssembly: { Module: new (bytes: Uint8Array) => WebAssembly.Module } }).WebAssembly.Module;

/**
 * The engine compiled once per process, for this thread (loadParquetWasm) and every encoder
 * thread (parquet-encoder.ts) alike: each instantiates it instead of compiling 5 MB of
 * WebAssembly again (about 50 ms each, which a backlog of small days paid once a partition).
 */
export function compiledParquetWasm(): WebAssembly.Module {
  compiled ??= new WasmModule(readFileSync(parquetWasmPath()));
  return compiled;
}

/** The engine's .wasm: beside the bundle that runs, else from node_modules. */
function parquetWasmPath(): string {
  const beside = fileURLToPath(new URL(PARQUET_WASM_FILE, import.meta.url));
  if (existsSync(beside)) return beside;
  return createRequire(import.meta.url).resolve(`parquet-wasm/esm/${PARQUET_WASM_FILE}`);
}
