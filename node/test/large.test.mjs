// Files beyond 4 GiB: offsets cross the wasm boundary as doubles and Node reads at explicit
// positions, so a tensor stored past 4 GiB quantizes to the native CLI's bytes. The input is a
// sparse 4.5 GB GGUF (no disk space used but for the last tensors' data); the outputs are
// 2.3 GB each, so this runs only with LLMQ_LARGE_TESTS=1 (about a minute).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { runNative, runNode, tempDir } from './helpers.mjs';

const enabled = process.env.LLMQ_LARGE_TESTS === '1';

function ggufHeader(kv, tensors) {
  const parts = [];
  const u32 = (v) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); parts.push(b); };
  const u64 = (v) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); parts.push(b); };
  const str = (s) => { u64(Buffer.byteLength(s)); parts.push(Buffer.from(s)); };
  parts.push(Buffer.from('GGUF'));
  u32(3);
  u64(tensors.length);
  u64(kv.length);
  for (const [key, type, value] of kv) {
    str(key);
    u32(type);
    if (type === 8) str(value);
    else u32(value);
  }
  let offset = 0;
  for (const t of tensors) {
    str(t.name);
    u32(t.ne.length);
    for (const n of t.ne) u64(n);
    u32(1); // F16
    u64(offset);
    offset += t.ne.reduce((a, b) => a * b, 1) * 2;
    offset = Math.ceil(offset / 32) * 32;
  }
  const header = Buffer.concat(parts);
  return { header, dataStart: Math.ceil(header.length / 32) * 32, dataSize: offset };
}

function sha256(file) {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(16 << 20);
  for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) hash.update(buf.subarray(0, n));
  fs.closeSync(fd);
  return hash.digest('hex');
}

test('a model larger than 4 GiB quantizes to the native bytes', { skip: !enabled && 'set LLMQ_LARGE_TESTS=1' }, () => {
  const work = tempDir('llmq-large-');
  const hidden = 2048;
  const vocab = 1_100_000; // token_embd alone: 4.5 GB of F16
  const tensors = [
    { name: 'token_embd.weight', ne: [hidden, vocab] },
    { name: 'output_norm.weight', ne: [hidden] },
    { name: 'output.weight', ne: [hidden, 512] },
  ];
  const kv = [
    ['general.architecture', 8, 'llama'], ['general.name', 8, 'sparse-large'], ['llama.block_count', 4, 0],
    ['llama.embedding_length', 4, hidden], ['llama.context_length', 4, 2048], ['llama.feed_forward_length', 4, 5632],
    ['llama.attention.head_count', 4, 32], ['llama.attention.head_count_kv', 4, 4],
  ];
  const { header, dataStart, dataSize } = ggufHeader(kv, tensors);
  const model = path.join(work, 'large.gguf');
  const fd = fs.openSync(model, 'w');
  fs.writeSync(fd, header, 0, header.length, 0);
  fs.ftruncateSync(fd, dataStart + dataSize);
  // Real values where it matters: the end of token_embd and everything after it (past 4 GiB).
  const embdEnd = dataStart + hidden * vocab * 2;
  const tail = Buffer.alloc(dataStart + dataSize - (embdEnd - (1 << 20)));
  let s = 7;
  for (let i = 0; i < tail.length; i += 2) {
    s = (s * 1103515245 + 12345) % 2147483648;
    tail.writeUInt16LE(0x2000 + (s % 0x1c00), i); // small positive and negative halves
    if (s & 1) tail[i + 1] |= 0x80;
  }
  fs.writeSync(fd, tail, 0, tail.length, embdEnd - (1 << 20));
  fs.closeSync(fd);
  assert.ok(fs.statSync(model).size > 2 ** 32 + 2 ** 26);

  const n = runNative(['quantize', model, '-q', 'Q8_0', '-o', path.join(work, 'native.gguf'), '--quiet']);
  assert.equal(n.code, 0, n.stderr);
  const w = runNode(['quantize', model, '-q', 'Q8_0', '-o', path.join(work, 'wasm.gguf'), '--quiet']);
  assert.equal(w.code, 0, w.stderr);
  assert.equal(sha256(path.join(work, 'wasm.gguf')), sha256(path.join(work, 'native.gguf')));
  fs.rmSync(work, { recursive: true, force: true });
});
