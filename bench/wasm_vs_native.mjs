// wasm (Node) against native, single-threaded: time and peak memory to quantize the synthetic
// TinyLlama-shaped F16 model (2.2 GB) to Q8_0 and Q4_K_M, and whether the outputs are identical.
// Never part of `make test`.
//
//   node bench/wasm_vs_native.mjs [--layers N] [--runs N] [--levels Q8_0,Q4_K_M]
//
// --layers N writes (once) a model with N layers instead of 22 (quicker). Each run is its own
// process under GNU time; native and wasm runs alternate and the best of --runs (default 1) is
// reported: wall time, CPU time (user + system, steadier on a shared machine), peak RSS.
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

// Runs a command under GNU time: wall and CPU seconds (user + system) of the whole process.
// CPU time is the steadier figure on a shared machine; wall time is what a user waits.
function timed(command, args) {
  const stats = path.join(out, 'time.txt');
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', '-o', stats, command, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${command} failed: ${r.stderr}`);
  const [wall, user, system, maxKiB] = fs.readFileSync(stats, 'utf8').trim().split(/\s+/).map(Number);
  return { stdout: r.stdout, wall, cpu: user + system, rss: maxKiB * 1024 };
}

function runNative(input, level, output) {
  const t = timed(native, ['quantize', input, '-q', level, '-o', output, '-t', '1', '--format', 'json', '--quiet']);
  return { ...t, heap: null };
}

// The API in a fresh Node process; wasm_heap_bytes is the module's linear memory, the RSS the
// whole process (the Node runtime included).
function runWasm(input, level, output) {
  const script = `import { quantize } from ${JSON.stringify(path.join(root, 'node', 'src', 'index.mjs'))};
    const r = await quantize(process.argv[1], { level: process.argv[2], output: process.argv[3] });
    console.log(JSON.stringify({ heap: r.wasm_heap_bytes }));`;
  const t = timed(process.execPath, ['--input-type=module', '-e', script, input, level, output]);
  return { ...t, heap: JSON.parse(t.stdout).heap };
}

const input = model();
const size = fs.statSync(input).size;
const mb = (n) => (n / 2 ** 20).toFixed(1);
console.log(`model ${path.relative(root, input)}: ${(size / 1e9).toFixed(2)} GB, ${layers} layers; best of ${runs} run(s)`);
console.log('level    wall s: native   wasm  ratio | CPU s: native   wasm  ratio | wasm MB/s | peak RSS MiB: native  wasm | wasm heap MiB | identical');
for (const level of levels) {
  const n = path.join(out, `native-${level}.gguf`);
  const w = path.join(out, `wasm-${level}.gguf`);
  // Interleaved, so a busy spell hits both sides alike.
  let a = null;
  let b = null;
  for (let i = 0; i < runs; ++i) {
    const x = runNative(input, level, n);
    const y = runWasm(input, level, w);
    a = a ? { ...a, wall: Math.min(a.wall, x.wall), cpu: Math.min(a.cpu, x.cpu), rss: Math.min(a.rss, x.rss) } : x;
    b = b ? { ...b, wall: Math.min(b.wall, y.wall), cpu: Math.min(b.cpu, y.cpu), rss: Math.min(b.rss, y.rss) } : y;
  }
  const same = sha256(n) === sha256(w);
  console.log([
    level.padEnd(8), a.wall.toFixed(2).padStart(14), b.wall.toFixed(2).padStart(6), (b.wall / a.wall).toFixed(2).padStart(6),
    a.cpu.toFixed(2).padStart(15), b.cpu.toFixed(2).padStart(6), (b.cpu / a.cpu).toFixed(2).padStart(6),
    (size / 1e6 / b.wall).toFixed(1).padStart(11), mb(a.rss).padStart(21), mb(b.rss).padStart(5), mb(b.heap).padStart(15),
    (same ? 'yes' : 'NO').padStart(11),
  ].join(' '));
  fs.rmSync(n);
  fs.rmSync(w);
}
