// How many threads a job of the package uses, and which build of the module that takes: the
// threaded one (dist/llmq-mt.*, pthreads over a SharedArrayBuffer, pool Workers are
// worker_threads) for more than one thread, the single-threaded one (dist/llmq.*) for one.
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** At most this many threads by default (more rarely pays for a quantizer's memory traffic). */
export const DEFAULT_MAX_THREADS = 8;
/** At most this many in any case: each pthread is a Worker with a 5 MiB stack in the wasm heap. */
export const MAX_THREADS = 64;

function positive(value) {
  const n = Number(value);
  return Number.isInteger(n) && n >= 1 ? Math.min(n, MAX_THREADS) : undefined;
}

/**
 * The thread count of a job: requested (an option, -t) if it is a whole number ≥ 1, else the
 * environment's LLMQ_THREADS, else the machine's parallelism capped at DEFAULT_MAX_THREADS
 * (never more than MAX_THREADS; -t above it uses MAX_THREADS, the output being the same).
 * @param {unknown} [requested]
 * @returns {number}
 */
export function jobThreads(requested) {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return positive(requested) ?? positive(process.env.LLMQ_THREADS) ?? Math.max(1, Math.min(cores, DEFAULT_MAX_THREADS));
}

/**
 * The -t / --threads value of a command line ('' when absent), read as the core reads it, so the
 * module is loaded with the pool the command asks for.
 * @param {string[]} args
 * @returns {string}
 */
export function threadsArgument(args) {
  let value = '';
  for (let i = 0; i < args.length; ++i) {
    const a = args[i];
    if (a === '--') break;
    if (a === '-t' || a === '--threads') value = args[++i] ?? '';
    else if (a.startsWith('--threads=')) value = a.slice('--threads='.length);
  }
  return value;
}

const compiled = new Map();

/**
 * The compiled module for a thread count, compiled once per process and build.
 * @param {number} threads
 * @returns {Promise<WebAssembly.Module>}
 */
export function compiledModule(threads) {
  const file = threads > 1 ? 'llmq-mt.wasm' : 'llmq.wasm';
  if (!compiled.has(file)) compiled.set(file, WebAssembly.compile(readFileSync(new URL(`../dist/${file}`, import.meta.url))));
  return compiled.get(file);
}
