// The ESM API of the llmq package: each job runs in a worker_thread over the wasm module, with
// progress events, cancellation through an AbortSignal, and errors as LlmqError (the exit codes
// of the CLI). Works in Node and in Electron's main and utility processes.
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { loadLlmq } from '../dist/llmq-core.mjs';
import { compiledModule, jobThreads, threadsArgument } from './threads.mjs';

const workerUrl = new URL('./worker.mjs', import.meta.url);

export const version = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

/** An error of the core: code is the CLI's exit code, type its name, hint a suggestion or null. */
export class LlmqError extends Error {
  constructor({ code, type, message, hint }) {
    super(message);
    this.name = 'LlmqError';
    this.code = code;
    this.type = type ?? 'general';
    this.hint = hint ?? null;
  }
}

// Compiled once per process and build, shared with every worker (no recompilation per job).
function wasmModule(threads = 1) {
  return compiledModule(threads);
}

// Workers inherit the process's node options; those of a script given on the command line
// (node --input-type=module -e ...) are refused by a Worker and mean nothing to it.
export function workerExecArgv() {
  const args = [];
  for (let i = 0; i < process.execArgv.length; ++i) {
    const a = process.execArgv[i];
    if (['-e', '--eval', '-p', '--print'].includes(a)) ++i;
    else if (!a.startsWith('--input-type') && !a.startsWith('--eval=') && !a.startsWith('--print=')) args.push(a);
  }
  return args;
}

function interrupted() {
  return new LlmqError({ code: 130, type: 'interrupted', message: 'interrupted', hint: null });
}

// Starts a worker and settles with its result; onMessage handles the other messages.
// threads: the job's option (else LLMQ_THREADS, else the machine's cores, at most 8); more than
// one runs the threaded module, whose pool Workers end with the job's worker.
async function inWorker(data, { signal, onMessage, threads }) {
  if (signal?.aborted) throw interrupted();
  const cancel = new SharedArrayBuffer(4);
  const flag = new Int32Array(cancel);
  const n = jobThreads(threads);
  const worker = new Worker(workerUrl, {
    workerData: { ...data, cancel, cwd: process.cwd(), threads: n, wasmModule: await wasmModule(n) },
    execArgv: workerExecArgv(),
  });
  const onAbort = () => Atomics.store(flag, 0, 1);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await new Promise((resolve, reject) => {
      worker.on('message', (m) => {
        if (m.type === 'done' || m.type === 'exit') resolve(m);
        else if (m.type === 'error') reject(new LlmqError(m.error));
        else onMessage?.(m);
      });
      worker.on('error', (e) => reject(new LlmqError({ code: 1, message: `llmq worker failed: ${e.message}` })));
      worker.on('exit', (code) => reject(new LlmqError({ code: 1, message: `llmq worker exited (${code}) without a result` })));
    });
  } finally {
    signal?.removeEventListener('abort', onAbort);
    worker.removeAllListeners('exit');
    await worker.terminate();
  }
}

function jobMessages(options) {
  return (m) => {
    if (m.type === 'progress') options.onProgress?.(m.event);
    else if (m.type === 'log') options.onLog?.(m.text.replace(/\n$/, ''));
  };
}

// tensorTypes as [regex, type] pairs, from pairs, an object or "REGEX=TYPE" strings.
function tensorTypePairs(value) {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) return Object.entries(value);
  return value.map((entry) => {
    if (Array.isArray(entry)) return entry.map(String);
    const text = String(entry);
    const eq = text.lastIndexOf('=');
    return eq > 0 ? [text.slice(0, eq), text.slice(eq + 1)] : [text, ''];
  });
}

// One job in a worker: its progress and log messages go to options' callbacks; resolves with
// the job's JSON result, rejects with an LlmqError.
async function runJob(job, params, options) {
  const m = await inWorker({ mode: 'job', job, params }, { signal: options.signal, onMessage: jobMessages(options), threads: options.threads });
  return m.result;
}

/**
 * Quantizes a GGUF model (a file path; HuggingFace directories once the core reads them).
 * Resolves with the JSON result of `llmq quantize --format json` plus wasm_heap_bytes.
 */
export async function quantize(model, options = {}) {
  const params = {
    model: String(model),
    level: options.level,
    output: options.output,
    imatrix: options.imatrix,
    tensorTypes: tensorTypePairs(options.tensorTypes),
    outputTensorType: options.outputTensorType,
    tokenEmbeddingType: options.tokenEmbeddingType,
    pure: options.pure,
    leaveOutputTensor: options.leaveOutputTensor,
    allowRequantize: options.allowRequantize,
    coherenceCheck: options.coherenceCheck,
    noCoherenceCheck: options.noCoherenceCheck,
    chunkMb: options.chunkMb,
    profile: options.profile,
    targetBpw: options.targetBpw,
    targetSize: options.targetSize,
    measurements: options.measurements,
    calibrationData: options.calibrationData,
    calibrationSamples: options.calibrationSamples,
    probes: options.probes,
    protectSuperWeights: options.protectSuperWeights,
    protectionCoverage: options.protectionCoverage,
    superWeights: options.superWeights,
    qualityReport: options.qualityReport,
    strict: options.strict,
    dryRun: options.dryRun,
    noCache: options.noCache,
  };
  const m = await inWorker({ mode: 'job', job: 'quantize', params }, { signal: options.signal, onMessage: jobMessages(options), threads: options.threads });
  // Beside the CLI's fields: the job's wasm linear memory (its peak; the module runs in its own
  // worker) and the threads it ran with (1: the single-threaded module).
  return { ...m.result, wasm_heap_bytes: m.heapBytes, wasm_threads: m.threads };
}

