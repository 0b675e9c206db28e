// The page: choose or drop a model, see what is in it, optionally analyze it (importance matrix,
// layer importance, super weights), pick a level, quantize in a Worker with progress and Cancel,
// save the result and read the report. The body's data-state attribute (loading, ready,
// inspecting, model, running, analyzed, done, cancelled, error) tells where it stands.
import { droppedModel, folderFromFileList } from './wasm/blob-files.mjs';
import { removeOpfsOutputs } from './wasm/opfs-files.mjs';
import {
  formatBytes, formatCount, formatSeconds, renderChart, renderCoherenceTable, renderFacts, renderLayerBars, renderSuperWeightTable,
  renderTensorTable,
} from './report.mjs';
import { offerSave, outputFile } from './save.mjs';

const $ = (id) => document.getElementById(id);

let worker = null;
let levels = [];
let input = null; // {kind: 'file', name, file} | {kind: 'folder', name, files}
let nextId = 1;
const pending = new Map(); // id → {resolve, onProgress}
let running = null; // {id, cancel: Int32Array | null, timer}
let outputEdited = false;
let imatrix = null; // {name, file}: the importance matrix chosen for the job, or none
let calibration = null; // {name, file}: the Analyze step's text, or none (the bundled WikiText-2)
let analysis = null; // {name, file}: the importance matrix the Analyze step made
// Accepted spellings the module resolves to a level (the CLI's aliases) shown in the picker.
const aliases = { TERNARY: 'TQ1_0' };

function setState(state) {
  document.body.dataset.state = state;
}

function show(id, visible) {
  $(id).hidden = !visible;
}

function showError(error) {
  $('error-title').textContent = error.code === 130 ? 'Cancelled' : 'Something went wrong';
  $('error-message').textContent = error.message;
  $('error-hint').textContent = error.hint ?? '';
  show('error-hint', Boolean(error.hint));
  $('error-code').textContent = error.code === 130 ? '' : `exit code ${error.code} (${error.type})`;
  show('error', true);
}

function startWorker() {
  worker = new Worker(new URL('./worker.mjs', import.meta.url), { type: 'module' });
  worker.onmessage = ({ data }) => {
    if (data.type === 'ready') {
      levels = withAliases(data.levels.filter((l) => l.available));
      $('version').textContent = `llmq ${data.version}`;
      fillLevels();
      if (document.body.dataset.state === 'loading') setState('ready');
    } else if (data.type === 'failed') {
      showError(data.error);
      setState('error');
    } else if (data.type === 'progress') {
      pending.get(data.id)?.onProgress?.(data.event);
    } else if (data.type === 'result') {
      const p = pending.get(data.id);
      pending.delete(data.id);
      p?.resolve(data);
    }
  };
  worker.onerror = (e) => {
    showError({ code: 1, type: 'general', message: `the worker could not start: ${e.message ?? 'unknown error'}`,
      hint: 'use a current Chrome, Edge, Firefox or Safari; module Workers and WebAssembly are needed' });
    setState('error');
  };
}

function request(message, onProgress) {
  const id = nextId++;
  return {
    id,
    done: new Promise((resolve) => {
      pending.set(id, { resolve, onProgress });
      worker.postMessage({ ...message, id });
    }),
  };
}

function withAliases(list) {
  const out = [];
  for (const l of list) {
    out.push(l);
    for (const [alias, target] of Object.entries(aliases)) {
      if (target === l.name) out.push({ ...l, name: alias, description: `same as ${l.name}: ${l.description}` });
    }
  }
  return out;
}

function fillLevels() {
  const select = $('level');
  const previous = select.value || 'Q4_K_M';
  select.replaceChildren(...levels.map((l) => {
    const o = document.createElement('option');
    o.value = l.name;
    o.textContent = l.needsImatrix ? `${l.name} (needs an imatrix)` : l.name;
    return o;
  }));
  select.value = levels.some((l) => l.name === previous) ? previous : levels[0]?.name;
  describeLevel();
}

