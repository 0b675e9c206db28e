// qualityReport and qualityCompare: the native CLI's figures through the API (wasm in a worker),
// the HTML/CSV outputs, `npx llmq quality` as the native command, and the API's errors.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { LlmqError, qualityCompare, qualityReport, quantize } from '../src/index.mjs';
import { runNative, runNode, sample, tempDir } from './helpers.mjs';

const work = tempDir('llmq-quality-');
after(() => fs.rmSync(work, { recursive: true, force: true }));

const text = ['--ctx', '128', '--chunks', '4'];
const files = {};
for (const level of ['Q2_K', 'Q4_K_M']) {
  files[level] = path.join(work, `${level}.gguf`);
  assert.equal(runNative(['quantize', sample, '-q', level, '-o', files[level], '--quiet']).code, 0);
}
// Without the volatile fields (times, memory, when).
// The bundled text is the package's copy here, the repository's for the native CLI: same bytes.
const stable = ({ duration_seconds: _d, peak_memory_bytes: _p, timestamp: _t, subcommand: _s, metrics: _m, output_path: _o, text, ...rest }) => {
  assert.equal(path.basename(text.source), 'wikitext-2-test.raw');
  return { ...rest, text: { ...text, source: null } };
};

test('qualityReport gives the native CLI\'s figures, per tensor too', async () => {
  const n = runNative(['quality', 'report', sample, files.Q4_K_M, ...text, '--include-layers', '--format', 'json']);
  assert.equal(n.code, 0, n.stderr);
  const expected = JSON.parse(n.stdout);
  const r = await qualityReport(sample, files.Q4_K_M, { ctx: 128, chunks: 4, includeLayers: true });
  assert.deepEqual(r.metrics, expected.metrics);
  assert.deepEqual(stable(r), stable(expected));
  assert.equal(r.tensor_errors.length, 57);
});

test('qualityCompare and `npx llmq quality compare` write the native table (JSON, CSV, HTML)', async () => {
  const list = [files.Q4_K_M, files.Q2_K];
  const n = runNative(['quality', 'compare', sample, ...list, ...text, '--format', 'csv']);
  assert.equal(n.code, 0, n.stderr);
  const csv = path.join(work, 'compare.csv');
  const r = await qualityCompare(sample, list, { ctx: 128, chunks: 4, output: csv });
  assert.deepEqual(r.rows.map((row) => path.basename(row.model)), ['Q2_K.gguf', 'Q4_K_M.gguf']);
  assert.equal(fs.readFileSync(csv, 'utf8'), n.stdout);
  const w = runNode(['quality', 'compare', sample, ...list, ...text, '--format', 'csv']);
  assert.equal(w.code, 0, w.stderr);
  assert.equal(w.stdout, n.stdout);
  const html = path.join(work, 'compare.html');
  await qualityCompare(sample, list, { ctx: 128, chunks: 4, output: html });
  const page = fs.readFileSync(html, 'utf8');
  assert.match(page, /^<!doctype html>/);
  assert.match(page, /<svg/);
  assert.doesNotMatch(page, /<script/);
});

test('quantize with qualityReport and strict rejects with 11 above the threshold and keeps the file', async () => {
  const out = path.join(work, 'strict.gguf');
  process.env.LLM_QUANTIZE_QUALITY_THRESHOLD = '1';
  try {
    await assert.rejects(quantize(sample, { level: 'Q2_K', output: out, qualityReport: true, strict: true }),
      (e) => e instanceof LlmqError && e.code === 11 && /the file is kept/.test(e.message));
    assert.ok(fs.existsSync(out));
  } finally {
    delete process.env.LLM_QUANTIZE_QUALITY_THRESHOLD;
  }
  const r = await quantize(sample, { level: 'Q2_K', output: out, qualityReport: true });
  assert.ok(r.quality_report.metrics.perplexity_delta_pct > 1);
});

test('models that are not quantizations of the original reject with 2', async () => {
  const other = path.join(work, 'other.gguf');
  await assert.rejects(qualityReport(sample, path.join(work, 'missing.gguf'), { ctx: 128, chunks: 2 }), (e) => e.code === 3);
  fs.writeFileSync(other, fs.readFileSync(files.Q2_K).subarray(0, 100000));
  await assert.rejects(qualityReport(sample, other, { ctx: 128, chunks: 2 }), (e) => e.code === 8);
  await assert.rejects(qualityCompare(sample, files.Q2_K), TypeError);
});
