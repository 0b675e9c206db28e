// The runtime in Node (wasm) gives the native CLI's numbers exactly: perplexity (also with
// --kld-base) and greedy generation on both fixture models, through `npx llmq` and the API, the
// same exit codes and messages for bad input, and the bundled WikiText-2 text as the default.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { generate, LlmqError, perplexity } from '../src/index.mjs';
import { guardHost } from '../dist/llmq-core.mjs';
import { nodeHost, nodeMakeDirectories } from '../dist/node-files.mjs';
import { fixturesDir as fixtures } from '../../tests/support/fixtures.mjs';
import { native, pkg, runNative, runNode, tempDir, withoutMeasurements } from './helpers.mjs';

const models = ['tinyllama-spm', 'tinyqwen-bpe'].map((name) => ({ name, file: path.join(fixtures, 'models', `${name}.bf16.gguf`) }));
const heldout = path.join(fixtures, 'text', 'tinystories_heldout.txt');
const reference = JSON.parse(fs.readFileSync(path.join(fixtures, 'models', 'reference-outputs.json'), 'utf8'));
const work = tempDir('llmq-runtime-');
after(() => fs.rmSync(work, { recursive: true, force: true }));

// Speeds measure the run; everything else must be equal.
function comparable(result) {
  const { tokens_per_second: _t, prompt_tokens_per_second: _p, ...rest } = withoutMeasurements(result);
  return rest;
}

