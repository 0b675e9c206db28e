// Loads the llmq wasm module and calls it safely: every host a caller supplies is wrapped so that
// nothing thrown in JS reaches the C++ side (it becomes an error object with the exit-code
// numbering of CLI.md), and a trap inside the module becomes an error object too, never a hang.
// Runs unchanged in browsers, Workers, Node and Electron: no static Node or DOM imports here.
// Two builds: llmq.mjs (single-threaded, runs everywhere) and llmq-mt.mjs (pthreads over a
// SharedArrayBuffer: Node, and pages that are cross-origin isolated); see docs/wasm-threads.md.
import { ExitCode, isLlmqError, llmqError } from './llmq-errors.mjs';

export { ExitCode, isLlmqError, llmqError };

// Any exception from an adapter becomes a general error naming what failed.
function attempt(context, fn, fallback) {
  try {
    return fn();
  } catch (e) {
    if (isLlmqError(e)) return e;
    if (fallback !== undefined) return fallback;
    return llmqError(ExitCode.general, `${context}: ${e?.message ?? e}`);
  }
}

function guardSource(source) {
  if (isLlmqError(source)) return source;
  return {
    name: String(source.name),
    size: Number(source.size),
    read: (offset, into) => attempt(`${source.name}: read error`, () => source.read(offset, into)),
    close: () => attempt('close', () => source.close?.(), null),
  };
}

function guardSink(sink) {
  if (isLlmqError(sink)) return sink;
  return {
    name: String(sink.name),
    write: (bytes) => attempt(`${sink.name}: write failed`, () => sink.write(bytes)),
    finish: () => attempt(`${sink.name}: cannot finish`, () => sink.finish()),
    abort: () => attempt('abort', () => sink.abort(), null),
  };
}

function guardFileSet(set) {
  if (isLlmqError(set)) return set;
  return {
    name: String(set.name),
    isDirectory: Boolean(set.isDirectory),
    list: () => attempt('list', () => [...set.list()], []),
    exists: (rel) => attempt('exists', () => Boolean(set.exists(rel)), false),
    open: (rel) => attempt(`${set.name}/${rel}: cannot open`, () => guardSource(set.open(rel))),
  };
}

/** Wraps a host (protocol in wasm/js_host.hpp) so that none of its methods can throw. */
export function guardHost(host) {
  const progress = host.progress ?? {};
  // Optional members stay absent when the host lacks them: the core then knows there are no
  // directories, no environment or no bundled data (rather than getting empty answers).
  const optional = {};
  if (typeof host.makeDirectories === 'function') {
    optional.makeDirectories = (path) => attempt(`cannot create directory ${path}`, () => host.makeDirectories(path) ?? undefined);
  }
  if (typeof host.env === 'function') {
    optional.env = (name) => attempt('env', () => {
      const v = host.env(name);
      return typeof v === 'string' ? v : null;
    }, null);
  }
  // threads: at most this many of the instance's threads for the job (-t overrides it).
  if (Number.isInteger(host.threads) && host.threads >= 1) optional.threads = host.threads;
  if (typeof host.bundledFile === 'function') {
    optional.bundledFile = (name) => attempt('bundledFile', () => String(host.bundledFile(name) ?? ''), '');
  }
  return {
    ...optional,
    openFiles: (path) => attempt(`${path}: cannot open`, () => guardFileSet(host.openFiles(path))),
    openFile: (path) => attempt(`${path}: cannot open`, () => guardSource(host.openFile(path))),
    createFile: (path) => attempt(`${path}: cannot create`, () => guardSink(host.createFile(path))),
    exists: (path) => attempt('exists', () => Boolean(host.exists?.(path)), false),
    removeFile: (path) => attempt('remove', () => host.removeFile?.(path), null),
    stdout: (text) => attempt('stdout', () => host.stdout?.(text), null),
    stderr: (text) => attempt('stderr', () => host.stderr?.(text), null),
    now: () => attempt('now', () => Number(host.now ? host.now() : performance.now() / 1000), 0),
    peakMemory: () => attempt('peakMemory', () => Number(host.peakMemory?.() ?? 0), 0),
    cancelled: () => attempt('cancelled', () => Boolean(host.cancelled?.()), false),
    configure: (options) => attempt('configure', () => host.configure?.(options), null),
    progress: {
      begin: (task, total, unit) => attempt('progress', () => progress.begin?.(task, total, unit ?? 'bytes'), null),
      update: (done, item) => attempt('progress', () => progress.update?.(done, item), null),
      end: () => attempt('progress', () => progress.end?.(), null),
    },
  };
}

