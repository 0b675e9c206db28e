// The page's Worker: runs the wasm module's jobs, whose calls are synchronous, away from the UI.
// Input comes as File objects (a GGUF file, or the files of a HuggingFace folder) read range by
// range with FileReaderSync; the output goes to an OPFS file through a sync access handle (or
// to Blobs where OPFS is missing). Messages:
//   in   {type: 'inspect', id, input}    {type: 'profiles', id}
//        {type: 'quantize', id, input, imatrix?, files?, calibration?, options, cancel?}
//        {type: 'analyze', id, input, calibration?, options, cancel?}
//        {type: 'quality', id, input, quantized: [{name, file}], calibration?, options, cancel?}
//        input: {kind: 'file', name, file} | {kind: 'folder', name, files: Map<path, File>}
//        imatrix: {name, file}, opened when options.imatrix names it
//        files: [{name, file}], other inputs by name (options.measurements, options.superWeights)
//        calibration: {name, file}; without it the page's data/wikitext-2-test.raw
//   out  {type: 'ready', version, levels, threads, isolated} | {type: 'failed', error}
//        {type: 'progress', id, event}   {type: 'log', id, text}
//        {type: 'result', id, ok, result | error, output?: {name, entry} | {name, blob},
//         files?: [{name, blob}] (what quantize wrote beside the model: a measurement and its
//         importance matrix), mask?: {name, blob} (analyze with identifySuperWeights),
//         html?, document? (quality: the report as an HTML fragment and as a whole file)}
// Threads: where the page is cross-origin isolated (served with COOP/COEP), the threaded module
// runs each job on this Worker and a pool of Workers beside it (navigator.hardwareConcurrency,
// at most 8, or the page's ?threads=N, which this Worker's URL carries); elsewhere the
// single-threaded module (docs/wasm-threads.md). The bytes written are the same either way.
import { loadLlmq, llmqError, ExitCode, threadsSupported } from './wasm/llmq-core.mjs';
import { blobFileSet, blobSource } from './wasm/blob-files.mjs';
import { memoryOutput, openOpfsOutput, opfsAvailable } from './wasm/opfs-files.mjs';

let llmq = null;

function wantedThreads() {
  const asked = Number(new URL(self.location.href).searchParams.get('threads'));
  if (Number.isInteger(asked) && asked >= 1) return Math.min(asked, 64);
  return Math.max(1, Math.min(navigator.hardwareConcurrency || 1, 8));
}

async function module() {
  if (!llmq || llmq.broken) {
    llmq?.dispose();
    llmq = await loadLlmq({ threads: threadsSupported() ? wantedThreads() : 1 });
  }
  return llmq;
}

// Progress as at most ten messages a second, plus one per new item (tensor, layer). unit: 'bytes'
// or the plural name of the steps counted ('layers', 'prompt passes').
function progressReporter(id) {
  let task = '';
  let unit = 'bytes';
  let total = 0;
  let start = 0;
  let last = 0;
  let lastItem = '';
  const send = (done, item) => {
    const elapsedSeconds = (performance.now() - start) / 1000;
    const fraction = total ? Math.min(1, done / total) : 1;
    postMessage({
      type: 'progress',
      id,
      event: {
        task, unit, done, total, fraction, item, elapsedSeconds,
        bytesPerSecond: unit === 'bytes' && elapsedSeconds > 0 ? done / elapsedSeconds : 0,
        etaSeconds: fraction > 0 ? (elapsedSeconds * (1 - fraction)) / fraction : null,
      },
    });
  };
  return {
    begin(t, n, u = 'bytes') {
      task = t;
      unit = u;
      total = n;
      start = performance.now();
      send(0, '');
    },
    update(done, item) {
      const now = performance.now();
      if (item === lastItem && now - last < 100) return;
      last = now;
      lastItem = item;
      send(done, item);
    },
    end: () => send(total, ''),
  };
}

