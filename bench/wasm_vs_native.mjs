// wasm (Node) against native, single-threaded: time and peak memory to quantize the synthetic
// TinyLlama-shaped F16 model (2.2 GB) to Q8_0 and Q4_K_M, and whether the outputs are identical.
// Never part of `make test`.
//
//   node bench/wasm_vs_native.mjs [--layers N] [--runs N] [--levels Q8_0,Q4_K_M]
//
// --layers N writes (once) a model with N layers instead of 22 (quicker; the per-byte figures
// stay comparable). Each run is its own process; the best of --runs (default 1) is reported.
// Needs `make native node-stage` (build/native/llmq, make_synthetic_model, node/dist).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const native = process.env.LLMQ_NATIVE ?? path.join(root, 'build', 'native', 'llmq');
const out = path.join(root, 'build', 'bench-wasm');
fs.mkdirSync(out, { recursive: true });

const option = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const layers = Number(option('--layers', '22'));
const runs = Number(option('--runs', '1'));
const levels = option('--levels', 'Q8_0,Q4_K_M').split(',');

function model() {
  const shared = path.join(root, 'build', 'bench', 'synthetic-llama-1.1b-f16.gguf');
  if (layers === 22 && fs.existsSync(shared)) return shared;
  const file = path.join(out, layers === 22 ? 'synthetic-llama-1.1b-f16.gguf' : `synthetic-llama-${layers}l-f16.gguf`);
  if (!fs.existsSync(file)) {
    console.error(`generating ${file} ...`);
    const r = spawnSync(path.join(path.dirname(native), 'make_synthetic_model'), [file, '--layers', String(layers)], { stdio: 'inherit' });
    if (r.status !== 0) process.exit(1);
  }
  return file;
}

function sha256(file) {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(16 << 20);
  for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) hash.update(buf.subarray(0, n));
  fs.closeSync(fd);
  return hash.digest('hex');
}

function runNative(input, level, output) {
  const r = spawnSync(native, ['quantize', input, '-q', level, '-o', output, '-t', '1', '--format', 'json', '--quiet'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`native failed: ${r.stderr}`);
  const j = JSON.parse(r.stdout);
  return { seconds: j.duration_seconds, rss: j.peak_memory_bytes, heap: null };
}

// The API in a fresh Node process: its maxRSS is the whole process (runtime included), its
// wasm_heap_bytes the module's linear memory.
function runWasm(input, level, output) {
  const script = `import { quantize } from ${JSON.stringify(path.join(root, 'node', 'src', 'index.mjs'))};
    const r = await quantize(process.argv[1], { level: process.argv[2], output: process.argv[3] });
    console.log(JSON.stringify({ seconds: r.duration_seconds, heap: r.wasm_heap_bytes, rss: process.resourceUsage().maxRSS * 1024 }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, input, level, output], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`wasm failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function best(fn) {
  let b = null;
  for (let i = 0; i < runs; ++i) {
    const r = fn();
    if (!b || r.seconds < b.seconds) b = r;
  }
  return b;
}

const input = model();
const size = fs.statSync(input).size;
const mb = (n) => (n / 2 ** 20).toFixed(1);
console.log(`model ${path.relative(root, input)}: ${(size / 1e9).toFixed(2)} GB, ${layers} layers; ${runs} run(s) each, best time`);
console.log('level    native s  wasm s   ratio  native MB/s  wasm MB/s  native RSS MiB  wasm RSS MiB  wasm heap MiB  identical');
for (const level of levels) {
  const n = path.join(out, `native-${level}.gguf`);
  const w = path.join(out, `wasm-${level}.gguf`);
  const a = best(() => runNative(input, level, n));
  const b = best(() => runWasm(input, level, w));
  const same = sha256(n) === sha256(w);
  console.log([
    level.padEnd(8), a.seconds.toFixed(2).padStart(8), b.seconds.toFixed(2).padStart(7), (b.seconds / a.seconds).toFixed(2).padStart(7),
    (size / 1e6 / a.seconds).toFixed(1).padStart(12), (size / 1e6 / b.seconds).toFixed(1).padStart(10),
    mb(a.rss).padStart(15), mb(b.rss).padStart(13), mb(b.heap).padStart(14), (same ? 'yes' : 'NO').padStart(10),
  ].join(' '));
  fs.rmSync(n);
  fs.rmSync(w);
}
