// The page: choose or drop a model, see what is in it, optionally analyze it (importance matrix,
// layer importance, super weights), pick a level or a dynamic profile and target, see the plan
// (exact size, per-layer mix) before writing, quantize in a Worker with progress and Cancel,
// save the result and read the report. The body's data-state attribute (loading, ready,
// inspecting, model, running, analyzed, done, quality, cancelled, error) tells where it stands, and its
// data-plan attribute (none, planning, ready, failed) where the plan does.
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
let mask = null; // {name, file}: the super-weight mask the Analyze step made, or none
let profiles = []; // the dynamic profiles the module knows: [{name, description, default_target}]
// The dynamic measurement of the current model: {key, name, files: [{name, file}]}, where key
// names what it depends on (profile, importance matrix, protection). Re-planning for another
// target reuses it: a re-solve, not a run of the model.
let measurement = null;
let plan = null; // the last plan (a dry run's result) for the current choices, or null
let planSerial = 0; // each plan request's number: only the latest one's answer is shown
let planTimer = null;
let qualityFiles = []; // [{name, file}]: the quantized files the Quality step compares with the model
let lastOutput = null; // {name, file}: the file the last quantization wrote
let measureAsked = false; // the Measure button was pressed for the current choices
const DYNAMIC = 'dynamic';
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
  // ?threads=N of the page's address (1: the single-threaded module) reaches the Worker.
  const threads = new URLSearchParams(location.search).get('threads');
  const workerUrl = new URL('./worker.mjs', import.meta.url);
  if (threads) workerUrl.searchParams.set('threads', threads);
  worker = new Worker(workerUrl, { type: 'module' });
  worker.onmessage = ({ data }) => {
    if (data.type === 'ready') {
      levels = [
        { name: DYNAMIC, description: 'A measured mix of types for the size you choose: each tensor gets the type that costs the '
          + 'least estimated loss per byte, under the profile\'s rules.', available: true, needsImatrix: false },
        ...withAliases(data.levels.filter((l) => l.available)),
      ];
      $('version').textContent = `llmq ${data.version} · ${data.threads === 1 ? '1 thread' : `${data.threads} threads`}`;
      document.body.dataset.threads = String(data.threads);
      fillLevels();
      loadProfiles();
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
    o.textContent = l.name === DYNAMIC ? 'dynamic (measured mix for a size you choose)' : l.needsImatrix ? `${l.name} (needs an imatrix)` : l.name;
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
  const dynamic = level?.name === DYNAMIC;
  show('dynamic-controls', dynamic);
  $('measure').disabled = running !== null;
  const profile = profiles.find((p) => p.name === $('profile').value);
  $('profile-description').textContent = profile ? profile.description : '';
  // Dynamic quantization writes the plan it showed: it waits for one.
  $('start').disabled = blocked || running !== null || (dynamic && !plan);
  $('analyze-start').disabled = running !== null;
  $('quality-start').disabled = qualityFiles.length === 0 || running !== null;
  $('calibration-name').textContent = calibration ? calibration.name : 'WikiText-2 test text (bundled)';
  show('calibration-clear', Boolean(calibration));
  const inUse = Boolean(analysis && imatrix?.file === analysis.file);
  $('analysis-use').disabled = inUse;
  $('analysis-use').textContent = inUse ? 'Used for quantizing' : 'Use for quantizing';
}

// As the CLI names it: <model-name>-<LEVEL>.gguf, <model-name>-dynamic-<profile>.gguf.
function defaultOutputName(name, level) {
  const stem = name.replace(/\/+$/, '').replace(/\.gguf$/i, '');
  if (level === DYNAMIC) return `${stem}-dynamic-${$('profile').value || 'balanced'}.gguf`;
  return `${stem}-${level.toUpperCase()}.gguf`;
}

async function choose(model) {
  if (!model || running) return;
  input = model;
  outputEdited = false;
  for (const id of ['error', 'model', 'analyze', 'analysis', 'quantize', 'progress', 'result', 'quality']) show(id, false);
  qualityFiles = [];
  lastOutput = null;
  renderQualityFiles();
  $('quality-report').replaceChildren();
  show('quality-download', false);
  if (analysis && imatrix === analysis) imatrix = null; // it belongs to the previous model
  analysis = null;
  mask = null;
  measurement = null;
  plan = null;
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
  show('quality', true);
  setState('model');
  schedulePlan();
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
  const options = { ...jobOptions(), output };
  const r = await runJob({ type: 'quantize', input, imatrix, files: jobFiles(), calibration: jobCalibration(), options }, 'Quantizing…', ['result']);
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
  mask = r.mask ? { name: r.mask.name, file: r.mask.blob } : null;
  renderAnalysis(r);
  describeLevel();
  schedulePlan();
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
  renderChart($('chart'), q.layer_summary, q.tensors);
  $('result-tensor-count').textContent = String(q.tensors.length);
  renderTensorTable($('result-table').tBodies[0], q.tensors, { reasons: true });
  show('result', true);
  $('result').scrollIntoView({ block: 'start', behavior: 'smooth' });
  const file = await outputFile(r.output);
  offerSave(file, r.output.name, { saveButton: $('save'), downloadLink: $('download'), status: $('save-status') });
  lastOutput = { name: r.output.name, file };
  renderQualityFiles();
}

// The job options of the current choices (level, importance matrix, protection; for dynamic
// quantization the profile, the target and the measurement).
function jobOptions() {
  const level = $('level').value;
  const options = { level, ...(imatrix ? { imatrix: imatrix.name } : {}) };
  if ($('protect').checked) {
    options.protectSuperWeights = true;
    if (mask) options.superWeights = mask.name;
  }
  if (level === DYNAMIC) {
    options.profile = $('profile').value;
    options.measurements = measurementName();
    options.calibrationSamples = wholeNumber('dynamic-samples');
    const slider = $('target');
    if (!slider.disabled) {
      if ($('target-kind').value === 'bpw') options.targetBpw = Number(slider.value);
      else options.targetSize = Number(slider.value);
    }
  }
  return options;
}

// The files beside the model the job may read: the super-weight mask, the measurement (and the
// importance matrix it was made with).
function jobFiles() {
  const files = [];
  if ($('protect').checked && mask) files.push(mask);
  if ($('level').value === DYNAMIC && measurement?.key === measurementKey()) files.push(...measurement.files);
  return files;
}

// The Analyze step's text also feeds dynamic quantization's measurement (without it, the bundled
// WikiText-2); presets read no text.
function jobCalibration() {
  return $('level').value === DYNAMIC ? calibration : null;
}

// What a measurement depends on: the profile's candidates, the importance matrix, protection
// (it rules out types that lose a super weight).
function measurementKey() {
  return JSON.stringify([$('profile').value, imatrix?.name ?? null, imatrix?.file?.size ?? null, $('protect').checked, mask?.name ?? null,
    calibration?.name ?? null, $('dynamic-samples').value]);
}

function measurementName() {
  const stem = (input?.name ?? 'model').replace(/\/+$/, '').replace(/\.gguf$/i, '').replace(/^.*\//, '');
  return `${stem}.${$('profile').value}.costs.json`;
}

async function loadProfiles() {
  const r = await request({ type: 'profiles' }).done;
  if (!r.ok) return;
  profiles = r.result.profiles.filter((p) => !p.error);
  const select = $('profile');
  select.replaceChildren(...profiles.map((p) => {
    const o = document.createElement('option');
    o.value = p.name;
    o.textContent = p.name;
    return o;
  }));
  select.value = profiles.some((p) => p.name === 'balanced') ? 'balanced' : profiles[0]?.name;
  describeLevel();
}

// The slider's range: what the profile can reach on this model (from the plan's measurement).
// keep: keep the current value when it still fits (else the plan's own size or bpw).
function setTargetRange(reachable, reset = false) {
  const slider = $('target');
  if (!reachable) {
    slider.disabled = true;
    showTargetValue();
    return;
  }
  const bpw = $('target-kind').value === 'bpw';
  const [min, max, step] = bpw
    ? [Math.ceil(reachable.min_bpw * 100) / 100, Math.floor(reachable.max_bpw * 100) / 100, 0.01]
    : [reachable.min_size, reachable.max_size, 1];
  const wasDisabled = slider.disabled;
  const previous = Number(slider.value);
  slider.min = String(min);
  slider.max = String(max);
  slider.step = String(step);
  const current = bpw ? Math.round(plan.effective_bpw * 100) / 100 : plan.predicted_size;
  const value = !reset && !wasDisabled && previous >= min && previous <= max ? previous : Math.min(max, Math.max(min, current));
  slider.value = String(value);
  slider.disabled = false;
  showTargetValue();
}

function showTargetValue() {
  const slider = $('target');
  if (slider.disabled) {
    $('target-value').textContent = '';
    return;
  }
  const v = Number(slider.value);
  $('target-value').textContent = $('target-kind').value === 'bpw' ? `${v.toFixed(2)} bpw` : formatBytes(v);
}

// The state to return to after a planning job: where the page was, unless that was a job or its
// failure.
function restState(before) {
  return ['running', 'error', 'cancelled', 'inspecting'].includes(before) ? 'model' : before;
}

function setPlanState(state, status = '') {
  document.body.dataset.plan = state;
  $('plan-status').textContent = status;
}

// Re-plans after the choices settle (delay ms): a dry run of the job the Quantize button would
// start. For dynamic quantization the first plan of a profile measures (the progress card and
// Cancel show); later ones re-solve that measurement for the slider's target in well under a second.
function schedulePlan(delay = 0) {
  clearTimeout(planTimer);
  plan = null;
  describeLevel();
  if (!input) return;
  planTimer = setTimeout(makePlan, delay);
}

async function makePlan() {
  if (running) {
    // The Worker runs one job at a time: plan again once the running job is done.
    planTimer = setTimeout(makePlan, 200);
    return;
  }
  const serial = ++planSerial;
  const level = $('level').value;
  const dynamic = level === DYNAMIC;
  const entry = levels.find((l) => l.name === level);
  if (entry?.needsImatrix && !imatrix) {
    show('plan', false);
    setPlanState('none');
    return;
  }
  if ($('protect').checked && !mask) {
    // The super weights are found once (as `llmq analyze --identify-super-weights` does) and
    // their mask serves every plan and the quantization after it.
    const before = document.body.dataset.state;
    const found = await runJob({
      type: 'analyze', input, calibration,
      options: { output: imatrixName(input.name), identifySuperWeights: true, calibrationSamples: 128, ctx: 256 },
    }, 'Finding super weights…', []);
    if (serial !== planSerial) return;
    if (!found.ok || !found.mask) {
      setPlanState('failed', found.ok ? 'No plan: the super-weight search gave no mask' : `No plan: ${found.error.message}`);
      return;
    }
    mask = { name: found.mask.name, file: found.mask.blob };
    setState(restState(before));
  }
  const key = measurementKey();
  const measuring = dynamic && measurement?.key !== key;
  show('measure-row', measuring);
  if (measuring) {
    $('target').disabled = true;
    showTargetValue();
    if (!measureAsked) {
      // Measuring runs the model over the samples: it starts when asked, once the choices are made.
      show('plan', false);
      setPlanState('unmeasured');
      return;
    }
    measureAsked = false;
  }
  const options = { ...jobOptions(), output: $('output-name').value.trim() || defaultOutputName(input.name, level), dryRun: true };
  const message = { type: 'quantize', input, imatrix, files: jobFiles(), calibration: jobCalibration(), options };
  show('plan', true);
  setPlanState('planning', measuring ? 'Measuring each tensor at each candidate type…' : 'Planning…');
  // Measuring runs the model: shown as a job with progress and Cancel.
  const before = document.body.dataset.state;
  const r = measuring ? await runJob(message, 'Measuring…', []) : await request(message).done;
  if (serial !== planSerial) return;
  if (!r.ok) {
    setPlanState('failed', `No plan: ${r.error.message}${r.error.hint ? ` (${r.error.hint})` : ''}`);
    if (r.error.code !== 130) {
      $('plan-facts').replaceChildren();
      $('plan-chart').replaceChildren();
    }
    return;
  }
  if (measuring) setState(restState(before));
  if (measuring) {
    const written = (r.files ?? []).map((f) => ({ name: f.name, file: f.blob }));
    measurement = { key, name: options.measurements, files: written };
  }
  plan = r.result;
  if (dynamic) setTargetRange(plan.dynamic.reachable, measuring);
  renderPlan(plan);
  describeLevel();
  const measured = dynamic && plan.dynamic.measurement.source === 'measured';
  setPlanState('ready', !dynamic ? 'Quantize writes exactly this.'
    : measured ? `Measured in ${formatSeconds(plan.duration_seconds)}; move the slider to re-plan. Quantize writes exactly this.`
      : `Re-planned from the measurement in ${formatSeconds(plan.duration_seconds)}; Quantize writes exactly this.`);
}

function renderPlan(p) {
  $('plan').dataset.predictedSize = String(p.predicted_size);
  const facts = [
    ['predicted size', `${formatBytes(p.predicted_size)} (${p.predicted_size.toLocaleString('en-US')} bytes)`],
    ['bits per weight', p.effective_bpw.toFixed(3)],
    ['smaller by', `${p.compression_ratio.toFixed(2)}×`],
  ];
  if (p.dynamic) {
    const q = p.dynamic.reachable;
    facts.push(['estimated KL divergence', p.dynamic.estimated_kld.toPrecision(3)]);
    facts.push(['reachable', `${formatBytes(q.min_size)} – ${formatBytes(q.max_size)}`]);
  }
  const mix = new Map();
  for (const t of p.tensors) mix.set(t.type, (mix.get(t.type) ?? 0) + t.bytes);
  facts.push(['types', [...mix].sort((a, b) => b[1] - a[1]).map(([t, b]) => `${t} ${((100 * b) / p.predicted_size).toFixed(0)}%`).join(', ')]);
  if (p.fallback_tensors > 0) facts.push(['fallbacks', `${p.fallback_tensors} tensor(s) take a wider type: their rows do not fit the level's blocks`]);
  renderFacts($('plan-facts'), facts);
  renderChart($('plan-chart'), p.layer_summary, p.tensors);
}

// The Quality step's list of files, with a way to take one out again.
function renderQualityFiles() {
  $('quality-files').replaceChildren(...qualityFiles.map((f, i) => {
    const li = document.createElement('li');
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'button small-button';
    remove.textContent = 'Remove';
    remove.addEventListener('click', () => {
      qualityFiles.splice(i, 1);
      renderQualityFiles();
    });
    li.append(document.createTextNode(`${f.name} (${formatBytes(f.file.size)})`), remove);
    return li;
  }));
  show('quality-use-result', Boolean(lastOutput) && !qualityFiles.some((f) => f.file === lastOutput.file));
  $('quality-start').disabled = qualityFiles.length === 0 || running !== null;
}

function addQualityFile(f) {
  // Names are how the core tells the files apart: a second file of the same name gets a suffix.
  let name = f.name;
  for (let k = 2; name === input?.name || qualityFiles.some((q) => q.name === name); ++k) name = f.name.replace(/(\.gguf)?$/i, ` (${k})$1`);
  qualityFiles.push({ name, file: f.file });
}

async function startQuality() {
  if (!input || running || qualityFiles.length === 0) return;
  const options = { chunks: wholeNumber('quality-chunks'), ctx: wholeNumber('quality-ctx') };
  const r = await runJob({ type: 'quality', input, quantized: qualityFiles, calibration, options }, 'Measuring quality…', []);
  renderQualityFiles();
  if (!r.ok) return;
  // The core's own rendering (escaped, classes only): the same report as `llmq quality -o x.html`.
  $('quality-report').innerHTML = r.html;
  const kind = r.result.rows ? 'compare' : 'report';
  downloadLink($('quality-download'), new Blob([r.document], { type: 'text/html' }), `${input.name.replace(/\.gguf$/i, '')}-quality-${kind}.html`);
  show('quality-download', true);
  setState('quality');
  $('quality').scrollIntoView({ block: 'start', behavior: 'smooth' });
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
  $('level').addEventListener('change', () => {
    describeLevel();
    schedulePlan();
  });
  $('imatrix-input').addEventListener('change', (e) => {
    const file = e.target.files[0];
    if (file) imatrix = { name: file.name, file };
    e.target.value = '';
    describeLevel();
    schedulePlan();
  });
  $('imatrix-clear').addEventListener('click', () => {
    imatrix = null;
    describeLevel();
    schedulePlan();
  });
  $('profile').addEventListener('change', () => {
    if (!outputEdited && input) $('output-name').value = defaultOutputName(input.name, $('level').value);
    describeLevel();
    schedulePlan();
  });
  $('target-kind').addEventListener('change', () => {
    setTargetRange(plan?.dynamic?.reachable ?? null, true);
    schedulePlan();
  });
  $('target').addEventListener('input', () => {
    showTargetValue();
    schedulePlan(120);
  });
  $('protect').addEventListener('change', () => schedulePlan());
  $('measure').addEventListener('click', () => {
    measureAsked = true;
    schedulePlan();
  });
  $('dynamic-samples').addEventListener('change', () => schedulePlan());
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
    if ($('level').value === DYNAMIC) schedulePlan();
  });
  $('calibration-clear').addEventListener('click', () => {
    calibration = null;
    describeLevel();
    if ($('level').value === DYNAMIC) schedulePlan();
  });
  $('analysis-use').addEventListener('click', () => {
    if (analysis) imatrix = analysis;
    describeLevel();
    schedulePlan();
  });
  $('cancel').addEventListener('click', cancel);
  $('quality-input').addEventListener('change', (e) => {
    for (const file of e.target.files) addQualityFile({ name: file.name, file });
    e.target.value = '';
    renderQualityFiles();
  });
  $('quality-use-result').addEventListener('click', () => {
    if (lastOutput) addQualityFile(lastOutput);
    renderQualityFiles();
  });
  $('quality-start').addEventListener('click', startQuality);
}

wireInputs();
startWorker();
removeOpfsOutputs();