// The host the core sees: the chosen model under its own name, the other files the job may read
// (importance matrix, measurement, super-weight mask, calibration text) by name, and the prepared
// output. No environment (env absent) and no directories to make: the main output is prepared
// in OPFS (or memory) before the job starts; any other file the job writes (a measurement, an
// importance matrix, a mask) is small and collected in memory in `outputs`.
function pageHost(id, input, output, cancelFlag, { files = new Map(), outputs = null, models = new Map() } = {}) {
  const notFound = (path) => llmqError(ExitCode.modelNotFound, `${path}: no such file or directory`,
    'give the path of a .gguf file or of a HuggingFace model directory');
  const written = (path) => (outputs?.get(path)?.finished ? outputs.get(path) : null);
  return {
    openFiles(path) {
      if (path === input.name) return blobFileSet(input.name, input.kind === 'folder' ? input.files : input.file);
      if (models.has(path)) return blobFileSet(path, models.get(path));
      // The finished output as a model: the coherence check generates with it.
      if (output && path === output.name && output.finished) {
        return { name: path, isDirectory: false, list: () => [path.slice(path.lastIndexOf('/') + 1)], exists: () => true, open: () => output.source() };
      }
      return notFound(path);
    },
    openFile(path) {
      if (output && path === output.name && output.finished) return output.source();
      if (input.kind === 'file' && path === input.name) return blobSource(input.file, input.name);
      if (files.has(path)) return blobSource(files.get(path), path);
      if (written(path)) return written(path).source();
      return llmqError(ExitCode.modelNotFound, `${path}: no such file`, 'check the path');
    },
    createFile(path) {
      if (output && path === output.name) return output.sink();
      if (outputs) {
        const o = memoryOutput(path);
        outputs.set(path, o);
        return o.sink();
      }
      return llmqError(ExitCode.outputIo, `${path}.part: cannot create: the page writes only its prepared output`);
    },
    exists: (path) => path === input.name || files.has(path) || models.has(path) || written(path) !== null
      || (output !== null && path === output.name && output.finished),
    removeFile: (path) => {
      if (output && path === output.name) output.discard();
      outputs?.delete(path);
    },
    makeDirectories: () => undefined,
    bundledFile: (name) => (name === 'wikitext-2-test.raw' && files.has(BUNDLED_TEXT) ? BUNDLED_TEXT : ''),
    stderr: (text) => postMessage({ type: 'log', id, text }),
    now: () => performance.now() / 1000,
    progress: progressReporter(id),
    cancelled: () => (cancelFlag ? Atomics.load(cancelFlag, 0) !== 0 : false),
  };
}

async function inspect({ id, input }) {
  const r = (await module()).inspect(input.name, pageHost(id, input, null, null));
  postMessage({ type: 'result', id, ...r });
}

// The default calibration text, fetched from the page's data/ once; null when the page has none.
const BUNDLED_TEXT = 'data/wikitext-2-test.raw';
let bundledText;
async function bundledCalibration() {
  if (bundledText === undefined) {
    try {
      const response = await fetch(new URL(`./${BUNDLED_TEXT}`, import.meta.url));
      bundledText = response.ok ? await response.blob() : null;
    } catch {
      bundledText = null;
    }
  }
  return bundledText;
}

// The files a job may read beside the model: those the page sent ({name, file} each) and,
// unless the page sent its own calibration text, the bundled one.
async function readableFiles(list, calibration) {
  const files = new Map(list.filter(Boolean).map((f) => [f.name, f.file]));
  if (!calibration) {
    const bundled = await bundledCalibration();
    if (bundled) files.set(BUNDLED_TEXT, bundled);
  }
  return files;
}

// The files a job wrote beside its main output, as {name, blob}.
const collected = (outputs) => [...outputs.values()].filter((o) => o.finished).map((o) => ({ name: o.name, blob: o.blob() }));

// The quantize job. files: [{name, file}] it may read (importance matrix, measurement and its
// importance matrix, super-weight mask, calibration text). A dry run writes no model: only its
// plan, and the measurement (options.measurements) when it had to make one.
async function quantize({ id, input, imatrix, files: extra = [], calibration, options, cancel }) {
  const llmqModule = await module();
  const output = options.dryRun ? null : (await opfsAvailable()) ? await openOpfsOutput(options.output) : memoryOutput(options.output);
  const cancelFlag = cancel ? new Int32Array(cancel) : null;
  const files = await readableFiles([imatrix, calibration, ...extra], calibration);
  const outputs = new Map();
  const r = llmqModule.quantize({ ...options, model: input.name, ...(calibration ? { calibrationData: calibration.name } : {}) },
    pageHost(id, input, output, cancelFlag, { files, outputs }));
  const heapBytes = llmqModule.heapBytes();
  if (!output) {
    postMessage({ type: 'result', id, ...r, files: r.ok ? collected(outputs) : [], heapBytes });
    return;
  }
  const finished = r.ok && output.finished;
  output.close();
  if (!finished) {
    postMessage({ type: 'result', id, ...r, output: output.entry ? { name: output.name, entry: output.entry, discard: true } : null });
    return;
  }
  const saved = output.entry ? { name: output.name, entry: output.entry } : { name: output.name, blob: output.blob() };
  postMessage({ type: 'result', id, ...r, output: saved, files: collected(outputs), heapBytes });
}