// A trap (unreachable, stack overflow, failed growth) leaves the instance unusable: report it as
// an error with a hint, and refuse further calls instead of running on a broken heap.
function trapError(e) {
  const text = String(e?.message ?? e);
  if (/OOM|out of memory|Cannot enlarge memory|could not allocate memory/i.test(text)) {
    return llmqError(ExitCode.outOfMemory, `out of memory: the WebAssembly module stopped (${text})`,
      'use a smaller chunk size (--chunk-mb / chunkMb), or the native llmq for this model');
  }
  return llmqError(ExitCode.general, `the WebAssembly module stopped: ${text}`,
    'start a new job (reload the page); please report this with the model and options if it repeats');
}

export class LlmqModule {
  #module;
  #broken = null;

  #threads;

  constructor(module, threads = 1) {
    this.#module = module;
    this.#threads = threads;
  }

  /** Threads the jobs use by default (1: the single-threaded module).
   *  @returns {number} */
  get threads() {
    return this.#threads;
  }

  /** Ends the threaded module's pool Workers (a Node process then exits once the rest is done);
   *  the instance is unusable afterwards. Nothing to do for the single-threaded module. */
  dispose() {
    if (this.#threads > 1) this.#module.PThread?.terminateAllThreads();
    this.#broken ??= llmqError(ExitCode.general, 'the WebAssembly module was disposed', 'load a new one');
  }

  /** True after a trap: the instance must be replaced (load a new one). */
  get broken() {
    return this.#broken !== null;
  }

  get version() {
    return this.#module.version();
  }

  /** Every preset: [{name, description, available}]. */
  levels() {
    return this.#module.levels();
  }

  /** The quality report ({original, quantized, text?, ctx?, chunks?, includeLayers?, imatrix?,
   *  coherence?, output?}): {ok, result | error}. */
  qualityReport(options, host) {
    return this.#job(() => this.#module.qualityReport(options, guardHost(host)));
  }

  /** The quality comparison ({original, quantized: [paths], text?, ctx?, chunks?, output?}). */
  qualityCompare(options, host) {
    return this.#job(() => this.#module.qualityCompare(options, guardHost(host)));
  }

  /** A quality result rendered as an HTML fragment (document: a whole HTML file); '' when the
   *  object is not one. */
  renderQuality(result, { document = false } = {}) {
    return this.#call(() => this.#module.renderQuality(JSON.stringify(result), document), '');
  }

  /** The dynamic-quantization profiles: {ok, result: {profiles: [{name, description, source,
   *  default_target, ...}]}} as `llmq profile list --format json`. */
  profiles(host = {}) {
    return this.#job(() => this.#module.profiles(guardHost(host)));
  }

  /** Bytes of wasm linear memory (it only grows: also the peak). */
  heapBytes() {
    return this.#module.heapBytes();
  }

  /** Relative paths then resolve as they would in this directory (Node: process.cwd()). */
  setWorkingDirectory(dir) {
    return this.#call(() => this.#module.setWorkingDirectory(dir), false);
  }

  /** The command line of CLI.md; returns the exit code. Output goes to host.stdout/stderr. */
  runCli(args, host) {
    const guarded = guardHost(host);
    const result = this.#call(() => this.#module.runCli(args.map(String), guarded));
    if (isLlmqError(result)) {
      guarded.stderr(`error: ${result.message}\n${result.hint ? `hint: ${result.hint}\n` : ''}`);
      return result.code;
    }
    return result;
  }

  /** The quantize job: {ok: true, result} or {ok: false, error}. */
  quantize(options, host) {
    return this.#job(() => this.#module.quantize(options, guardHost(host)));
  }

  /** The inspect job: {ok: true, result} or {ok: false, error}. */
  inspect(model, host) {
    return this.#job(() => this.#module.inspect(String(model), guardHost(host)));
  }

  /** The perplexity job ({model, text?, ctx?, chunks?, kldBase?}): {ok, result | error}. */
  perplexity(options, host) {
    return this.#job(() => this.#module.perplexity(options, guardHost(host)));
  }

  /** The generate job ({model, prompt, n?, temp?, seed?}): {ok, result | error}. */
  generate(options, host) {
    return this.#job(() => this.#module.generate(options, guardHost(host)));
  }

  /** The analyze job ({model, output?, calibrationData?, calibrationSamples?, ctx?, method?,
   *  imatrixFormat?, identifySuperWeights?, coverage?, checkpointDir?, resume?, cache?}):
   *  {ok, result | error}. */
  analyze(options, host) {
    return this.#job(() => this.#module.analyze(options, guardHost(host)));
  }

  /** Tests only: tasks over the instance's threads that call the host's JS ({tasks, spinMs?,
   *  missing?}, see wasm/thread_check.cpp): {ok, tasks, offThread, threads} | {ok: false, error}. */
  threadCheck(options, host) {
    const r = this.#call(() => this.#module.threadCheck(options, guardHost(host)));
    if (isLlmqError(r)) return { ok: false, error: r };
    return r;
  }

  /** bench/ only: prompt-processing speed ({model, ctx, reps?, resident?}), see forward_speed.cpp. */
  forwardSpeed(options, host) {
    const r = this.#call(() => this.#module.forwardSpeed(options, guardHost(host)));
    if (isLlmqError(r)) return { ok: false, error: r };
    return r;
  }

  #job(fn) {
    const r = this.#call(fn);
    if (isLlmqError(r)) return { ok: false, error: r };
    return r.ok ? { ok: true, result: JSON.parse(r.json) } : { ok: false, error: r.error };
  }