// The level's description, and whether it can start: levels that need an importance matrix
// say so and wait for one.
function describeLevel() {
  const level = levels.find((l) => l.name === $('level').value);
  $('level-description').textContent = level?.description ?? '';
  if (input && !outputEdited) $('output-name').value = defaultOutputName(input.name, $('level').value);
  $('imatrix-name').textContent = imatrix ? imatrix.name : 'none';
  show('imatrix-clear', Boolean(imatrix));
  const note = $('level-imatrix');
  const blocked = Boolean(level?.needsImatrix && !imatrix);
  if (blocked) {
    note.textContent = `${level.name} needs an importance matrix: choose one with “Importance matrix…” (a llama.cpp `
      + '.imatrix or .dat file, e.g. from `llmq analyze MODEL -o model.imatrix`).';
  } else if (imatrix) {
    note.textContent = `Quantizing with the importance matrix ${imatrix.name}.`;
  }
  note.classList.toggle('ok', !blocked);
  show('level-imatrix', blocked || Boolean(imatrix));
  $('start').disabled = blocked || running !== null;
  $('analyze-start').disabled = running !== null;
  $('calibration-name').textContent = calibration ? calibration.name : 'WikiText-2 test text (bundled)';
  show('calibration-clear', Boolean(calibration));
  const inUse = Boolean(analysis && imatrix?.file === analysis.file);
  $('analysis-use').disabled = inUse;
  $('analysis-use').textContent = inUse ? 'Used for quantizing' : 'Use for quantizing';
}

// As the CLI names it: <model-name>-<LEVEL>.gguf.
function defaultOutputName(name, level) {
  const stem = name.replace(/\/+$/, '').replace(/\.gguf$/i, '');
  return `${stem}-${level.toUpperCase()}.gguf`;
}

async function choose(model) {
  if (!model || running) return;
  input = model;
  outputEdited = false;
  for (const id of ['error', 'model', 'analyze', 'analysis', 'quantize', 'progress', 'result']) show(id, false);
  if (analysis && imatrix === analysis) imatrix = null; // it belongs to the previous model
  analysis = null;
  setState('inspecting');
  const { done } = request({ type: 'inspect', input });
  const r = await done;
  if (!r.ok) {
    showError(r.error);
    setState('error');
    return;
  }
  renderModel(r.result);
  describeLevel();
  show('model', true);
  show('analyze', true);
  show('quantize', true);
  setState('model');
}

function renderModel(m) {
  $('model-name').textContent = input.name;
  const types = Object.entries(m.type_counts).map(([t, n]) => `${t} ×${n}`).join(', ');
  renderFacts($('model-facts'), [
    ['architecture', m.architecture || '–'],
    ['file size', formatBytes(m.file_size)],
    ['parameters', formatCount(m.parameter_count)],
    ['tensors', String(m.tensors.length)],
    ['bits per weight', m.effective_bpw.toFixed(2)],
    ['types', types],
  ]);
  $('model-tensor-count').textContent = String(m.tensors.length);
  renderTensorTable($('model-table').tBodies[0], m.tensors);
}

// Bytes (quantize) show a rate; steps show how many: "3/6 layers".
function renderProgress(e) {
  $('progress-bar').value = e.fraction;
  $('progress-percent').textContent = `${(100 * e.fraction).toFixed(1)}%`;
  $('progress-tensor').textContent = e.item;
  if (e.task === 'coherence check') $('progress-title').textContent = 'Checking coherence…';
  if (e.unit && e.unit !== 'bytes') $('progress-rate').textContent = `${e.done}/${e.total} ${e.unit}`;
  else $('progress-rate').textContent = e.bytesPerSecond ? `${(e.bytesPerSecond / 1e6).toFixed(1)} MB/s` : '';
  $('progress-eta').textContent = e.etaSeconds !== null && e.fraction > 0 && e.fraction < 1 ? `ETA ${formatSeconds(e.etaSeconds)}` : '';
}

// Runs a job of the Worker with the progress card and Cancel; resolves with its result message.
async function runJob(message, title, hide) {
  for (const id of ['error', ...hide]) show(id, false);
  $('progress-title').textContent = title;
  renderProgress({ fraction: 0, item: '', bytesPerSecond: 0, etaSeconds: null });
  show('progress', true);
  $('progress').scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  $('start').disabled = true;
  $('analyze-start').disabled = true;
  $('cancel').disabled = false;
  setState('running');
  // With cross-origin isolation the job can be asked to stop between chunks; otherwise Cancel
  // stops its Worker.
  const cancelBuffer = globalThis.crossOriginIsolated ? new SharedArrayBuffer(4) : null;
  const job = request({ ...message, cancel: cancelBuffer }, renderProgress);
  running = { id: job.id, cancel: cancelBuffer ? new Int32Array(cancelBuffer) : null, timer: null };
  const r = await job.done;
  clearTimeout(running.timer);
  running = null;
  show('progress', false);
  describeLevel();
  if (!r.ok) {
    showError(r.error);
    setState(r.error.code === 130 ? 'cancelled' : 'error');
  }
  return r;
}

