// `llmq analyze` in Node: `npx llmq analyze` and the API's analyze() write the native CLI's bytes
// (GGUF and .dat imatrix, super-weight mask) and JSON; an aborted analysis resumes from its
// checkpoint to the same bytes, in Node and natively.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { analyze, LlmqError } from '../src/index.mjs';
import { fixture } from '../../tests/support/fixtures.mjs';
import { runNative, runNode, sha256, tempDir } from './helpers.mjs';

const work = tempDir();
after(() => fs.rmSync(work, { recursive: true, force: true }));
// Never the user's cache; the worker threads and the child processes inherit this.
process.env.LLM_QUANTIZE_IMATRIX_CACHE = path.join(work, 'cache');

const model = fixture('models', 'tinyllama-spm.bf16.gguf');
const text = fixture('text', 'tinystories_train.txt');
const small = ['--calibration-data', text, '--calibration-samples', '128', '--ctx', '64'];
const out = (name) => path.join(work, name);

// The result apart from what measures the run or names the outputs.
function comparable(r) {
  const { duration_seconds: _d, peak_memory_bytes: _p, tokens_per_second: _t, output_path: _o, ...rest } = r;
  if (rest.super_weights) {
    const { mask_path: _m, ...sw } = rest.super_weights;
    rest.super_weights = sw;
  }
  return rest;
}

function nativeAnalyze(output, extra = []) {
  const r = runNative(['analyze', model, ...small, '-o', output, '--format', 'json', '--quiet', '--no-cache', ...extra]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('npx llmq analyze writes the native GGUF and .dat imatrix and JSON', () => {
  for (const format of ['gguf', 'dat']) {
    const n = nativeAnalyze(out(`native.${format}.imatrix`), ['--imatrix-format', format]);
    const w = runNode(['analyze', model, ...small, '-o', out(`node.${format}.imatrix`), '--format', 'json', '--no-cache', '--imatrix-format', format]);
    assert.equal(w.code, 0, w.stderr);
    // Progress counts layers (at most a line a second on a pipe), never megabytes.
    for (const line of w.stderr.split('\n').filter((l) => l.startsWith('analyze:'))) {
      assert.match(line, /^analyze: +[\d.]+% [0-6]\/6 layers, elapsed [\d.]+s, ETA [\d.]+s, layer [0-5]$/);
    }
    assert.equal(sha256(out(`node.${format}.imatrix`)), sha256(out(`native.${format}.imatrix`)), format);
    const j = JSON.parse(w.stdout);
    assert.deepEqual(comparable(j), comparable(n));
    assert.equal(j.imatrix_format, format);
    assert.equal(j.layer_importance.length, 6);
  }
});

test('npx llmq analyze --identify-super-weights writes the native mask', () => {
  const n = nativeAnalyze(out('sw-native.imatrix'), ['--identify-super-weights']);
  const w = runNode(['analyze', model, ...small, '-o', out('sw-node.imatrix'), '--format', 'json', '--quiet', '--identify-super-weights']);
  assert.equal(w.code, 0, w.stderr);
  const j = JSON.parse(w.stdout);
  assert.deepEqual(comparable(j), comparable(n));
  assert.equal(j.super_weights.mask_path, out('sw-node.imatrix.superweights.json'));
  assert.equal(fs.readFileSync(j.super_weights.mask_path, 'utf8'), fs.readFileSync(n.super_weights.mask_path, 'utf8'));
  assert.equal(sha256(out('sw-node.imatrix')), sha256(out('sw-native.imatrix')));
});

test('analyze() resolves with the native JSON, reports layers, and uses the cache', async () => {
  const n = nativeAnalyze(out('native-api.imatrix'));
  const events = [];
  const options = { calibrationData: text, calibrationSamples: 128, ctx: 64, output: out('api.imatrix'), onProgress: (e) => events.push(e) };
  const r = await analyze(model, options);
  assert.equal(sha256(out('api.imatrix')), sha256(out('native-api.imatrix')));
  assert.deepEqual(comparable(r), comparable(n));
  assert.equal(r.output_path, out('api.imatrix'));
  assert.ok(events.every((e) => e.task === 'analyze' && e.unit === 'layers' && e.total === 6), JSON.stringify(events[0]));
  assert.equal(events.at(-1).done, 6);
  assert.ok(events.some((e) => e.item === 'layer 3'));

  // The second run is served from the cache (LLM_QUANTIZE_IMATRIX_CACHE), same bytes.
  const again = await analyze(model, { ...options, output: out('api-again.imatrix') });
  assert.equal(again.cached, true);
  assert.equal(sha256(out('api-again.imatrix')), sha256(out('native-api.imatrix')));
  assert.deepEqual(again.layer_importance, r.layer_importance);
});

test('an aborted analyze() keeps its checkpoint; resuming (Node or native) gives the same bytes', async () => {
  const reference = out('native-api.imatrix');
  if (!fs.existsSync(reference)) nativeAnalyze(reference);
  const dir = out('ckpt');
  const controller = new AbortController();
  const options = { calibrationData: text, calibrationSamples: 128, ctx: 64, cache: false };
  // Abort once two layers are done: the job stops in the third, keeping the checkpoint after the second.
  const onProgress = (e) => e.done >= 2 && controller.abort();
  await assert.rejects(analyze(model, { ...options, output: out('cut.imatrix'), checkpointDir: dir, signal: controller.signal, onProgress }), (e) => {
    assert.ok(e instanceof LlmqError);
    assert.equal(e.code, 130);
    assert.match(e.message, /checkpoint after layer \d is kept in/);
    assert.match(e.hint, /--resume/);
    return true;
  });
  assert.ok(!fs.existsSync(out('cut.imatrix')));
  const kept = fs.readdirSync(dir).filter((f) => f.endsWith('.ckpt'));
  assert.equal(kept.length, 1, kept.join());
  const nextLayer = Number(kept[0].match(/(\d+)\.ckpt$/)[1]);
  assert.ok(nextLayer >= 2 && nextLayer < 6, kept[0]);
  const copy = out('ckpt-copy');
  fs.cpSync(dir, copy, { recursive: true });

  const events = [];
  const r = await analyze(model, { ...options, output: out('resumed.imatrix'), resume: dir, onProgress: (e) => events.push(e) });
  assert.equal(sha256(out('resumed.imatrix')), sha256(reference));
  assert.equal(events.find((e) => e.item !== '').item, `layer ${nextLayer}`, 'the resumed run starts after the checkpointed layers');
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.ckpt')), [], 'checkpoints are removed after success');
  assert.equal(r.status, 'success');

  // The wasm module's checkpoint is the native one's format.
  const n = runNative(['analyze', model, ...small, '-o', out('resumed-native.imatrix'), '--quiet', '--no-cache', '--resume', copy]);
  assert.equal(n.code, 0, n.stderr);
  assert.equal(sha256(out('resumed-native.imatrix')), sha256(reference));
});

test('analyze() rejects bad options with the CLI codes', async () => {
  await assert.rejects(analyze(model, { calibrationData: text, calibrationSamples: 64 }), { code: 15 });
  await assert.rejects(analyze(model, { calibrationData: text, method: 'fisher' }), { code: 2, message: /not implemented; methods available: activation/ });
  await assert.rejects(analyze(model, { calibrationData: text, ctx: 8 }), { code: 2, message: 'invalid value for ctx' });
  await assert.rejects(analyze(model, { calibrationData: text, coverage: 0.001 }), { code: 2, message: 'coverage needs identifySuperWeights' });
  await assert.rejects(analyze(path.join(work, 'missing.gguf'), { calibrationData: text }), { code: 3 });
});
