// The wasm build gives the bytes the native build gives: `npx llmq` and the API against
// build/native/llmq, for every level llmq can write, and for the per-tensor options.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { levels, quantize } from '../src/index.mjs';
import { fixture } from '../../tests/support/fixtures.mjs';
import { native, runNative, runNode, sample, sha256, tempDir, withoutMeasurements } from './helpers.mjs';
import { writeSyntheticDatImatrix } from './imatrix-dat.mjs';

const work = tempDir();
after(() => fs.rmSync(work, { recursive: true, force: true }));
const available = (await levels()).filter((l) => l.available).map((l) => l.name);

test('the native CLI to compare with is built', () => {
  assert.ok(fs.existsSync(native), `${native} is missing: run \`make native\``);
  assert.ok(available.length >= 18, `only ${available.length} levels available`);
});

for (const level of available) {
  test(`npx llmq quantize -q ${level} writes the native CLI's bytes and JSON`, () => {
    const nativeOut = path.join(work, `native-${level}.gguf`);
    const wasmOut = path.join(work, `wasm-${level}.gguf`);
    const n = runNative(['quantize', sample, '-q', level, '-o', nativeOut, '--format', 'json', '--quiet']);
    const w = runNode(['quantize', sample, '-q', level, '-o', wasmOut, '--format', 'json', '--quiet']);
    assert.equal(w.code, n.code, w.stderr);
    if (n.code !== 0) {
      // A level that needs an importance matrix (Q2_K_S): refused alike.
      assert.equal(w.stderr, n.stderr);
      assert.equal(w.stdout, n.stdout);
      assert.ok(!fs.existsSync(wasmOut));
      return;
    }
    assert.equal(sha256(wasmOut), sha256(nativeOut));
    // Warnings may name the output (the coherence check's); the two runs write different files.
    const named = (r, out) => withoutMeasurements(JSON.parse(r.stdout.replaceAll(JSON.stringify(out).slice(1, -1), 'OUT')));
    assert.deepEqual(named(w, wasmOut), named(n, nativeOut));
    assert.equal(JSON.parse(w.stdout).output_path, wasmOut);
    fs.rmSync(nativeOut);
    fs.rmSync(wasmOut);
  });
}

const optionSets = [
  ['--pure'],
  ['--output-tensor-type', 'q8_0', '--token-embedding-type', 'q4_0'],
  ['--tensor-type', 'attn_v=q8_0', '--tensor-type', 'blk\\.0\\.=q6_K'],
  ['--leave-output-tensor', '--chunk-mb', '1'],
];
for (const options of optionSets) {
  test(`npx llmq quantize -q Q4_K_M ${options.join(' ')} matches the native bytes`, () => {
    const nativeOut = path.join(work, 'native-opt.gguf');
    const wasmOut = path.join(work, 'wasm-opt.gguf');
    assert.equal(runNative(['quantize', sample, '-q', 'Q4_K_M', '-o', nativeOut, '--quiet', ...options]).code, 0);
    const w = runNode(['quantize', sample, '-q', 'Q4_K_M', '-o', wasmOut, '--quiet', ...options]);
    assert.equal(w.code, 0, w.stderr);
    assert.equal(sha256(wasmOut), sha256(nativeOut));
  });
}

test('the API writes the native bytes and reports progress up to 100 %', async () => {
  const nativeOut = path.join(work, 'native-api.gguf');
  const apiOut = path.join(work, 'api.gguf');
  assert.equal(runNative(['quantize', sample, '-q', 'Q5_K_M', '-o', nativeOut, '--quiet']).code, 0);
  const events = [];
  const result = await quantize(sample, { level: 'q5_k_m', output: apiOut, onProgress: (e) => events.push(e) });
  assert.equal(sha256(apiOut), sha256(nativeOut));
  assert.equal(result.status, 'success');
  assert.equal(result.level, 'Q5_K_M');
  assert.equal(result.file_size, fs.statSync(apiOut).size);
  assert.ok(events.length >= 3);
  assert.equal(events[0].task, 'quantize');
  assert.equal(events.at(-1).fraction, 1);
  for (let i = 1; i < events.length; ++i) assert.ok(events[i].done >= events[i - 1].done, 'progress never goes back');
  assert.ok(events.some((e) => e.item.startsWith('blk.')), 'events name the tensor');
});

test('the API takes tensorTypes as an object, pairs or REGEX=TYPE strings alike', async () => {
  const nativeOut = path.join(work, 'native-tt.gguf');
  assert.equal(runNative(['quantize', sample, '-q', 'Q4_K_M', '-o', nativeOut, '--quiet', '--tensor-type', 'ffn_down=q8_0']).code, 0);
  for (const tensorTypes of [{ ffn_down: 'q8_0' }, [['ffn_down', 'q8_0']], ['ffn_down=q8_0']]) {
    const out = path.join(work, 'api-tt.gguf');
    await quantize(sample, { level: 'Q4_K_M', output: out, tensorTypes });
    assert.equal(sha256(out), sha256(nativeOut));
  }
});