async function start() {
  if (!input || running) return;
  const output = $('output-name').value.trim() || defaultOutputName(input.name, $('level').value);
  show('result', false);
  await removeOpfsOutputs();
  const options = { level: $('level').value, output, ...(imatrix ? { imatrix: imatrix.name } : {}) };
  const r = await runJob({ type: 'quantize', input, imatrix, options }, 'Quantizing…', ['result']);
  if (!r.ok) {
    if (r.output?.discard) removeOpfsOutputs();
    return;
  }
  await renderResult(r);
  setState('done');
}

// As the CLI names it: <model-name>.imatrix.
function imatrixName(name) {
  return `${name.replace(/\/+$/, '').replace(/\.gguf$/i, '') || 'model'}.imatrix`;
}

// A whole number from an input, or undefined to leave the core's default (and its checks).
function wholeNumber(id) {
  const text = $(id).value.trim();
  return text === '' ? undefined : Number(text);
}

async function startAnalysis() {
  if (!input || running) return;
  const options = {
    output: imatrixName(input.name),
    calibrationSamples: wholeNumber('analyze-samples'),
    ctx: wholeNumber('analyze-ctx'),
    identifySuperWeights: $('analyze-super-weights').checked,
  };
  const r = await runJob({ type: 'analyze', input, calibration, options }, 'Analyzing…', ['analysis']);
  if (!r.ok) return;
  analysis = { name: r.output.name, file: r.output.blob };
  imatrix = analysis; // what the analysis is for: the quantize step takes it at once
  renderAnalysis(r);
  describeLevel();
  setState('analyzed');
}

function downloadLink(link, blob, name) {
  if (link.href.startsWith('blob:')) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(blob);
  link.download = name;
}

