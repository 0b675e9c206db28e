// Prompt-processing speed of the runtime, native (1 and 2 threads) against wasm in Node (1 thread:
// the single-threaded module; 2: the threaded one): tokens/s for one sequence of ctx tokens (256 and 512) through the layer streamer
// (weights streamed from the file on every run, as perplexity and calibration use it) and the
// resident executor (weights loaded once, as generate). The same work on both sides: native
// figures come from bench_forward, wasm figures from the module's forwardSpeed (the same ids).
// Never part of `make test`.
//
//   node bench/runtime_speed.mjs [--reps N] [--no-big] [MODEL.gguf...]
//
// Default models: the two fixture models and the synthetic TinyLlama-1.1B-shaped F16 model
// (build/bench/, made with make_synthetic_model when missing; streamed only and one rep in
// wasm: resident F16 weights of 2.2 GB leave little of the 4 GB wasm heap). Needs a native build
// with bench_forward and make_synthetic_model (LLMQ_NATIVE names its llmq; default
// build/native/llmq) and the staged module (`make node-stage`).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixturesDir as fixtures } from '../tests/support/fixtures.mjs';
import { takeOption } from './util.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = path.dirname(process.env.LLMQ_NATIVE ?? path.join(root, 'build', 'native', 'llmq'));
const dist = path.join(root, 'node', 'dist');

const args = process.argv.slice(2);
const option = (name, fallback) => takeOption(args, name, fallback);
const reps = Number(option('--reps', '2'));
const big = !args.includes('--no-big');
const listed = args.filter((a) => !a.startsWith('--'));
const ctxs = [256, 512];

function bigModel() {
  const file = path.join(root, 'build', 'bench', 'synthetic-llama-1.1b-f16.gguf');
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    console.error(`generating ${file} ...`);
    const r = spawnSync(path.join(nativeDir, 'make_synthetic_model'), [file], { stdio: 'inherit' });
    if (r.status !== 0) process.exit(1);
  }
  return file;
}

const models = listed.length
  ? listed.map((file) => ({ file, big: fs.statSync(file).size > 1e9 }))
  : [
    ...['tinyllama-spm', 'tinyqwen-bpe'].map((n) => ({ file: path.join(fixtures, 'models', `${n}.bf16.gguf`), big: false })),
    ...(big ? [{ file: bigModel(), big: true }] : []),
  ];

// bench_forward's table: model ctx threads streamed resident.
function nativeFigures(model) {
  const r = spawnSync(path.join(nativeDir, 'bench_forward'),
    [model.file, '--ctx', ctxs.join(','), '--threads', '1,2', '--reps', String(model.big ? 1 : reps)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bench_forward failed: ${r.stderr}`);
  const rows = [];
  for (const line of r.stdout.trim().split('\n').slice(1)) {
    const [, ctx, threads, streamed, resident] = line.trim().split(/\s+/);
    rows.push({ ctx: Number(ctx), threads: Number(threads), streamed: Number(streamed), resident: Number(resident) });
  }
  return rows;
}

const { loadLlmq } = await import(path.join(dist, 'llmq-core.mjs'));
const { nodeHost } = await import(path.join(dist, 'node-files.mjs'));

// CPU seconds of each OS thread of this process (Linux /proc; empty elsewhere). The busiest
// thread's share of a call shows what threads gain where other work takes the cores.
function threadCpu() {
  const cpu = new Map();
  const dir = '/proc/self/task';
  for (const tid of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    try {
      const f = fs.readFileSync(`${dir}/${tid}/stat`, 'utf8').split(') ')[1].split(' ');
      cpu.set(tid, (Number(f[11]) + Number(f[12])) / 100);
    } catch {
      // the thread ended
    }
  }
  return cpu;
}

async function wasmFigures(model, threads) {
  // A fresh instance per model: the heap only grows, and the 1.1B model needs most of it. The
  // threaded module blocks this (main) thread during a call, which Node allows.
  const llmq = await loadLlmq({ wasmBinary: fs.readFileSync(path.join(dist, threads > 1 ? 'llmq-mt.wasm' : 'llmq.wasm')), threads });
  if (llmq.threads !== threads) throw new Error(`wasm: ${llmq.threads} threads instead of ${threads}`);
  llmq.setWorkingDirectory(process.cwd());
  const rows = [];
  for (const ctx of ctxs) {
    const before = threadCpu();
    const r = llmq.forwardSpeed({ model: model.file, ctx, reps: model.big ? 1 : reps, resident: !model.big }, nodeHost({ stderr: (t) => process.stderr.write(t) }));
    if (!r.ok) throw new Error(`wasm forwardSpeed: ${r.error.message}`);
    const after = threadCpu();
    const busiest = Math.max(0, ...[...after].map(([tid, cpu]) => cpu - (before.get(tid) ?? 0)));
    rows.push({ ctx, threads, streamed: r.streamed_tokens_per_second, resident: r.resident_tokens_per_second, busiest });
  }
  llmq.dispose();
  return rows;
}

const fmt = (x) => (x === null || x === undefined || Number.isNaN(x) ? '-' : x.toFixed(1));
console.log('prompt processing, tokens/s (best of runs; streamed = layer streamer, resident = KV-cache executor)');
console.log('(cpu ratio: CPU seconds of the busiest thread of a wasm call, 1 thread over 2: the speedup 2 threads allow on free cores)');
console.log(`${'model'.padEnd(34)} ${'ctx'.padStart(5)} ${'native 1t str'.padStart(14)} ${'2t str'.padStart(9)} ${'wasm1t str'.padStart(11)} ${'wasm2t str'.padStart(11)} ${'native 1t res'.padStart(14)} ${'2t res'.padStart(9)} ${'wasm1t res'.padStart(11)} ${'wasm2t res'.padStart(11)} ${'w1/n1'.padStart(6)} ${'w2/w1'.padStart(6)} ${'cpu ratio'.padStart(10)}`);
for (const model of models) {
  const n = nativeFigures(model);
  const w = [...await wasmFigures(model, 1), ...await wasmFigures(model, 2)];
  for (const ctx of ctxs) {
    const n1 = n.find((r) => r.ctx === ctx && r.threads === 1);
    const n2 = n.find((r) => r.ctx === ctx && r.threads === 2);
    const w1 = w.find((r) => r.ctx === ctx && r.threads === 1);
    const w2 = w.find((r) => r.ctx === ctx && r.threads === 2);
    console.log(`${path.basename(model.file).padEnd(34)} ${String(ctx).padStart(5)} ${fmt(n1.streamed).padStart(14)} ${fmt(n2.streamed).padStart(9)} ${fmt(w1.streamed).padStart(11)} ${fmt(w2.streamed).padStart(11)} ${fmt(n1.resident).padStart(14)} ${fmt(n2.resident).padStart(9)} ${fmt(w1.resident).padStart(11)} ${fmt(w2.resident).padStart(11)} ${(w1.streamed / n1.streamed).toFixed(2).padStart(6)} ${(w2.streamed / w1.streamed).toFixed(2).padStart(6)} ${(w2.busiest > 0 ? (w1.busiest / w2.busiest).toFixed(2) : '-').padStart(10)}`);
  }
}