// The quality step: the chosen model against one quantized file (a report, with the per-layer
// errors) or several (a comparison), on the calibration text (the bundled one without). The
// result comes with its HTML rendering (the core's report renderer).
async function quality({ id, input, quantized, calibration, options, cancel }) {
  const llmqModule = await module();
  const files = await readableFiles([calibration], calibration);
  const models = new Map(quantized.map((q) => [q.name, q.file]));
  const host = pageHost(id, input, null, cancel ? new Int32Array(cancel) : null, { files, models });
  const params = { ...options, original: input.name, quantized: quantized.map((q) => q.name), ...(calibration ? { text: calibration.name } : {}) };
  const r = quantized.length === 1
    ? llmqModule.qualityReport({ ...params, quantized: quantized[0].name, includeLayers: true }, host)
    : llmqModule.qualityCompare(params, host);
  const html = r.ok ? llmqModule.renderQuality(r.result) : '';
  const document = r.ok ? llmqModule.renderQuality(r.result, { document: true }) : '';
  postMessage({ type: 'result', id, ...r, html, document, heapBytes: llmqModule.heapBytes() });
}

// The dynamic-quantization profiles the module knows.
async function profiles({ id }) {
  const r = (await module()).profiles();
  postMessage({ type: 'result', id, ...r });
}

// The analyze job: reads the model and the calibration text; its outputs (the importance matrix
// and, with super weights, the mask) are small and kept in memory.
async function analyze({ id, input, calibration, options, cancel }) {
  const llmqModule = await module();
  const files = await readableFiles([calibration], calibration);
  const outputs = new Map();
  const host = pageHost(id, input, null, cancel ? new Int32Array(cancel) : null, { files, outputs });
  const r = llmqModule.analyze({ ...options, model: input.name, ...(calibration ? { calibrationData: calibration.name } : {}) }, host);
  if (!r.ok) {
    postMessage({ type: 'result', id, ...r });
    return;
  }
  const file = (name) => (outputs.get(name)?.finished ? { name, blob: outputs.get(name).blob() } : null);
  const mask = r.result.super_weights ? file(r.result.super_weights.mask_path) : null;
  postMessage({ type: 'result', id, ...r, output: file(r.result.output_path), mask, heapBytes: llmqModule.heapBytes() });
}

onmessage = async ({ data }) => {
  try {
    if (data.type === 'inspect') await inspect(data);
    else if (data.type === 'quantize') await quantize(data);
    else if (data.type === 'analyze') await analyze(data);
    else if (data.type === 'profiles') await profiles(data);
    else if (data.type === 'quality') await quality(data);
  } catch (e) {
    // Only a failure outside the module gets here (OPFS refused, module failed to load).
    const error = e?.name === 'QuotaExceededError'
      ? llmqError(ExitCode.outputIo, `${data.options?.output}: cannot create: the browser's storage quota is full`, 'free some disk space or site storage')
      : llmqError(ExitCode.general, `the page's worker failed: ${e?.message ?? e}`, 'reload the page and try again');
    postMessage({ type: 'result', id: data.id, ok: false, error });
  }
};

module().then(
  (m) => postMessage({ type: 'ready', version: m.version, levels: m.levels(), threads: m.threads, isolated: globalThis.crossOriginIsolated === true }),
  (e) => postMessage({ type: 'failed', error: llmqError(ExitCode.general, `the WebAssembly module could not be loaded: ${e?.message ?? e}`,
    'use a current Chrome, Edge, Firefox or Safari (WebAssembly SIMD and exception handling are needed)') }),
);