function renderAnalysis(r) {
  const a = r.result;
  $('analysis-name').textContent = r.output.name;
  const g = a.global_statistics;
  const stat = (v) => (v === null ? '–' : v.toPrecision(4));
  renderFacts($('analysis-facts'), [
    ['calibration', a.calibration.source.replace(/^.*\//, '')],
    ['samples × tokens', `${a.calibration_samples} × ${a.ctx}`],
    ['layers', String(a.num_layers)],
    ['importance min / max', `${stat(g.min)} / ${stat(g.max)}`],
    ['importance mean ± std', `${stat(g.mean)} ± ${stat(g.std)}`],
    ['time', formatSeconds(a.duration_seconds)],
    ['speed', `${Math.round(a.tokens_per_second)} tokens/s`],
    ['memory used', formatBytes(a.peak_memory_bytes)],
  ]);
  renderLayerBars($('importance-chart'), a.layer_importance.map((l) => l.block_influence), { label: 'block influence', digits: 3 });
  renderLayerBars($('sensitivity-chart'), a.layer_importance.map((l) => l.sensitivity), { label: 'sensitivity', digits: 4, cls: 'second' });
  const sw = a.super_weights;
  show('super-weights', Boolean(sw));
  if (sw) {
    $('super-weights-summary').textContent = sw.identified
      ? `${sw.locations.length} super weight${sw.locations.length === 1 ? '' : 's'} identified; ${sw.total_protected} weights protected `
        + `(coverage ${sw.coverage}). The mask is for quantize --protect-super-weights.`
      : `None identified: no activation spike stood out in the down-projections. ${sw.total_protected} weights protected by coverage (${sw.coverage}).`;
    renderSuperWeightTable($('super-weights-table').tBodies[0], sw.locations);
    show('super-weights-wrap', sw.locations.length > 0);
  }
  downloadLink($('analysis-download'), r.output.blob, r.output.name);
  show('analysis-mask', Boolean(r.mask));
  if (r.mask) downloadLink($('analysis-mask'), r.mask.blob, r.mask.name);
  $('analysis-status').textContent = `The quantize step below uses ${r.output.name}; download it to reuse it with llmq or llama.cpp.`;
  show('analysis', true);
  $('analysis').scrollIntoView({ block: 'start', behavior: 'smooth' });
}

// The quantize report's coherence check (IQ1_*, TQ* and --coherence-check): score, threshold,
// verdict and the prompts that fared worst, with what the quantized model wrote.
function renderCoherence(c) {
  show('coherence', Boolean(c));
  if (!c) return;
  const passing = c.prompts.filter((p) => p.score >= c.threshold).length;
  const verdict = $('coherence-verdict');
  verdict.textContent = c.passed
    ? `Passed: the quantized model still writes coherent text (score ${c.score.toFixed(3)} ≥ ${c.threshold}).`
    : `Below the threshold: the quantized model may write incoherent text (score ${c.score.toFixed(3)} < ${c.threshold}). `
      + 'Try a level with more bits (IQ1_M, Q2_K) or a dynamic profile.';
  verdict.classList.toggle('failed', !c.passed);
  renderFacts($('coherence-facts'), [
    ['score', c.score.toFixed(3)],
    ['threshold', String(c.threshold)],
    ['passed', c.passed ? 'yes' : 'no'],
    ['prompts passing', `${passing} of ${c.prompts.length}`],
    ['time', formatSeconds(c.duration_seconds)],
  ]);
  renderCoherenceTable($('coherence-table').tBodies[0], c.prompts);
}

// What the job warned about (a ternary level on a model not trained ternary, ...), as the CLI
// prints them: one item each.
function renderWarnings(list, warnings) {
  list.replaceChildren(...warnings.map((w) => {
    const li = document.createElement('li');
    li.textContent = w;
    return li;
  }));
  list.hidden = warnings.length === 0;
}

async function renderResult(r) {
  const q = r.result;
  $('result-name').textContent = r.output.name;
  renderFacts($('result-facts'), [
    ['level', q.level],
    ['size', `${formatBytes(q.input_size)} → ${formatBytes(q.file_size)}`],
    ['smaller by', `${q.compression_ratio.toFixed(2)}×`],
    ['bits per weight', q.effective_bpw.toFixed(3)],
    ['time', formatSeconds(q.duration_seconds)],
    ['memory used', formatBytes(q.peak_memory_bytes)],
  ]);
  renderWarnings($('result-warnings'), q.warnings ?? []);
  renderCoherence(q.coherence ?? null);
  renderChart($('chart'), q.layer_summary);
  $('result-tensor-count').textContent = String(q.tensors.length);
  renderTensorTable($('result-table').tBodies[0], q.tensors, { reasons: true });
  show('result', true);
  $('result').scrollIntoView({ block: 'start', behavior: 'smooth' });
  const file = await outputFile(r.output);
  offerSave(file, r.output.name, { saveButton: $('save'), downloadLink: $('download'), status: $('save-status') });
}

function cancel() {
  if (!running) return;
  $('cancel').disabled = true;
  const stopWorker = () => {
    if (!running) return;
    const { id } = running;
    worker.terminate();
    startWorker();
    const p = pending.get(id);
    pending.delete(id);
    p?.resolve({ ok: false, error: { code: 130, type: 'interrupted', message: 'interrupted', hint: null }, output: { discard: true } });
  };
  if (running.cancel) {
    Atomics.store(running.cancel, 0, 1);
    // The job stops at its next chunk; if that takes too long, stop the Worker.
    running.timer = setTimeout(stopWorker, 3000);
  } else {
    stopWorker();
  }
}

function wireInputs() {
  $('file-input').addEventListener('change', (e) => {
    const file = e.target.files[0];
    if (file) choose({ kind: 'file', name: file.name, file });
    e.target.value = '';
  });
  $('folder-input').addEventListener('change', (e) => {
    if (e.target.files.length) choose({ kind: 'folder', ...folderFromFileList(e.target.files) });
    e.target.value = '';
  });
  const zone = $('dropzone');
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    droppedModel(e.dataTransfer).then(choose);
  });
  // A drop beside the zone must not navigate away from the page.
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => e.preventDefault());
  $('level').addEventListener('change', describeLevel);
  $('imatrix-input').addEventListener('change', (e) => {
    const file = e.target.files[0];
    if (file) imatrix = { name: file.name, file };
    e.target.value = '';
    describeLevel();
  });
  $('imatrix-clear').addEventListener('click', () => {
    imatrix = null;
    describeLevel();
  });
  $('output-name').addEventListener('input', () => {
    outputEdited = true;
  });
  $('start').addEventListener('click', start);
  $('analyze-start').addEventListener('click', startAnalysis);
  $('calibration-input').addEventListener('change', (e) => {
    const file = e.target.files[0];
    if (file) calibration = { name: file.name, file };
    e.target.value = '';
    describeLevel();
  });
  $('calibration-clear').addEventListener('click', () => {
    calibration = null;
    describeLevel();
  });
  $('analysis-use').addEventListener('click', () => {
    if (analysis) imatrix = analysis;
    describeLevel();
  });
  $('cancel').addEventListener('click', cancel);
}

wireInputs();
startWorker();
removeOpfsOutputs();