// A legacy .dat importance matrix for the sample model (node/test/imatrix-dat.mjs).
function writeImatrix(file) {
  writeSyntheticDatImatrix(file, JSON.parse(runNative(['inspect', sample, '--format', 'json']).stdout).tensors);
}

test('with an importance matrix the imatrix-weighted quantizers give the native bytes too', () => {
  const imatrix = path.join(work, 'sample.imatrix.dat');
  writeImatrix(imatrix);
  for (const level of ['Q2_K_S', 'Q3_K_M', 'Q4_K_M', 'Q4_0', 'Q5_1', 'Q6_K']) {
    const nativeOut = path.join(work, `native-im-${level}.gguf`);
    const wasmOut = path.join(work, `wasm-im-${level}.gguf`);
    const n = runNative(['quantize', sample, '-q', level, '--imatrix', imatrix, '-o', nativeOut, '--quiet']);
    assert.equal(n.code, 0, n.stderr);
    const w = runNode(['quantize', sample, '-q', level, '--imatrix', imatrix, '-o', wasmOut, '--quiet']);
    assert.equal(w.code, 0, w.stderr);
    assert.equal(sha256(wasmOut), sha256(nativeOut), level);
  }
  // The matrix was applied: the plain Q4_K_M file is different.
  const plain = path.join(work, 'plain-Q4_K_M.gguf');
  assert.equal(runNative(['quantize', sample, '-q', 'Q4_K_M', '-o', plain, '--quiet']).code, 0);
  assert.notEqual(sha256(plain), sha256(path.join(work, 'wasm-im-Q4_K_M.gguf')));
});

const hfFolder = fixture('models', 'tinyllama-spm');
test('a HuggingFace folder (safetensors shards) quantizes to the native bytes', () => {
  const nativeOut = path.join(work, 'hf-native.gguf');
  const wasmOut = path.join(work, 'hf-wasm.gguf');
  const n = runNative(['quantize', hfFolder, '-q', 'Q4_K_M', '-o', nativeOut, '--format', 'json', '--quiet']);
  const w = runNode(['quantize', hfFolder, '-q', 'Q4_K_M', '-o', wasmOut, '--format', 'json', '--quiet']);
  assert.equal(w.code, n.code, w.stderr);
  assert.equal(w.stdout.replace(/"(duration_seconds|peak_memory_bytes)":[0-9.e+-]+/g, '').replace(wasmOut, 'OUT'),
    n.stdout.replace(/"(duration_seconds|peak_memory_bytes)":[0-9.e+-]+/g, '').replace(nativeOut, 'OUT'));
  if (n.code === 0) assert.equal(sha256(wasmOut), sha256(nativeOut));
});

// Dynamic quantization runs the model in the module too: the measurement (weight errors and
// KL-divergence probes) and the file are the native ones, through the CLI and the API.
test('npx llmq quantize -q dynamic measures and writes what the native CLI does', async () => {
  const model = fixture('models', 'tinyqwen-bpe.bf16.gguf');
  const train = fixture('text', 'tinystories_train.txt');
  const args = (out, table) => ['quantize', model, '-q', 'dynamic', '--profile', 'balanced', '--target-size', '2.4MB', '--calibration-data', train,
    '--calibration-samples', '2', '--measurements', table, '--no-cache', '-o', out, '--format', 'json', '--quiet'];
  const files = ['native', 'wasm'].map((k) => [path.join(work, `dyn-${k}.gguf`), path.join(work, `dyn-${k}.costs.json`)]);
  const n = runNative(args(...files[0]));
  assert.equal(n.code, 0, n.stderr);
  const w = runNode(args(...files[1]));
  assert.equal(w.code, 0, w.stderr);
  assert.equal(sha256(files[1][0]), sha256(files[0][0]));
  const table = (f) => {
    const { weight_seconds: _w, kld_seconds: _k, ...rest } = JSON.parse(fs.readFileSync(f, 'utf8'));
    return rest;
  };
  assert.deepEqual(table(files[1][1]), table(files[0][1]));
  // The API re-solves the stored measurement for another target: the native plan again.
  const out = path.join(work, 'dyn-api.gguf');
  const nat = path.join(work, 'dyn-native-3mb.gguf');
  assert.equal(runNative(['quantize', model, '-q', 'dynamic', '--profile', 'balanced', '--target-size', '3MB', '--measurements', files[0][1],
    '--calibration-data', train, '--calibration-samples', '2', '--no-cache', '-o', nat, '--quiet']).code, 0);
  const result = await quantize(model, { level: 'dynamic', profile: 'balanced', targetSize: '3MB', measurements: files[1][1],
    calibrationData: train, calibrationSamples: 2, noCache: true, output: out });
  assert.equal(sha256(out), sha256(nat));
  assert.equal(result.profile, 'balanced');
  assert.equal(result.predicted_size, fs.statSync(out).size);
  assert.ok(result.file_size <= 3e6 && result.file_size >= 0.99 * 3e6);
});
