// The page end to end in Debian's Chromium (headless, driven by playwright-core): served from
// build/web by `llmq web`, it quantizes the sample model to the native CLI's bytes, shows the
// report, and turns bad input into the native CLI's message and hint. Run after `make web native`.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serveWeb } from '../../node/src/server.mjs';
import { writeSyntheticDatImatrix } from '../../node/test/imatrix-dat.mjs';
import { fixture } from '../../tests/support/fixtures.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const native = process.env.LLMQ_NATIVE ?? path.join(root, 'build', 'native', 'llmq');
const sample = path.join(root, 'models', 'sample', 'tinyllama-spm.bf16.gguf');
const shots = path.join(root, 'build', 'web-test');
const hfFolder = fixture('models', 'tinyllama-spm');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'llmq-web-'));
fs.mkdirSync(shots, { recursive: true });

const sha256 = (file) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const runNative = (args, cwd) => spawnSync(native, args, { cwd, encoding: 'utf8' });

let server;
let url;
let context;
// A fresh profile every run (no state from earlier runs, no first-run dialogs).
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'llmq-chromium-'));

before(async () => {
  server = spawn(process.execPath, [path.join(root, 'node', 'bin', 'llmq.mjs'), 'web', '--root', path.join(root, 'build', 'web'), '--port', '0']);
  url = await new Promise((resolve, reject) => {
    let text = '';
    server.stderr.on('data', (d) => {
      text += d;
      const m = /(http:\/\/\S+\/)/.exec(text);
      if (m) resolve(m[1]);
    });
    server.on('exit', (code) => reject(new Error(`llmq web exited (${code}): ${text}`)));
  });
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1200, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await context?.close();
  server?.kill('SIGINT');
  fs.rmSync(work, { recursive: true, force: true });
  fs.rmSync(profile, { recursive: true, force: true });
});

// A fresh tab; without the File System Access API unless asked (its picker needs a person).
// isolated: false makes the page act as if served without COOP/COEP (no SharedArrayBuffer).
// query: appended to the address (?threads=N); base: another server's address.
async function openPage({ picker = false, isolated = true, query = '', base = url } = {}) {
  const page = await context.newPage();
  if (!isolated) await page.addInitScript(() => Object.defineProperty(window, 'crossOriginIsolated', { value: false }));
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  if (!picker) await page.addInitScript(() => Object.defineProperty(window, 'showSaveFilePicker', { value: undefined }));
  await page.goto(base + query);
  await page.waitForSelector('body[data-state="ready"]', { timeout: 30_000 });
  return { page, problems };
}

