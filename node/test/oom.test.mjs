// Running out of wasm memory is an error with a hint, never a crash or a hung worker. The module
// is given a memory that cannot grow past 20 MiB, and the job asks for more.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { loadLlmq } from '../dist/llmq-core.mjs';
import { nodeHost } from '../dist/node-files.mjs';
import { pkg, smallSyntheticModel, tempDir } from './helpers.mjs';

const work = tempDir('llmq-oom-');
after(() => fs.rmSync(work, { recursive: true, force: true }));
const wasmBinary = fs.readFileSync(path.join(pkg, 'dist', 'llmq.wasm'));
const smallMemory = () => new WebAssembly.Memory({ initial: 256, maximum: 320 });

test('the quantize job reports out of memory (code 5) and leaves no output', async () => {
  const llmq = await loadLlmq({ wasmBinary, memory: smallMemory() });
  const model = smallSyntheticModel(work);
  const out = path.join(work, 'oom.gguf');
  const r = llmq.quantize({ model, level: 'Q8_0', output: out }, nodeHost());
  assert.equal(r.ok, false);
  assert.equal(r.error.code, 5);
  assert.equal(r.error.type, 'out_of_memory');
  assert.match(r.error.hint, /chunkMb/);
  assert.ok(!fs.existsSync(out) && !fs.existsSync(`${out}.part`));
  // The module stays usable: a smaller row buffer fits.
  const ok = llmq.quantize({ model, level: 'Q8_0', output: out, chunkMb: 1 }, nodeHost());
  assert.equal(ok.ok, true, JSON.stringify(ok.error));
});

test('the command line says so with exit code 5 and the CLI hint', async () => {
  const llmq = await loadLlmq({ wasmBinary, memory: smallMemory() });
  let err = '';
  const code = llmq.runCli(['quantize', smallSyntheticModel(work), '-q', 'Q8_0', '-o', path.join(work, 'cli.gguf')],
    nodeHost({ stderr: (t) => (err += t) }));
  assert.equal(code, 5);
  assert.equal(err, 'error: out of memory\nhint: use a smaller --chunk-mb or fewer threads\n');
});
