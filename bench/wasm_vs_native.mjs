// wasm (Node) against native: time and peak memory to quantize the synthetic TinyLlama-shaped F16
// model (2.2 GB) to Q8_0 and Q4_K_M, native with 1 thread, wasm with 1 thread (the
// single-threaded module) and with 2 (the threaded module), and whether the outputs are identical.
// Never part of `make test`.
//
//   node bench/wasm_vs_native.mjs [--layers N] [--runs N] [--levels Q8_0,Q4_K_M]
//
// --layers N writes (once) a model with N layers instead of 22 (quicker). Each run is its own
// process under GNU time; native and wasm runs alternate and the best of --runs (default 1) is
// reported: wall time, CPU time (user + system, steadier on a shared machine), peak RSS.
// Needs `make native node-stage` (build/native/llmq, make_synthetic_model, node/dist).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256File } from './util.mjs';

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
// whole process (the Node runtime included). threads 1: the single-threaded module. busiest: the
// CPU seconds of the busiest OS thread (Linux /proc, sampled every 50 ms): on a machine whose
// cores are taken by other work, the wall time cannot show what threads gain, but the split of
// the CPU time over the threads can (1 thread's CPU / the busiest of 2 bounds the speedup on
// free cores).
function runWasm(input, level, output, threads) {
  const script = `import fs from 'node:fs';
    import { quantize } from ${JSON.stringify(path.join(root, 'node', 'src', 'index.mjs'))};
    const cpu = new Map();
    const sample = () => {
      for (const tid of fs.existsSync('/proc/self/task') ? fs.readdirSync('/proc/self/task') : []) {
        try {
          const f = fs.readFileSync('/proc/self/task/' + tid + '/stat', 'utf8').split(') ')[1].split(' ');
          cpu.set(tid, Math.max(cpu.get(tid) ?? 0, (Number(f[11]) + Number(f[12])) / 100));
        } catch {}
      }
    };
    const timer = setInterval(sample, 50);
    const r = await quantize(process.argv[1], { level: process.argv[2], output: process.argv[3], threads: Number(process.argv[4]) });
    clearInterval(timer);
    if (r.wasm_threads !== Number(process.argv[4])) throw new Error('ran with ' + r.wasm_threads + ' threads');
    console.log(JSON.stringify({ heap: r.wasm_heap_bytes, busiest: Math.max(0, ...cpu.values()) }));`;
  const t = timed(process.execPath, ['--input-type=module', '-e', script, input, level, output, String(threads)]);
  const { heap, busiest } = JSON.parse(t.stdout);
  return { ...t, heap, busiest };
}

const input = model();
const size = fs.statSync(input).size;
const mb = (n) => (n / 2 ** 20).toFixed(1);
console.log(`model ${path.relative(root, input)}: ${(size / 1e9).toFixed(2)} GB, ${layers} layers; best of ${runs} run(s)`);
console.log('level    wall s: native wasm1t wasm2t  w1/n  w1/w2 | CPU s: native wasm1t wasm2t  w1/n | busiest thread s: 1t 2t  ratio | wasm1t MB/s | peak RSS MiB: native wasm1t wasm2t | heap MiB 1t 2t | identical');
const best = (a, x) => (a
  ? { ...a, wall: Math.min(a.wall, x.wall), cpu: Math.min(a.cpu, x.cpu), rss: Math.min(a.rss, x.rss), busiest: Math.min(a.busiest, x.busiest) }
  : x);
for (const level of levels) {
  const n = path.join(out, `native-${level}.gguf`);
  const w1 = path.join(out, `wasm1-${level}.gguf`);
  const w2 = path.join(out, `wasm2-${level}.gguf`);
  // Interleaved, so a busy spell hits every side alike.
  let a = null;
  let b = null;
  let c = null;
  for (let i = 0; i < runs; ++i) {
    a = best(a, runNative(input, level, n));
    b = best(b, runWasm(input, level, w1, 1));
    c = best(c, runWasm(input, level, w2, 2));
  }
  const reference = sha256File(n);
  const same = sha256File(w1) === reference && sha256File(w2) === reference;
  console.log([
    level.padEnd(8), a.wall.toFixed(2).padStart(14), b.wall.toFixed(2).padStart(6), c.wall.toFixed(2).padStart(6),
    (b.wall / a.wall).toFixed(2).padStart(5), (b.wall / c.wall).toFixed(2).padStart(6),
    a.cpu.toFixed(2).padStart(15), b.cpu.toFixed(2).padStart(6), c.cpu.toFixed(2).padStart(6), (b.cpu / a.cpu).toFixed(2).padStart(5),
    b.busiest.toFixed(2).padStart(21), c.busiest.toFixed(2).padStart(5), (b.busiest / c.busiest).toFixed(2).padStart(6),
    (size / 1e6 / b.wall).toFixed(1).padStart(13), mb(a.rss).padStart(22), mb(b.rss).padStart(6), mb(c.rss).padStart(6),
    mb(b.heap).padStart(12), mb(c.heap).padStart(6), (same ? 'yes' : 'NO').padStart(11),
  ].join(' '));
  for (const f of [n, w1, w2]) fs.rmSync(f);
}