test('the page quantizes the sample model to Q4_K_M with the native CLI\'s bytes', async () => {
  const reference = path.join(work, 'native-Q4_K_M.gguf');
  assert.equal(runNative(['quantize', sample, '-q', 'Q4_K_M', '-o', reference, '--quiet']).status, 0);
  const { page, problems } = await openPage();
  assert.equal(await page.evaluate(() => crossOriginIsolated), true, 'llmq web serves the page cross-origin isolated');

  await page.setInputFiles('#file-input', sample);
  await page.waitForSelector('body[data-state="model"]');
  const facts = await page.textContent('#model-facts');
  assert.match(facts, /llama/);
  assert.match(facts, /5\.77 M/);
  assert.equal(await page.textContent('#model-tensor-count'), '57');

  await page.selectOption('#level', 'Q4_K_M');
  assert.equal(await page.inputValue('#output-name'), 'tinyllama-spm.bf16-Q4_K_M.gguf');
  const download = page.waitForEvent('download');
  await page.click('#start');
  await page.waitForSelector('body[data-state="done"]', { timeout: 120_000 });
  const file = await download;
  assert.equal(file.suggestedFilename(), 'tinyllama-spm.bf16-Q4_K_M.gguf');
  const saved = path.join(work, 'page-Q4_K_M.gguf');
  await file.saveAs(saved);
  assert.equal(sha256(saved), sha256(reference));
  // The plan shown before writing said this size.
  assert.equal(Number(await page.getAttribute('#plan', 'data-predicted-size')), fs.statSync(saved).size);

  // The report: facts, one bar per layer, the tensor table.
  assert.match(await page.textContent('#result-facts'), /Q4_K_M/);
  const layers = JSON.parse(runNative(['quantize', sample, '-q', 'Q4_K_M', '-o', path.join(work, 'again.gguf'), '--format', 'json', '--quiet']).stdout).layer_summary;
  assert.equal(await page.locator('#chart svg g.layer').count(), layers.length);
  assert.equal(await page.locator('#result-table tbody tr').count(), 57);
  assert.match(await page.textContent('#save-status'), /Downloading/);
  await page.screenshot({ path: path.join(shots, 'report.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await page.close();
});

// Quantizes the file to level in an open page and saves the download as saved.
async function quantizeInPage(page, model, level, saved) {
  await page.setInputFiles('#file-input', model);
  await page.waitForSelector('body[data-state="model"]');
  await page.selectOption('#level', level);
  const download = page.waitForEvent('download');
  await page.click('#start');
  await page.waitForSelector('body[data-state="done"]', { timeout: 120_000 });
  await (await download).saveAs(saved);
}

// A 2-layer llama-shaped F16 model (78 MB): enough rows for every thread to have work.
function twoLayerModel() {
  const model = path.join(work, 'synthetic-2.gguf');
  if (!fs.existsSync(model)) {
    const synth = spawnSync(path.join(path.dirname(native), 'make_synthetic_model'),
      [model, '--layers', '2', '--hidden', '1024', '--ffn', '2816', '--vocab', '8192'], { encoding: 'utf8' });
    assert.equal(synth.status, 0, synth.stderr);
  }
  return model;
}

test('cross-origin isolated, the page runs the threaded module: 2 threads and 1 write the native bytes', async () => {
  const model = twoLayerModel();
  const reference = path.join(work, 'native-2l-Q4_K_M.gguf');
  assert.equal(runNative(['quantize', model, '-q', 'Q4_K_M', '-o', reference, '-t', '1', '--quiet']).status, 0);
  for (const threads of [2, 1]) {
    const { page, problems } = await openPage({ query: `?threads=${threads}` });
    assert.equal(await page.evaluate(() => crossOriginIsolated), true);
    assert.equal(await page.getAttribute('body', 'data-threads'), String(threads));
    assert.match(await page.textContent('#version'), threads === 1 ? /· 1 thread$/ : /· 2 threads$/);
    const saved = path.join(work, `page-2l-${threads}.gguf`);
    await quantizeInPage(page, model, 'Q4_K_M', saved);
    assert.equal(sha256(saved), sha256(reference), `${threads} thread(s)`);
    assert.deepEqual(problems, []);
    await page.close();
  }
});

test('served without COOP/COEP, the page falls back to the single-threaded module and still writes the native bytes', async () => {
  const plain = await serveWeb({ port: 0, root: path.join(root, 'build', 'web'), isolated: false });
  try {
    const { page, problems } = await openPage({ base: `http://127.0.0.1:${plain.address().port}/`, query: '?threads=2' });
    assert.equal(await page.evaluate(() => crossOriginIsolated), false);
    assert.equal(await page.getAttribute('body', 'data-threads'), '1');
    const reference = path.join(work, 'native-plain-Q4_K_M.gguf');
    assert.equal(runNative(['quantize', sample, '-q', 'Q4_K_M', '-o', reference, '--quiet']).status, 0);
    const saved = path.join(work, 'page-plain-Q4_K_M.gguf');
    await quantizeInPage(page, sample, 'Q4_K_M', saved);
    assert.equal(sha256(saved), sha256(reference));
    assert.deepEqual(problems, []);
    await page.close();
  } finally {
    plain.closeAllConnections();
    await new Promise((resolve) => plain.close(resolve));
  }
});

// A legacy .dat importance matrix for the sample model (node/test/imatrix-dat.mjs).
function writeImatrix(file) {
  writeSyntheticDatImatrix(file, JSON.parse(runNative(['inspect', sample, '--format', 'json']).stdout).tensors);
}

test('the level picker offers the IQ and ternary levels; those needing an imatrix say so and take one', async () => {
  const { page, problems } = await openPage();
  await page.setInputFiles('#file-input', sample);
  await page.waitForSelector('body[data-state="model"]');
  const offered = await page.$$eval('#level option', (os) => os.map((o) => ({ value: o.value, text: o.textContent })));
  const values = offered.map((o) => o.value);
  for (const level of ['IQ1_S', 'IQ1_M', 'IQ2_XXS', 'IQ2_XS', 'IQ2_S', 'IQ2_M', 'IQ3_XXS', 'IQ3_XS', 'IQ3_S', 'IQ3_M', 'IQ4_NL',
    'IQ4_XS', 'TQ1_0', 'TQ2_0', 'TERNARY']) {
    assert.ok(values.includes(level), `${level} is offered`);
  }
  // The levels marked are those the native CLI refuses without an imatrix (probed on the IQ,
  // ternary and 2-bit levels: no other level needs one).
  const marked = offered.filter((o) => /needs an imatrix/.test(o.text)).map((o) => o.value).sort();
  const refused = [];
  for (const level of values.filter((v) => /^(IQ|TQ|TERNARY|Q2_)/.test(v))) {
    const r = runNative(['quantize', sample, '-q', level, '-o', path.join(work, 'probe.gguf'), '--quiet']);
    if (r.status === 10) refused.push(level);
    fs.rmSync(path.join(work, 'probe.gguf'), { force: true });
  }
  assert.deepEqual(marked, refused.sort());
  assert.ok(marked.includes('IQ2_XXS') && !marked.includes('IQ4_XS'));

  // Without an imatrix such a level explains itself and cannot start.
  await page.selectOption('#level', 'IQ2_XXS');
  assert.equal(await page.isVisible('#level-imatrix'), true);
  assert.match(await page.textContent('#level-imatrix'), /IQ2_XXS needs an importance matrix/);
  assert.equal(await page.isDisabled('#start'), true);
  await page.screenshot({ path: path.join(shots, 'imatrix-needed.png') });
  await page.selectOption('#level', 'IQ4_XS');
  assert.equal(await page.isVisible('#level-imatrix'), false);
  assert.equal(await page.isDisabled('#start'), false);

  // With one it quantizes to the native CLI's bytes.
  const imatrix = path.join(work, 'sample.imatrix.dat');
  writeImatrix(imatrix);
  const reference = path.join(work, 'native-IQ2_XXS.gguf');
  // The file records the imatrix as named; the page names it by its file name.
  const n = runNative(['quantize', sample, '-q', 'IQ2_XXS', '--imatrix', path.basename(imatrix), '-o', reference, '--quiet'], work);
  assert.equal(n.status, 0, n.stderr);
  await page.setInputFiles('#imatrix-input', imatrix);
  await page.selectOption('#level', 'IQ2_XXS');
  assert.equal(await page.textContent('#imatrix-name'), 'sample.imatrix.dat');
  assert.match(await page.textContent('#level-imatrix'), /with the importance matrix sample\.imatrix\.dat/);
  assert.equal(await page.isDisabled('#start'), false);
  let download = page.waitForEvent('download');
  await page.click('#start');
  await page.waitForSelector('body[data-state="done"]', { timeout: 120_000 });
  let saved = path.join(work, 'page-IQ2_XXS.gguf');
  await (await download).saveAs(saved);
  assert.equal(sha256(saved), sha256(reference));

  // TERNARY is the CLI's alias of TQ1_0.
  await page.click('#imatrix-clear');
  assert.equal(await page.textContent('#imatrix-name'), 'none');
  await page.selectOption('#level', 'TERNARY');
  assert.equal(await page.inputValue('#output-name'), 'tinyllama-spm.bf16-TERNARY.gguf');
  const ternary = path.join(work, 'native-ternary.gguf');
  assert.equal(runNative(['quantize', sample, '-q', 'TERNARY', '-o', ternary, '--quiet']).status, 0);
  download = page.waitForEvent('download');
  await page.click('#start');
  await page.waitForSelector('body[data-state="done"]', { timeout: 120_000 });
  saved = path.join(work, 'page-TERNARY.gguf');
  await (await download).saveAs(saved);
  assert.equal(sha256(saved), sha256(ternary));
  assert.deepEqual(problems, []);
  await page.close();
});

test('a corrupt file shows the native CLI\'s message and hint', async () => {
  const corrupt = path.join(work, 'corrupt.gguf');
  fs.writeFileSync(corrupt, fs.readFileSync(sample).subarray(0, 3000));
  const n = runNative(['inspect', 'corrupt.gguf'], work);
  assert.equal(n.status, 8);
  const [, message, hint] = /^error: (.*)\n(?:hint: (.*)\n)?/.exec(n.stderr);
  const { page } = await openPage();
  await page.setInputFiles('#file-input', corrupt);
  await page.waitForSelector('body[data-state="error"]');
  assert.equal(await page.textContent('#error-message'), message);
  assert.equal(await page.isVisible('#error-hint'), Boolean(hint));
  if (hint) assert.equal(await page.textContent('#error-hint'), hint);
  assert.match(await page.textContent('#error-code'), /exit code 8 \(corrupt_input\)/);
  await page.screenshot({ path: path.join(shots, 'corrupt.png') });

  // Not a GGUF file at all.
  const text = path.join(work, 'notes.gguf');
  fs.writeFileSync(text, 'just some text, not a model\n'.repeat(20));
  const t = runNative(['inspect', 'notes.gguf'], work);
  await page.setInputFiles('#file-input', text);
  await page.waitForSelector('body[data-state="error"] #error-message:text-matches("notes.gguf")');
  assert.equal(await page.textContent('#error-message'), /^error: (.*)\n/.exec(t.stderr)[1]);
  await page.close();
});

for (const isolated of [true, false]) {
  test(`Cancel stops a running job and the page stays usable (${isolated ? 'job asked to stop' : 'Worker stopped'})`, async () => {
    const model = path.join(work, 'synthetic.gguf');
    if (!fs.existsSync(model)) {
      const synth = spawnSync(path.join(path.dirname(native), 'make_synthetic_model'),
        [model, '--layers', '4', '--hidden', '1024', '--ffn', '2816', '--vocab', '8192'], { encoding: 'utf8' });
      assert.equal(synth.status, 0, synth.stderr);
    }
    const { page, problems } = await openPage({ isolated });
    await page.setInputFiles('#file-input', model);
    await page.waitForSelector('body[data-state="model"]');
    await page.selectOption('#level', 'Q4_K_M');
    await page.click('#start');
    await page.waitForFunction(() => document.getElementById('progress-bar').value > 0.05, null, { timeout: 60_000 });
    const text = await page.textContent('.progress-text');
    assert.match(text, /MB\/s/);
    assert.match(text, /blk\.|token_embd|output/);
    await page.screenshot({ path: path.join(shots, 'progress.png') });
    await page.click('#cancel');
    await page.waitForSelector('body[data-state="cancelled"]', { timeout: 10_000 });
    assert.equal(await page.textContent('#error-title'), 'Cancelled');
    // Nothing of the cancelled job stays in the origin's storage.
    await page.waitForFunction(async () => {
      const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('llmq-output', { create: true });
      for await (const _ of dir.keys()) return false;
      return true;
    }, null, { timeout: 10_000 });
    // And the next job runs.
    await page.selectOption('#level', 'Q8_0');
    await page.click('#start');
    await page.waitForSelector('body[data-state="done"]', { timeout: 120_000 });
    assert.deepEqual(problems, []);
    await page.close();
  });
}

test('a HuggingFace folder reaches the core as a directory file set', async () => {
  const n = runNative(['inspect', path.basename(hfFolder), '--format', 'json'], path.dirname(hfFolder));
  const { page } = await openPage();
  await page.setInputFiles('#folder-input', hfFolder);
  await page.waitForSelector('body[data-state="model"], body[data-state="error"]');
  if (n.status === 0) {
    // The core reads HuggingFace folders: the page shows what the CLI shows, and quantizes the
    // folder (safetensors shards, index, tokenizer) to the CLI's bytes.
    const expected = JSON.parse(n.stdout);
    assert.equal(await page.getAttribute('body', 'data-state'), 'model');
    assert.equal(await page.textContent('#model-tensor-count'), String(expected.tensors.length));
    assert.match(await page.textContent('#model-facts'), new RegExp(expected.architecture));
    const reference = path.join(work, 'hf-native.gguf');
    const q = runNative(['quantize', path.basename(hfFolder), '-q', 'Q4_K_M', '-o', reference, '--quiet'], path.dirname(hfFolder));
    assert.equal(q.status, 0, q.stderr);
    await page.selectOption('#level', 'Q4_K_M');
    assert.equal(await page.inputValue('#output-name'), `${path.basename(hfFolder)}-Q4_K_M.gguf`);
    const download = page.waitForEvent('download');
    await page.click('#start');
    await page.waitForSelector('body[data-state="done"]', { timeout: 120_000 });
    const saved = path.join(work, 'hf-page.gguf');
    await (await download).saveAs(saved);
    assert.equal(sha256(saved), sha256(reference));
  } else {
    assert.equal(await page.getAttribute('body', 'data-state'), 'error');
    assert.equal(await page.textContent('#error-message'), JSON.parse(n.stdout).message);
  }
  await page.close();
});

const trainText = fixture('text', 'tinystories_train.txt');

// Every text the element with this id shows while the page runs (progress moves fast).
async function recordTexts(page, id) {
  await page.evaluate((target) => {
    window.seenTexts = [];
    const e = document.getElementById(target);
    new MutationObserver(() => window.seenTexts.push(e.textContent)).observe(e, { childList: true, characterData: true, subtree: true });
  }, id);
}

test('Analyze writes the native imatrix and mask, charts each layer and hands the matrix to quantize', async () => {
  // The page names the text by its file name: run the native CLI where that name resolves.
  const reference = path.join(work, 'native.imatrix');
  const n = runNative(['analyze', sample, '--calibration-data', path.basename(trainText), '--calibration-samples', '128', '--ctx', '64',
    '--identify-super-weights', '-o', reference, '--format', 'json', '--quiet'], path.dirname(trainText));
  assert.equal(n.status, 0, n.stderr);
  const expected = JSON.parse(n.stdout);
  const { page, problems } = await openPage();
  await page.setInputFiles('#file-input', sample);
  await page.waitForSelector('body[data-state="model"]');
  assert.equal(await page.isVisible('#analyze'), true);
  assert.match(await page.textContent('#calibration-name'), /WikiText-2/);
  await page.setInputFiles('#calibration-input', trainText);
  assert.equal(await page.textContent('#calibration-name'), 'tinystories_train.txt');
  await page.fill('#analyze-samples', '128');
  await page.fill('#analyze-ctx', '64');
  await page.check('#analyze-super-weights');
  await recordTexts(page, 'progress-rate');
  await page.click('#analyze-start');
  await page.waitForSelector('body[data-state="analyzed"]', { timeout: 120_000 });
  const seen = await page.evaluate(() => window.seenTexts);
  assert.ok(seen.some((t) => /^[1-6]\/6 layers$/.test(t)), `progress per layer: ${seen.join(' | ')}`);

  const download = page.waitForEvent('download');
  await page.click('#analysis-download');
  const saved = path.join(work, 'page.imatrix');
  await (await download).saveAs(saved);
  assert.equal((await download).suggestedFilename(), 'tinyllama-spm.bf16.imatrix');
  assert.equal(sha256(saved), sha256(reference));
  const maskDownload = page.waitForEvent('download');
  await page.click('#analysis-mask');
  const mask = path.join(work, 'page-mask.json');
  await (await maskDownload).saveAs(mask);
  assert.equal(fs.readFileSync(mask, 'utf8'), fs.readFileSync(expected.super_weights.mask_path, 'utf8'));

  // One bar per layer in both charts; the super weights as the CLI found them.
  assert.equal(await page.locator('#importance-chart svg rect.bar').count(), expected.num_layers);
  assert.equal(await page.locator('#sensitivity-chart svg rect.bar').count(), expected.num_layers);
  const titles = await page.$$eval('#importance-chart svg rect.bar title', (ts) => ts.map((t) => t.textContent));
  assert.match(titles[0], new RegExp(`^layer 0: block influence ${expected.layer_importance[0].block_influence.toPrecision(4)}$`));
  const sw = expected.super_weights;
  assert.match(await page.textContent('#super-weights-summary'), sw.identified ? /identified/ : /^None identified/);
  assert.equal(await page.locator('#super-weights-table tbody tr').count(), sw.locations.length);
  assert.match(await page.textContent('#analysis-facts'), /128 × 64/);
  await page.screenshot({ path: path.join(shots, 'analysis.png'), fullPage: true });

  // The quantize step takes the matrix: IQ2_XXS (which needs one) can start, with the native bytes.
  assert.equal(await page.textContent('#imatrix-name'), 'tinyllama-spm.bf16.imatrix');
  await page.selectOption('#level', 'IQ2_XXS');
  assert.equal(await page.isDisabled('#start'), false);
  const quantized = path.join(work, 'native-analyzed-IQ2_XXS.gguf');
  fs.copyFileSync(reference, path.join(work, 'tinyllama-spm.bf16.imatrix'));
  const q = runNative(['quantize', sample, '-q', 'IQ2_XXS', '--imatrix', 'tinyllama-spm.bf16.imatrix', '-o', quantized, '--quiet'], work);
  assert.equal(q.status, 0, q.stderr);
  const qDownload = page.waitForEvent('download');
  await page.click('#start');
  await page.waitForSelector('body[data-state="done"]', { timeout: 120_000 });
  const pageQuantized = path.join(work, 'page-analyzed-IQ2_XXS.gguf');
  await (await qDownload).saveAs(pageQuantized);
  assert.equal(sha256(pageQuantized), sha256(quantized));
  assert.deepEqual(problems, []);
  await page.close();
});

test('a TQ1_0 report shows the coherence check: score below the threshold and the worst prompts', async () => {
  const out = path.join(work, 'native-TQ1_0.gguf');
  const n = runNative(['quantize', sample, '-q', 'TQ1_0', '-o', out, '--format', 'json', '--quiet']);
  assert.equal(n.status, 0, n.stderr);
  const coherence = JSON.parse(n.stdout).coherence;
  const { page, problems } = await openPage();
  await page.setInputFiles('#file-input', sample);
  await page.waitForSelector('body[data-state="model"]');
  await page.selectOption('#level', 'TQ1_0');
  await recordTexts(page, 'progress-rate');
  await page.click('#start');
  await page.waitForSelector('body[data-state="done"]', { timeout: 120_000 });
  const seen = await page.evaluate(() => window.seenTexts);
  assert.ok(seen.some((t) => /prompt passes$/.test(t)), `the check reports its progress: ${seen.join(' | ')}`);
  assert.equal(await page.isVisible('#coherence'), true);
  const facts = await page.textContent('#coherence-facts');
  const score = Number(/score([\d.]+)/.exec(facts)[1]);
  assert.ok(score < 0.5, facts);
  assert.equal(score.toFixed(3), coherence.score.toFixed(3));
  assert.match(facts, /passedno/);
  assert.match(await page.textContent('#coherence-verdict'), /Below the threshold/);
  // The job's warnings are listed as the CLI prints them (the ternary one first).
  const warnings = await page.$$eval('#result-warnings li', (lis) => lis.map((li) => li.textContent));
  // Each names a file first (the page's names differ from the native run's paths).
  const withoutPath = (w) => w.replace(/^\S+?(:? )/, '$1');
  assert.deepEqual(warnings.map(withoutPath), JSON.parse(n.stdout).warnings.map(withoutPath));
  assert.match(warnings[0], /is not ternary-trained/);
  const rows = await page.$$eval('#coherence-table tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  const worst = [...coherence.prompts].sort((a, b) => a.score - b.score).slice(0, 5);
  assert.deepEqual(rows, worst.map((p) => [p.prompt, p.text, p.score.toFixed(3)]));
  await page.screenshot({ path: path.join(shots, 'coherence.png'), fullPage: true });

  // A level without the check shows none.
  await page.selectOption('#level', 'Q8_0');
  await page.click('#start');
  await page.waitForSelector('body[data-state="done"]', { timeout: 120_000 });
  assert.equal(await page.isVisible('#coherence'), false);
  assert.equal(await page.isVisible('#result-warnings'), false);
  assert.deepEqual(problems, []);
  await page.close();
});

test('Analyze without a calibration file uses the page\'s WikiText-2 text (data/), as the CLI does', async () => {
  // The page names the bundled text data/wikitext-2-test.raw: the repository's copy under that name.
  const reference = path.join(work, 'native-wikitext.imatrix');
  const n = runNative(['analyze', sample, '--calibration-data', 'data/wikitext-2-test.raw', '--calibration-samples', '128', '--ctx', '64',
    '-o', reference, '--quiet', '--no-cache'], root);
  assert.equal(n.status, 0, n.stderr);
  const { page, problems } = await openPage();
  await page.setInputFiles('#file-input', sample);
  await page.waitForSelector('body[data-state="model"]');
  await page.fill('#analyze-ctx', '64');
  await page.click('#analyze-start');
  await page.waitForSelector('body[data-state="analyzed"], body[data-state="error"]', { timeout: 120_000 });
  assert.equal(await page.getAttribute('body', 'data-state'), 'analyzed', await page.textContent('#error'));
  assert.match(await page.textContent('#analysis-facts'), /wikitext-2-test\.raw/);
  assert.equal(await page.isVisible('#super-weights'), false);
  const download = page.waitForEvent('download');
  await page.click('#analysis-download');
  const saved = path.join(work, 'page-wikitext.imatrix');
  await (await download).saveAs(saved);
  assert.equal(sha256(saved), sha256(reference));
  assert.deepEqual(problems, []);
  await page.close();
});

// Waits for the plan of the current choices; fails with the page's status when there is none.
async function waitForPlan(page, timeout = 60_000) {
  await page.waitForFunction(() => ['ready', 'failed'].includes(document.body.dataset.plan)
    && !document.getElementById('plan').hidden, null, { timeout });
  assert.equal(await page.getAttribute('body', 'data-plan'), 'ready', await page.textContent('#plan-status'));
  return Number(await page.getAttribute('#plan', 'data-predicted-size'));
}

// Moves the target slider as a person would (input events) and waits for the new plan.
async function moveSlider(page, value) {
  await page.evaluate((v) => {
    const slider = document.getElementById('target');
    slider.value = String(v);
    slider.dispatchEvent(new Event('input', { bubbles: true }));
  }, value);
  await page.waitForFunction(() => document.body.dataset.plan === 'planning' || document.body.dataset.plan === 'none', null, { timeout: 5_000 })
    .catch(() => undefined);
  return waitForPlan(page);
}

test('dynamic: the page measures once, re-plans as the slider moves, and writes the size it showed (native bytes)', async () => {
  const { page, problems } = await openPage();
  await page.setInputFiles('#file-input', sample);
  await page.waitForSelector('body[data-state="model"]');
  const offered = await page.$$eval('#profile option', (os) => os.map((o) => o.value));
  for (const name of ['attention-high', 'balanced', 'compression-max']) assert.ok(offered.includes(name), `${name} is offered`);
  await page.selectOption('#level', 'dynamic');
  assert.equal(await page.isVisible('#dynamic-controls'), true);
  assert.equal(await page.inputValue('#profile'), 'balanced');
  assert.equal(await page.inputValue('#output-name'), 'tinyllama-spm.bf16-dynamic-balanced.gguf');
  // Nothing runs the model before Measure; Quantize waits for a plan.
  await page.waitForSelector('body[data-plan="unmeasured"]');
  assert.equal(await page.isDisabled('#start'), true);
  await page.fill('#dynamic-samples', '2');
  await page.click('#measure');
  await waitForPlan(page, 600_000);
  assert.match(await page.textContent('#plan-status'), /^Measured/);
  const range = await page.$eval('#target', (e) => ({ min: Number(e.min), max: Number(e.max), disabled: e.disabled }));
  assert.equal(range.disabled, false);
  assert.ok(range.min < range.max, JSON.stringify(range));

  // Two targets: each re-solves the stored measurement (no model run) and stays within 1 % under the target.
  let predicted = 0;
  let target = 0;
  for (const f of [0.2, 0.55]) {
    target = Math.round(range.min + f * (range.max - range.min));
    predicted = await moveSlider(page, target);
    assert.match(await page.textContent('#plan-status'), /^Re-planned from the measurement/);
    assert.match(await page.textContent('#target-value'), /MB|kB/);
    assert.ok(predicted <= target && predicted >= 0.99 * target, `${predicted} for ${target}`);
  }
  // The chart: one bar per layer, split by type, with a legend of the types used.
  const facts = await page.textContent('#plan-facts');
  assert.match(facts, /estimated KL divergence/);
  const legend = await page.$$eval('#plan-chart .legend li', (ls) => ls.map((l) => l.dataset.type));
  assert.ok(legend.length >= 3, `types in the legend: ${legend}`);
  const segmentTypes = new Set(await page.$$eval('#plan-chart svg rect.seg', (rs) => rs.map((r) => r.dataset.type)));
  assert.deepEqual([...segmentTypes].sort(), [...legend].sort());
  const fills = new Set(await page.$$eval('#plan-chart svg rect.seg', (rs) => rs.map((r) => r.getAttribute('fill'))));
  assert.ok(fills.size >= 2, 'segments are coloured by type');
  await page.screenshot({ path: path.join(shots, 'dynamic-plan.png'), fullPage: true });

  // Quantize writes exactly the plan: its size, and the native CLI's bytes for the same target.
  const download = page.waitForEvent('download');
  await page.click('#start');
  await page.waitForSelector('body[data-state="done"]', { timeout: 120_000 });
  const saved = path.join(work, 'page-dynamic.gguf');
  await (await download).saveAs(saved);
  assert.equal(fs.statSync(saved).size, predicted);
  const reference = path.join(work, 'native-dynamic.gguf');
  // The page names its bundled text data/wikitext-2-test.raw (the GGUF records it): the native CLI
  // reads the repository's copy under that name.
  const n = runNative(['quantize', sample, '-q', 'dynamic', '--profile', 'balanced', '--target-size', String(target), '--calibration-samples', '2',
    '--calibration-data', 'data/wikitext-2-test.raw', '--no-cache', '-o', reference, '--quiet'], root);
  assert.equal(n.status, 0, n.stderr);
  assert.equal(sha256(saved), sha256(reference));
  assert.match(await page.textContent('#result-facts'), /dynamic/);

  // Bits per weight: the slider switches to a bpw range and the plan follows it within 0.02.
  await page.selectOption('#target-kind', 'bpw');
  await waitForPlan(page);
  const bpwRange = await page.$eval('#target', (e) => ({ min: Number(e.min), max: Number(e.max) }));
  assert.ok(bpwRange.min >= 1 && bpwRange.max <= 32 && bpwRange.min < bpwRange.max, JSON.stringify(bpwRange));
  await moveSlider(page, 5.0);
  assert.match(await page.textContent('#target-value'), /^5\.00 bpw$/);
  const bpw = Number(/bits per weight(\d+\.\d+)/.exec(await page.textContent('#plan-facts'))[1]);
  assert.ok(Math.abs(bpw - 5.0) <= 0.02, `bpw ${bpw}`);
  assert.deepEqual(problems, []);
  await page.close();
});

test('presets: the plan\'s size is the written size, also where rows of 384 and 1152 make k-quants fall back', async () => {
  const model = path.join(work, 'rows-384.gguf');
  const make = spawnSync(path.join(path.dirname(native), 'make_synthetic_model'), [model, '--layers', '2', '--hidden', '384', '--ffn', '1152',
    '--type', 'bf16', '--vocab-from', sample], { encoding: 'utf8' });
  assert.equal(make.status, 0, make.stderr);
  const { page, problems } = await openPage();
  await page.setInputFiles('#file-input', model);
  await page.waitForSelector('body[data-state="model"]');
  for (const level of ['Q4_K_M', 'Q2_K']) {
    await page.selectOption('#level', level);
    const predicted = await waitForPlan(page);
    assert.match(await page.textContent('#plan-facts'), /fallbacks/);
    const download = page.waitForEvent('download');
    await page.click('#start');
    await page.waitForSelector('body[data-state="done"]', { timeout: 120_000 });
    const saved = path.join(work, `rows-384-${level}.gguf`);
    await (await download).saveAs(saved);
    assert.equal(fs.statSync(saved).size, predicted, level);
    const reference = path.join(work, `rows-384-native-${level}.gguf`);
    assert.equal(runNative(['quantize', model, '-q', level, '-o', reference, '--quiet']).status, 0);
    assert.equal(sha256(saved), sha256(reference), level);
    // The real bits per weight, not the preset's nominal ones: the report says the same.
    const bpw = Number(/bits per weight(\d+\.\d+)/.exec(await page.textContent('#plan-facts'))[1]);
    assert.ok(Math.abs(bpw - JSON.parse(runNative(['inspect', reference, '--format', 'json']).stdout).effective_bpw) < 0.001, `${level} ${bpw}`);
  }
  assert.deepEqual(problems, []);
  await page.close();
});

test('protection toggle: the page finds the super weights once and writes what the CLI writes with that mask', async () => {
  const { page, problems } = await openPage();
  await page.setInputFiles('#file-input', sample);
  await page.waitForSelector('body[data-state="model"]');
  await page.selectOption('#level', 'Q4_K_M');
  await waitForPlan(page);
  await page.check('#protect');
  await waitForPlan(page, 300_000);
  // The earlier plan may still show while the super weights are searched (a job of its own, half
  // a minute on a busy machine): Start waits for it, and the download for both.
  const download = page.waitForEvent('download', { timeout: 300_000 });
  await page.click('#start', { timeout: 300_000 });
  await page.waitForSelector('body[data-state="done"]', { timeout: 120_000 });
  const saved = path.join(work, 'page-protected.gguf');
  await (await download).saveAs(saved);
  // The CLI with the mask analyze makes over the same text (128 samples of 256 tokens).
  const a = runNative(['analyze', sample, '--identify-super-weights', '--calibration-samples', '128', '--ctx', '256', '--no-cache',
    '-o', path.join(work, 'protect.imatrix'), '--format', 'json', '--quiet']);
  assert.equal(a.status, 0, a.stderr);
  const maskPath = JSON.parse(a.stdout).super_weights.mask_path;
  const reference = path.join(work, 'native-protected.gguf');
  const q = runNative(['quantize', sample, '-q', 'Q4_K_M', '--protect-super-weights', '--super-weights', maskPath, '-o', reference,
    '--format', 'json', '--quiet']);
  assert.equal(q.status, 0, q.stderr);
  assert.equal(sha256(saved), sha256(reference));
  const plain = path.join(work, 'native-Q4_K_M.gguf');
  if (fs.existsSync(plain)) assert.notEqual(sha256(saved), sha256(plain), 'protection changed the file');
  assert.equal(Number(await page.getAttribute('#plan', 'data-predicted-size')), fs.statSync(saved).size);
  assert.deepEqual(problems, []);
  await page.close();
});

test('Quality: one file gives a report with the error of every layer, several a comparison with the native figures', async () => {
  const levels = ['Q2_K', 'Q4_K_M'];
  const quantized = levels.map((level) => {
    const out = path.join(work, `quality-${level}.gguf`);
    assert.equal(runNative(['quantize', sample, '-q', level, '-o', out, '--quiet']).status, 0);
    return out;
  });
  const { page, problems } = await openPage();
  await page.setInputFiles('#file-input', sample);
  await page.waitForSelector('body[data-state="model"]');
  assert.equal(await page.isVisible('#quality'), true);
  assert.equal(await page.isDisabled('#quality-start'), true);
  await page.fill('#quality-chunks', '4');
  await page.fill('#quality-ctx', '128');

  // Several files: the comparison, as the native CLI computes it on the page's bundled text.
  await page.setInputFiles('#quality-input', quantized);
  assert.equal(await page.locator('#quality-files li').count(), 2);
  await recordTexts(page, 'progress-rate');
  await page.click('#quality-start');
  await page.waitForSelector('body[data-state="quality"], body[data-state="error"]', { timeout: 120_000 });
  assert.equal(await page.getAttribute('body', 'data-state'), 'quality', await page.textContent('#error'));
  const seen = await page.evaluate(() => window.seenTexts);
  assert.ok(seen.some((t) => /^\d+\/\d+ layers$/.test(t)), `progress per layer: ${seen.join(' | ')}`);
  const n = runNative(['quality', 'compare', sample, ...quantized, '--calibration-data', 'data/wikitext-2-test.raw', '--ctx', '128', '--chunks', '4',
    '--format', 'json'], root);
  assert.equal(n.status, 0, n.stderr);
  const expected = JSON.parse(n.stdout);
  assert.equal(await page.getAttribute('#quality-report section', 'data-kind'), 'compare');
  const rows = await page.$$eval('#quality-report table tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  assert.deepEqual(rows.map((r) => r[0]), expected.rows.map((r) => path.basename(r.model)));
  assert.deepEqual(rows.map((r) => r[5]), expected.rows.map((r) => r.kld_mean.toFixed(5)));
  assert.deepEqual(rows.map((r) => r[3]), expected.rows.map((r) => r.perplexity.toFixed(4)));
  assert.equal(await page.locator('#quality-report svg circle').count(), 2 * expected.rows.length);
  await page.screenshot({ path: path.join(shots, 'quality-compare.png'), fullPage: true });

  // One file, the one just written: a report with the per-layer errors; the HTML to download.
  await page.click('#quality-files li:nth-child(2) button');
  await page.click('#quality-files li:nth-child(1) button');
  await page.selectOption('#level', 'Q4_K_M');
  const download = page.waitForEvent('download');
  await page.click('#start');
  await page.waitForSelector('body[data-state="done"]', { timeout: 120_000 });
  await download;
  await page.click('#quality-use-result');
  assert.equal(await page.locator('#quality-files li').count(), 1);
  await page.click('#quality-start');
  await page.waitForSelector('body[data-state="quality"]', { timeout: 120_000 });
  assert.equal(await page.getAttribute('#quality-report section', 'data-kind'), 'report');
  assert.match(await page.textContent('#quality-report'), /Error per layer/);
  const report = JSON.parse(runNative(['quality', 'report', sample, quantized[1], '--calibration-data', 'data/wikitext-2-test.raw', '--ctx', '128',
    '--chunks', '4', '--include-layers', '--format', 'json'], root).stdout);
  const bars = report.layer_errors.filter((l) => !(l.types.length === 1 && l.types[0] === 'f32'));
  assert.equal(await page.locator('#quality-report svg rect.q-bar').count(), bars.length);
  assert.match(await page.textContent('#quality-report'), new RegExp(report.metrics.kld_mean.toFixed(5)));
  const html = page.waitForEvent('download');
  await page.click('#quality-download');
  const saved = path.join(work, 'page-quality.html');
  await (await html).saveAs(saved);
  assert.match(fs.readFileSync(saved, 'utf8'), /^<!doctype html>[\s\S]*<svg/);
  await page.screenshot({ path: path.join(shots, 'quality-report.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await page.close();
});

test('the CLI\'s HTML quality reports open in Chromium without errors (compare of presets and a dynamic file)', async () => {
  const files = ['Q8_0', 'Q4_K_M', 'Q3_K_M', 'Q2_K'].map((level) => {
    const out = path.join(work, `html-${level}.gguf`);
    assert.equal(runNative(['quantize', sample, '-q', level, '-o', out, '--quiet']).status, 0);
    return out;
  });
  const dynamic = path.join(work, 'html-dynamic.gguf');
  assert.equal(runNative(['quantize', sample, '-q', 'dynamic', '--profile', 'balanced', '--target-size', '3MB', '--calibration-samples', '2', '--no-cache',
    '-o', dynamic, '--quiet']).status, 0);
  files.push(dynamic);
  const compare = path.join(work, 'compare.html');
  const report = path.join(work, 'report.html');
  const train = fixture('text', 'tinystories_train.txt');
  assert.equal(runNative(['quality', 'compare', sample, ...files, '-f', train, '--ctx', '256', '--chunks', '8', '-o', compare, '--quiet']).status, 0);
  assert.equal(runNative(['quality', 'report', sample, dynamic, '-f', train, '--ctx', '256', '--chunks', '8', '-o', report, '--quiet']).status, 0);
  for (const [file, shot] of [[compare, 'quality-compare-cli.png'], [report, 'quality-report-cli.png']]) {
    const page = await context.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('request', (r) => {
      if (!r.url().startsWith('file://')) problems.push(`request: ${r.url()}`);
    });
    await page.goto(`file://${file}`);
    assert.ok(await page.locator('svg').count() >= 2);
    await page.screenshot({ path: path.join(shots, shot), fullPage: true });
    assert.deepEqual(problems, []);
    await page.close();
  }
});