/** A model's metadata and tensors (the JSON of `llmq inspect --format json`). */
export async function inspect(model, options = {}) {
  return runJob('inspect', { model: String(model) }, options);
}

/**
 * Perplexity of a model on a text (llama-perplexity's procedure), optionally with the KL
 * divergence against kldBase (the original model). Resolves with the JSON result of
 * `llmq perplexity --format json`. text defaults to the bundled WikiText-2 test text. threads (every
 * job takes it): the threads the job uses (1: the single-threaded module).
 */
export async function perplexity(model, options = {}) {
  const params = {
    model: String(model),
    text: options.text,
    ctx: options.ctx,
    chunks: options.chunks,
    kldBase: options.kldBase,
    ropeFreqs: options.ropeFreqs,
    numerics: options.numerics,
  };
  return runJob('perplexity', params, options);
}

/**
 * A continuation of prompt (greedy at temp 0): the JSON result of `llmq generate --format json`.
 */
export async function generate(model, options = {}) {
  const params = {
    model: String(model),
    prompt: options.prompt,
    n: options.n,
    temp: options.temp,
    seed: options.seed,
    ignoreEos: options.ignoreEos,
    ropeFreqs: options.ropeFreqs,
  };
  return runJob('generate', params, options);
}

/**
 * Importance analysis (`llmq analyze`): writes an importance matrix (GGUF imatrix, or the legacy
 * .dat with imatrixFormat 'dat') and resolves with the JSON result of `llmq analyze --format json`
 * (layer importance, global statistics, super weights). Calibration text defaults to the bundled
 * WikiText-2 test text; the cache (LLM_QUANTIZE_IMATRIX_CACHE) is used unless cache is false.
 */
export async function analyze(model, options = {}) {
  const params = {
    model: String(model),
    output: options.output,
    method: options.method,
    calibrationData: options.calibrationData,
    calibrationSamples: options.calibrationSamples,
    ctx: options.ctx,
    imatrixFormat: options.imatrixFormat,
    identifySuperWeights: options.identifySuperWeights,
    coverage: options.coverage,
    checkpointDir: options.checkpointDir,
    resume: options.resume,
    cache: options.cache,
  };
  return runJob('analyze', params, options);
}

/**
 * Runs a command line of CLI.md (without the program name) and resolves with its exit code.
 * stdout/stderr receive the text the CLI would print (default: this process's streams).
 */
export async function run(args, options = {}) {
  const stdout = options.stdout ?? ((t) => process.stdout.write(t));
  const stderr = options.stderr ?? ((t) => process.stderr.write(t));
  const m = await inWorker({ mode: 'cli', args: args.map(String), direct: false }, {
    signal: options.signal,
    threads: threadsArgument(args.map(String)),
    onMessage: (msg) => (msg.type === 'stdout' ? stdout(msg.text) : msg.type === 'stderr' ? stderr(msg.text) : undefined),
  });
  return m.code;
}

let mainThreadModule;
/** Every quantization level: [{name, description, available}]. */
export async function levels() {
  mainThreadModule ??= loadLlmq({ wasmModule: await wasmModule(1) });
  return (await mainThreadModule).levels();
}

// Options shared by qualityReport and qualityCompare, as the wasm API names them.
function qualityParams(original, quantized, options) {
  return {
    original: String(original),
    quantized,
    text: options.text,
    ctx: options.ctx,
    chunks: options.chunks,
    includeLayers: options.includeLayers,
    imatrix: options.imatrix,
    coherence: options.coherence,
    output: options.output,
    numerics: options.numerics,
  };
}

/**
 * `llmq quality report`: perplexity of both models, KL divergence, top-1 agreement, Δp, size and
 * bits per weight; with includeLayers the per-tensor and per-layer weight errors. output: a
 * .json or .html file to write as well. Resolves with the JSON result of the CLI.
 */
export async function qualityReport(original, quantized, options = {}) {
  return runJob('qualityReport', qualityParams(original, String(quantized), options), options);
}

/**
 * `llmq quality compare`: one row per quantized file (sorted by size, Pareto-optimal ones
 * marked); the original's logits are computed once. output: .json, .html or .csv.
 */
export async function qualityCompare(original, quantized, options = {}) {
  if (!Array.isArray(quantized)) throw new TypeError('qualityCompare(original, quantized, options): quantized must be an array of paths');
  return runJob('qualityCompare', qualityParams(original, quantized.map(String), options), options);
}