function json(r) {
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('the native CLI and the fixtures are there', () => {
  assert.ok(fs.existsSync(native), `${native} is missing: run \`make native\` (or set LLMQ_NATIVE)`);
  for (const m of models) assert.ok(fs.existsSync(m.file), m.file);
  assert.ok(fs.existsSync(heldout), heldout);
});

for (const m of models) {
  test(`npx llmq perplexity on ${m.name} (ctx 256, 3 chunks) gives the native JSON`, () => {
    const args = ['perplexity', m.file, '-f', heldout, '--ctx', '256', '--chunks', '3', '--format', 'json'];
    const n = json(runNative(args));
    const w = json(runNode(args));
    assert.deepEqual(comparable(w), comparable(n));
    assert.equal(w.chunks, 3);
    assert.equal(w.chunk_perplexities.length, 3);
    assert.ok(w.perplexity > 1 && w.perplexity < 1000, `perplexity ${w.perplexity}`);
  });

  test(`npx llmq generate on ${m.name}: the reference greedy continuations, as natively`, () => {
    let exact = 0;
    for (const prompt of reference[m.name].prompts) {
      const args = ['generate', m.file, '-p', prompt.text, '-n', '32', '--format', 'json'];
      const n = json(runNative(args));
      const w = json(runNode(args));
      assert.deepEqual(comparable(w), comparable(n), prompt.text);
      assert.deepEqual(w.prompt_tokens, prompt.ids);
      assert.equal(w.n_generated, 32);
      if (JSON.stringify(w.tokens) === JSON.stringify(prompt.greedy_ids)) ++exact;
      else assert.deepEqual(w.tokens.slice(0, 14), prompt.greedy_ids.slice(0, 14), prompt.text);
    }
    // As natively (tests/runtime/forward_test.cpp): the reference ran with bfloat16-rounded RoPE
    // frequencies, ~5e-4 from the exact ones llmq uses, and tinyqwen's 4th prompt meets a near
    // tie (logit gap 0.021) at its 15th token; all else is exact.
    assert.ok(exact >= (m.name === 'tinyqwen-bpe' ? 3 : 4), `${exact} of 4 continuations exact`);
  });

  test(`npx llmq generate --rope-freqs bf16 --ignore-eos on ${m.name}: every reference continuation, as the reference ran`, () => {
    for (const prompt of reference[m.name].prompts) {
      const args = ['generate', m.file, '-p', prompt.text, '-n', '32', '--rope-freqs', 'bf16', '--ignore-eos', '--format', 'json'];
      const n = json(runNative(args));
      const w = json(runNode(args));
      assert.deepEqual(comparable(w), comparable(n), prompt.text);
      assert.equal(w.rope_freqs, 'bf16');
      assert.deepEqual(w.tokens, prompt.greedy_ids, prompt.text);
    }
  });
}

test('perplexity with --kld-base (Q4_K_M against BF16) gives the native KL statistics', () => {
  const [m] = models;
  const q4 = path.join(work, 'q4km.gguf');
  assert.equal(runNative(['quantize', m.file, '-q', 'Q4_K_M', '-o', q4, '--quiet']).code, 0);
  const args = ['perplexity', q4, '-f', heldout, '--ctx', '256', '--chunks', '2', '--kld-base', m.file, '--format', 'json'];
  const n = json(runNative(args));
  const w = json(runNode(args));
  assert.deepEqual(comparable(w), comparable(n));
  assert.equal(w.kld_base_path, m.file);
  assert.ok(w.kld.kld.mean > 0, 'a 4-bit file differs from its original');
  assert.ok(w.kld.top1_agreement > 0.5 && w.kld.top1_agreement <= 1);
  // The human report (on stderr) too, but for its last line (the duration).
  const human = (r) => r.stderr.split('\n').filter((l) => !/^\(\d+\.\d s\)$/.test(l)).join('\n');
  const nh = runNative(args.slice(0, -2));
  const wh = runNode(args.slice(0, -2));
  assert.equal(wh.code, 0, wh.stderr);
  assert.equal(human(wh), human(nh));
  assert.equal(wh.stdout, nh.stdout);
  assert.match(wh.stderr, /Mean {4}KLD:/);
});

test('without -f, perplexity scores the bundled WikiText-2 text (data/ of the package)', () => {
  const [m] = models;
  assert.ok(fs.existsSync(path.join(pkg, 'data', 'wikitext-2-test.raw')), 'staged into the package');
  assert.match(fs.readFileSync(path.join(pkg, 'data', 'README.md'), 'utf8'), /CC BY-SA 3\.0/);
  const env = { ...process.env };
  delete env.LLMQ_DATA_DIR;
  const args = ['perplexity', m.file, '--ctx', '128', '--chunks', '2', '--format', 'json'];
  const n = json(runNative(args, { env }));
  const w = json(runNode(args, { env }));
  assert.equal(w.text_path, path.join(pkg, 'data', 'wikitext-2-test.raw'));
  assert.equal(path.basename(n.text_path), 'wikitext-2-test.raw');
  const { text_path: _a, ...wRest } = comparable(w);
  const { text_path: _b, ...nRest } = comparable(n);
  assert.deepEqual(wRest, nRest);
});

test('LLMQ_DATA_DIR overrides the bundled data alike in both CLIs', () => {
  const [m] = models;
  const dir = path.join(work, 'data-dir');
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(heldout, path.join(dir, 'wikitext-2-test.raw'));
  const args = ['perplexity', m.file, '--ctx', '128', '--chunks', '1', '--format', 'json'];
  const env = { ...process.env, LLMQ_DATA_DIR: dir };
  const n = json(runNative(args, { env }));
  const w = json(runNode(args, { env }));
  assert.equal(w.text_path, path.join(dir, 'wikitext-2-test.raw'));
  assert.deepEqual(comparable(w), comparable(n));
});

test('bad input: the same exit codes and messages as the native CLI', () => {
  const [m] = models;
  const short = path.join(work, 'short.txt');
  fs.writeFileSync(short, 'Once upon a time there was a cat.');
  const cases = [
    ['perplexity', m.file, '-f', path.join(work, 'missing.txt'), '--ctx', '64'],
    ['perplexity', m.file, '-f', short, '--ctx', '64'],
    ['perplexity', path.join(work, 'missing.gguf'), '-f', heldout],
    ['perplexity', m.file, '-f', heldout, '--ctx', '2'],
    ['perplexity', m.file, '-f', heldout, '--chunks', '0'],
    ['perplexity'],
    ['perplexity', m.file, '-f', heldout, '--kld-base', path.join(work, 'missing.gguf')],
    ['generate', m.file],
    ['generate', m.file, '-p', 'Hello', '--temp', '-1'],
    ['generate', m.file, '-p', 'Hello', '-n', 'x'],
    ['generate', path.join(work, 'missing.gguf'), '-p', 'Hello'],
  ];
  const expectedCodes = [15, 15, 3, 2, 2, 2, 3, 2, 2, 2, 3];
  cases.forEach((args, i) => {
    const n = runNative(args);
    const w = runNode(args);
    assert.equal(n.code, expectedCodes[i], `native ${args.join(' ')}: ${n.stderr}`);
    assert.equal(w.code, n.code, args.join(' '));
    assert.equal(w.stderr, n.stderr, args.join(' '));
    assert.equal(w.stdout, n.stdout, args.join(' '));
  });
});

test('the API: perplexity() and generate() resolve with the native JSON, with progress', async () => {
  const [m, qwen] = models;
  const events = [];
  const p = await perplexity(m.file, { text: heldout, ctx: 256, chunks: 2, threads: 2, onProgress: (e) => events.push(e) });
  const n = json(runNative(['perplexity', m.file, '-f', heldout, '--ctx', '256', '--chunks', '2', '--format', 'json']));
  assert.deepEqual(comparable(p), comparable(n));
  assert.ok(events.length >= 2 && events.every((e) => e.task === 'perplexity'));
  assert.equal(events.at(-1).fraction, 1);

  const prompt = reference[qwen.name].prompts[1].text;
  const g = await generate(qwen.file, { prompt, n: 32 });
  const ng = json(runNative(['generate', qwen.file, '-p', prompt, '-n', '32', '--format', 'json']));
  assert.deepEqual(comparable(g), comparable(ng));
  assert.equal(g.text, prompt + g.completion);

  const last = reference[qwen.name].prompts[3];
  const asReference = await generate(qwen.file, { prompt: last.text, n: 32, ropeFreqs: 'bf16', ignoreEos: true });
  assert.deepEqual(asReference.tokens, last.greedy_ids);
  const pb = await perplexity(m.file, { text: heldout, ctx: 256, chunks: 2, ropeFreqs: 'bf16' });
  const nb = json(runNative(['perplexity', m.file, '-f', heldout, '--ctx', '256', '--chunks', '2', '--rope-freqs', 'bf16', '--format', 'json']));
  assert.deepEqual(comparable(pb), comparable(nb));
  assert.notEqual(pb.perplexity, p.perplexity);

  const sampled = await generate(qwen.file, { prompt, n: 8, temp: 0.8, seed: 7 });
  const ns = json(runNative(['generate', qwen.file, '-p', prompt, '-n', '8', '--temp', '0.8', '--seed', '7', '--format', 'json']));
  assert.deepEqual(comparable(sampled), comparable(ns));
});

test('the API rejects bad input with LlmqError and the CLI codes', async () => {
  const [m] = models;
  await assert.rejects(perplexity(m.file, { text: path.join(work, 'missing.txt'), ctx: 64 }), (e) => {
    assert.ok(e instanceof LlmqError);
    assert.equal(e.code, 15);
    assert.equal(e.type, 'calibration');
    assert.equal(e.message, `text file ${path.join(work, 'missing.txt')} not found`);
    return true;
  });
  await assert.rejects(perplexity(m.file, { text: heldout, ctx: 2 }), { code: 2, message: 'invalid value for ctx' });
  await assert.rejects(perplexity(m.file, { text: heldout, chunks: 1.5 }), { code: 2 });
  await assert.rejects(perplexity(path.join(work, 'nope.gguf'), { text: heldout }), { code: 3 });
  await assert.rejects(generate(m.file, {}), { code: 2, message: 'generate needs a prompt' });
  await assert.rejects(generate(m.file, { prompt: 'Hi', temp: -1 }), { code: 2, message: 'invalid value for temp' });
  await assert.rejects(generate(m.file, { prompt: 'Hi', n: '3' }), { code: 2 });
  await assert.rejects(generate(m.file, { prompt: 'Hi', ropeFreqs: 'fp16' }), { code: 2, message: "invalid value 'fp16' for ropeFreqs" });
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(generate(m.file, { prompt: 'Hi', signal: controller.signal }), { code: 130 });
});

test('host plumbing: optional members reach the module only when the host has them', () => {
  const bare = guardHost({});
  assert.equal(bare.makeDirectories, undefined);
  assert.equal(bare.env, undefined);
  assert.equal(bare.bundledFile, undefined);
  const g = guardHost({
    makeDirectories: () => {
      throw new Error('denied');
    },
    env: (name) => (name === 'HOME' ? '/home/x' : 42),
    bundledFile: () => {
      throw new Error('broken');
    },
  });
  const denied = g.makeDirectories('/a/b');
  assert.equal(denied.isLlmqError, true);
  assert.equal(denied.code, 1);
  assert.equal(denied.message, 'cannot create directory /a/b: denied');
  assert.equal(g.env('HOME'), '/home/x');
  assert.equal(g.env('OTHER'), null, 'a non-string is no value');
  assert.equal(g.bundledFile('x'), '');

  const host = nodeHost();
  const nested = path.join(work, 'made', 'a', 'b');
  assert.equal(host.makeDirectories(nested), undefined);
  assert.ok(fs.statSync(nested).isDirectory());
  assert.equal(host.makeDirectories(nested), undefined, 'an existing directory is fine');
  const file = path.join(work, 'plain-file');
  fs.writeFileSync(file, 'x');
  const e = nodeMakeDirectories(path.join(file, 'sub'));
  assert.equal(e.code, 7);
  assert.equal(e.message, `cannot create directory ${path.join(file, 'sub')}: Not a directory`);
  process.env.LLMQ_TEST_VARIABLE = 'on';
  assert.equal(host.env('LLMQ_TEST_VARIABLE'), 'on');
  assert.equal(host.env('LLMQ_TEST_UNSET_VARIABLE'), undefined);
  assert.equal(nodeHost({}, { dataDir: path.join(pkg, 'data') }).bundledFile('README.md'), path.join(pkg, 'data', 'README.md'));
  assert.equal(nodeHost({}, { dataDir: path.join(pkg, 'data') }).bundledFile('absent.txt'), '');
});
