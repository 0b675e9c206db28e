// The ESM API: jobs in worker_threads, errors as LlmqError with the CLI's codes and hints,
// cancellation through an AbortSignal (no file left behind), and a bounded wasm heap.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { inspect, LlmqError, levels, quantize, run, version } from '../src/index.mjs';
import { sample, smallSyntheticModel, tempDir } from './helpers.mjs';

const work = tempDir('llmq-api-');
after(() => fs.rmSync(work, { recursive: true, force: true }));

test('version and levels come from the module', async () => {
  assert.match(version, /^\d+\.\d+\.\d+/);
  const all = await levels();
  const q4km = all.find((l) => l.name === 'Q4_K_M');
  assert.ok(q4km?.available);
  assert.match(q4km.description, /\S/);
  // Which levels need an importance matrix: the plan's own rule, as the native CLI enforces it.
  const needing = all.filter((l) => l.needsImatrix).map((l) => l.name).sort();
  assert.deepEqual(needing, ['IQ1_M', 'IQ1_S', 'IQ2_M', 'IQ2_S', 'IQ2_XS', 'IQ2_XXS', 'IQ3_XS', 'IQ3_XXS', 'Q2_K_S']);
});

test('inspect describes the sample model', async () => {
  const m = await inspect(sample);
  assert.equal(m.architecture, 'llama');
  assert.equal(m.parameter_count, 5770496);
  assert.equal(m.file_size, fs.statSync(sample).size);
  assert.ok(m.tensors.some((t) => t.name === 'blk.0.attn_q.weight' && t.type === 'bf16'));
});

test('errors reject with LlmqError: code, type, message and hint', async () => {
  await assert.rejects(quantize(path.join(work, 'missing.gguf'), { level: 'Q4_K_M' }), (e) => {
    assert.ok(e instanceof LlmqError);
    assert.equal(e.code, 3);
    assert.equal(e.type, 'model_not_found');
    assert.equal(e.message, `${path.join(work, 'missing.gguf')}: no such file or directory`);
    assert.equal(e.hint, 'give the path of a .gguf file or of a HuggingFace model directory');
    return true;
  });
  await assert.rejects(quantize(sample, { level: 'Q9_X', output: path.join(work, 'x.gguf') }), { code: 2, type: 'usage' });
  await assert.rejects(quantize(sample, { output: path.join(work, 'x.gguf') }), { code: 2, message: 'quantize needs a level' });
  await assert.rejects(quantize(sample, { level: 'Q8_0', tensorTypes: { attn: 'q9_9' }, output: path.join(work, 'x.gguf') }), { code: 2 });
  await assert.rejects(quantize(sample, { level: 'Q8_0', chunkMb: 0.5, output: path.join(work, 'x.gguf') }), { code: 2 });
  const cut = path.join(work, 'cut.gguf');
  fs.writeFileSync(cut, fs.readFileSync(sample).subarray(0, 4000));
  await assert.rejects(inspect(cut), { code: 8, type: 'corrupt_input' });
  assert.deepEqual(fs.readdirSync(work).filter((f) => f.startsWith('x.gguf')), []);
});

test('coherenceCheck scores the output; below the threshold it rejects with 12 and keeps the file', async () => {
  const good = await quantize(sample, { level: 'Q8_0', output: path.join(work, 'q8.gguf'), coherenceCheck: true });
  assert.ok(good.coherence.passed);
  assert.ok(good.coherence.score >= 0.5 && good.coherence.prompts.length >= 20);
  const tq = path.join(work, 'tq1.gguf');
  await assert.rejects(quantize(sample, { level: 'TQ1_0', output: tq, coherenceCheck: true }), (e) => {
    assert.equal(e.code, 12);
    assert.match(e.message, /coherence score 0\.\d+ is below the threshold 0\.500/);
    return true;
  });
  assert.ok(fs.existsSync(tq));
  const skipped = await quantize(sample, { level: 'TQ2_0', output: path.join(work, 'tq2.gguf'), noCoherenceCheck: true });
  assert.equal(skipped.coherence, null);
  await assert.rejects(quantize(sample, { level: 'TQ2_0', output: path.join(work, 'x.gguf'), coherenceCheck: true, noCoherenceCheck: true }), { code: 2 });
});

test('an aborted signal stops the job between chunks: code 130, nothing written', async () => {
  const model = smallSyntheticModel(work);
  const out = path.join(work, 'cancelled.gguf');
  const controller = new AbortController();
  let seen = 0;
  const started = performance.now();
  await assert.rejects(
    quantize(model, {
      level: 'Q4_K_M',
      output: out,
      chunkMb: 4,
      signal: controller.signal,
      onProgress: (e) => {
        if (e.done > 0 && ++seen === 2) controller.abort();
      },
    }),
    (e) => e instanceof LlmqError && e.code === 130 && e.type === 'interrupted',
  );
  assert.ok(performance.now() - started < 30_000);
  assert.ok(!fs.existsSync(out));
  assert.ok(!fs.existsSync(`${out}.part`));
  await assert.rejects(quantize(model, { level: 'Q4_K_M', output: out, signal: AbortSignal.abort() }), { code: 130 });
});

test('the wasm heap does not grow with the model: two and four layers need the same', async () => {
  const two = await quantize(smallSyntheticModel(work, 2), { level: 'Q8_0', output: path.join(work, 'two.gguf'), chunkMb: 16 });
  const four = await quantize(smallSyntheticModel(work, 4), { level: 'Q8_0', output: path.join(work, 'four.gguf'), chunkMb: 16 });
  assert.ok(four.input_size > 1.4 * two.input_size);
  assert.equal(four.wasm_heap_bytes, two.wasm_heap_bytes);
  assert.ok(two.wasm_heap_bytes < 160 * 2 ** 20, `heap ${two.wasm_heap_bytes}`);
});

test('run() is the command line, with output handed to callbacks', async () => {
  let out = '';
  let err = '';
  const code = await run(['inspect', sample, '--format', 'json'], { stdout: (t) => (out += t), stderr: (t) => (err += t) });
  assert.equal(code, 0, err);
  assert.equal(JSON.parse(out).architecture, 'llama');
  err = '';
  assert.equal(await run(['quantize', sample], { stdout: () => {}, stderr: (t) => (err += t) }), 2);
  assert.match(err, /^error: quantize needs a level/);
});
