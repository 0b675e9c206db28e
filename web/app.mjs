// The page: choose or drop a model, see what is in it, pick a level, quantize in a Worker with
// progress and Cancel, save the result and read the report. The body's data-state attribute
// (loading, ready, inspecting, model, running, done, cancelled, error) tells where it stands.
import { droppedModel, folderFromFileList } from './wasm/blob-files.mjs';
import { removeOpfsOutputs } from './wasm/opfs-files.mjs';
import { formatBytes, formatCount, formatSeconds, renderChart, renderFacts, renderTensorTable } from './report.mjs';
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
  for (const id of ['error', 'model', 'quantize', 'progress', 'result']) show(id, false);
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

function renderProgress(e) {
  $('progress-bar').value = e.fraction;
  $('progress-percent').textContent = `${(100 * e.fraction).toFixed(1)}%`;
  $('progress-tensor').textContent = e.item;
  $('progress-rate').textContent = e.bytesPerSecond ? `${(e.bytesPerSecond / 1e6).toFixed(1)} MB/s` : '';
  $('progress-eta').textContent = e.etaSeconds !== null && e.fraction > 0 && e.fraction < 1 ? `ETA ${formatSeconds(e.etaSeconds)}` : '';
}

async function start() {
  if (!input || running) return;
  const output = $('output-name').value.trim() || defaultOutputName(input.name, $('level').value);
  for (const id of ['error', 'result']) show(id, false);
  renderProgress({ fraction: 0, item: '', bytesPerSecond: 0, etaSeconds: null });
  show('progress', true);
  $('progress').scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  $('start').disabled = true;
  $('cancel').disabled = false;
  setState('running');
  await removeOpfsOutputs();
  // With cross-origin isolation the job can be asked to stop between chunks; otherwise Cancel
  // stops its Worker.
  const cancelBuffer = globalThis.crossOriginIsolated ? new SharedArrayBuffer(4) : null;
  const options = { level: $('level').value, output, ...(imatrix ? { imatrix: imatrix.name } : {}) };
  const job = request({ type: 'quantize', input, imatrix, options, cancel: cancelBuffer }, renderProgress);
  running = { id: job.id, cancel: cancelBuffer ? new Int32Array(cancelBuffer) : null, timer: null };
  const r = await job.done;
  clearTimeout(running.timer);
  running = null;
  show('progress', false);
  describeLevel();
  if (!r.ok) {
    showError(r.error);
    setState(r.error.code === 130 ? 'cancelled' : 'error');
    if (r.output?.discard) removeOpfsOutputs();
    return;
  }
  await renderResult(r);
  setState('done');
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
  $('cancel').addEventListener('click', cancel);
}

wireInputs();
startWorker();
removeOpfsOutputs();
