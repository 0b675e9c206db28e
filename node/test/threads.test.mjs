// Threads in the package: more than one thread runs the threaded module (pthreads, its pool
// Workers are worker_threads), one thread the single-threaded module; the bytes and figures are
// the native CLI's either way, and a process that used the threaded module exits by itself.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { perplexity, quantize } from '../src/index.mjs';
import { fixturesDir as fixtures } from '../../tests/support/fixtures.mjs';
import { bin, pkg, runNative, sha256, smallSyntheticModel, tempDir, withoutMeasurements } from './helpers.mjs';

const work = tempDir('llmq-threads-');
after(() => fs.rmSync(work, { recursive: true, force: true }));
const tiny = path.join(fixtures, 'models', 'tinyllama-spm.bf16.gguf');
const heldout = path.join(fixtures, 'text', 'tinystories_heldout.txt');

// A hang (pool Workers keeping the process alive) fails instead of stalling the suite.
function runNodeCli(args, env = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } });
  assert.equal(r.error, undefined, `${args.join(' ')}: ${r.error?.message}`);
  return r;
}

test('Q4_K_M of a 2-layer model: 1 and 2 threads (API and npx) write the native bytes', async () => {
  const model = smallSyntheticModel(work, 2);
  const reference = path.join(work, 'native.gguf');
  const n = runNative(['quantize', model, '-q', 'Q4_K_M', '-o', reference, '-t', '1', '--quiet']);
  assert.equal(n.code, 0, n.stderr);
  const expected = sha256(reference);
  for (const threads of [1, 2]) {
    const out = path.join(work, `api-${threads}.gguf`);
    const r = await quantize(model, { level: 'Q4_K_M', output: out, threads });
    assert.equal(r.wasm_threads, threads);
    assert.equal(sha256(out), expected, `API, ${threads} thread(s)`);
    const cli = path.join(work, `cli-${threads}.gguf`);
    const c = runNodeCli(['quantize', model, '-q', 'Q4_K_M', '-o', cli, '-t', String(threads), '--quiet']);
    assert.equal(c.status, 0, c.stderr);
    assert.equal(sha256(cli), expected, `npx llmq -t ${threads}`);
  }
});

test('LLMQ_THREADS=2 sets the default of npx llmq (native bytes); threads: 1 runs the single-threaded module', async () => {
  const out = path.join(work, 'env.gguf');
  const r = runNodeCli(['quantize', tiny, '-q', 'Q8_0', '-o', out, '--quiet'], { LLMQ_THREADS: '2' });
  assert.equal(r.status, 0, r.stderr);
  const reference = path.join(work, 'native-q8.gguf');
  assert.equal(runNative(['quantize', tiny, '-q', 'Q8_0', '-o', reference, '--quiet']).code, 0);
  assert.equal(sha256(out), sha256(reference));
  const q = await quantize(tiny, { level: 'Q8_0', output: path.join(work, 'one.gguf'), threads: 1 });
  assert.equal(q.wasm_threads, 1);
});

test('perplexity: the same figures with 1 and 2 threads as the native CLI', async () => {
  const n = runNative(['perplexity', tiny, '-f', heldout, '--ctx', '128', '--chunks', '2', '--format', 'json']);
  assert.equal(n.code, 0, n.stderr);
  const strip = (r) => {
    const { tokens_per_second: _t, ...rest } = withoutMeasurements(r);
    return rest;
  };
  const expected = strip(JSON.parse(n.stdout));
  for (const threads of [1, 2]) {
    const p = await perplexity(tiny, { text: heldout, ctx: 128, chunks: 2, threads });
    assert.deepEqual(strip(p), expected, `${threads} thread(s)`);
  }
});

test('the threaded module loaded on a Node main thread: pool threads\' host calls run, errors come back, the process exits after dispose()', () => {
  const script = `
    import { readFileSync } from 'node:fs';
    import { loadLlmq } from ${JSON.stringify(path.join(pkg, 'dist', 'llmq-core.mjs'))};
    import { nodeHost } from ${JSON.stringify(path.join(pkg, 'dist', 'node-files.mjs'))};
    const wasmBinary = readFileSync(${JSON.stringify(path.join(pkg, 'dist', 'llmq-mt.wasm'))});
    const llmq = await loadLlmq({ wasmBinary, threads: 2 });
    const host = nodeHost({ stderr: (t) => process.stderr.write(t) });
    const r = llmq.inspect(process.argv[1], host);
    const check = llmq.threadCheck({ tasks: 64 }, host);
    const failed = llmq.threadCheck({ tasks: 16, missing: process.argv[1] + '.missing' }, host);
    const after = llmq.threadCheck({ tasks: 16 }, host);
    console.log(JSON.stringify({ threads: llmq.threads, ok: r.ok, tensors: r.result?.tensors?.length, check, failed, after }));
    llmq.dispose();`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, tiny], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.error, undefined, `did not exit: ${r.error?.message}`);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.threads, 2);
  assert.equal(out.ok, true);
  assert.ok(out.tensors > 0);
  // Every task called the host's clock; some ran on the pool thread (their calls went through
  // the loading thread).
  assert.deepEqual({ ...out.check, offThread: out.check.offThread > 0 }, { ok: true, tasks: 64, offThread: true, threads: 2 });
  // A host error in a task (a missing file) is the run's error, and the pool stays usable.
  assert.equal(out.failed.ok, false);
  assert.equal(out.failed.error.code, 3);
  assert.match(out.failed.error.message, /missing/);
  assert.equal(out.after.ok, true);
});