  #call(fn, fallback) {
    if (this.#broken) return fallback ?? this.#broken;
    try {
      return fn();
    } catch (e) {
      this.#broken = trapError(e);
      return fallback ?? this.#broken;
    }
  }
}

const isNode = typeof process === 'object' && typeof process.versions?.node === 'string';

/**
 * True where the threaded module can run: SharedArrayBuffer exists and, in a browser, the page is
 * cross-origin isolated (served with COOP/COEP, docs/wasm-threads.md). Node always can.
 * @returns {boolean}
 */
export function threadsSupported() {
  if (typeof SharedArrayBuffer !== 'function' || typeof Atomics !== 'object') return false;
  return isNode || globalThis.crossOriginIsolated === true;
}

/**
 * The file names of the build loadLlmq picks for a thread count.
 * @param {number} threads
 * @returns {{js: string, wasm: string}}
 */
export function moduleFiles(threads) {
  return threads > 1 && threadsSupported() ? { js: 'llmq-mt.mjs', wasm: 'llmq-mt.wasm' } : { js: 'llmq.mjs', wasm: 'llmq.wasm' };
}

// The threaded build's Node code is CommonJS-minded: it names require and __dirname, which an ES
// module lacks. They are defined on this thread's global (the module runs in a thread of its own).
async function nodeGlobals() {
  if (typeof globalThis.require !== 'function') {
    const { createRequire } = await import('node:module');
    globalThis.require = createRequire(import.meta.url);
  }
  if (typeof globalThis.__dirname !== 'string') {
    const { fileURLToPath } = await import('node:url');
    globalThis.__dirname = fileURLToPath(new URL('.', import.meta.url));
  }
}

/**
 * Instantiates the module. threads (default 1): more than 1 loads the threaded build with that
 * many threads (the loading thread and threads - 1 pool Workers) where threadsSupported(), else
 * the single-threaded one; check `threads` of the result. The threaded build blocks the thread
 * that loads it while a job runs: load it in a Worker (or a Node worker_thread, or a Node main
 * thread that has nothing else to do), never on a page's main thread.
 * Give one of: wasmModule (a compiled WebAssembly.Module, e.g. shared with workers), wasmBinary
 * (the bytes of the .wasm: Node, Electron), wasmUrl (fetched: browsers; default: the build's
 * .wasm next to this file) — of the build moduleFiles(threads) names. memory: an optional
 * WebAssembly.Memory to run in (single-threaded build only; a smaller maximum makes
 * out-of-memory testable).
 * @param {{wasmModule?: WebAssembly.Module, wasmBinary?: BufferSource, wasmUrl?: string | URL,
 *          memory?: WebAssembly.Memory, threads?: number}} [options]
 * @returns {Promise<LlmqModule>}
 */
export async function loadLlmq({ wasmModule, wasmBinary, wasmUrl, memory, threads = 1 } = {}) {
  const files = moduleFiles(threads);
  const threaded = files.js === 'llmq-mt.mjs';
  const instantiateWasm = (imports, receive) => {
    // The threaded build posts the compiled module to its pool Workers: it needs both.
    const done = (instance, compiled) => receive(instance, compiled);
    let pending;
    if (wasmModule) {
      pending = WebAssembly.instantiate(wasmModule, imports).then((instance) => done(instance, wasmModule));
    } else if (wasmBinary) {
      pending = WebAssembly.instantiate(wasmBinary, imports).then((r) => done(r.instance, r.module));
    } else {
      const url = wasmUrl ?? new URL(`./${files.wasm}`, import.meta.url);
      // Streaming compilation needs the application/wasm type; some static hosts send another.
      pending = WebAssembly.instantiateStreaming(fetch(url), imports)
        .catch(() => fetch(url).then((r) => r.arrayBuffer()).then((bytes) => WebAssembly.instantiate(bytes, imports)))
        .then((r) => done(r.instance, r.module));
    }
    pending.catch((e) => rejectLoad(e));
    return {};
  };
  let rejectLoad;
  const failed = new Promise((_, reject) => {
    rejectLoad = reject;
  });
  const options = { instantiateWasm };
  if (memory && !threaded) options.wasmMemory = memory;
  if (threaded) {
    if (isNode) await nodeGlobals();
    options.llmqPoolSize = threads - 1;
  }
  const { default: createLlmqModule } = threaded ? await import('./llmq-mt.mjs') : await import('./llmq.mjs');
  const module = await Promise.race([createLlmqModule(options), failed]);
  return new LlmqModule(module, threaded ? module.startThreads(threads) : 1);
}
