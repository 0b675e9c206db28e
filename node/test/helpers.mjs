// Shared pieces of the Node tests: where things are, running both CLIs, hashing files.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const root = path.resolve(pkg, '..');
export const bin = path.join(pkg, 'bin', 'llmq.mjs');
// The native CLI the package must agree with (`make native`); LLMQ_NATIVE points elsewhere.
export const native = process.env.LLMQ_NATIVE ?? path.join(root, 'build', 'native', 'llmq');
export const sample = path.join(root, 'models', 'sample', 'tinyllama-spm.bf16.gguf');
export const synthesize = path.join(path.dirname(native), 'make_synthetic_model');

export function tempDir(prefix = 'llmq-node-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function sha256(file) {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function run(command, args, options = {}) {
  const r = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export const runNative = (args, options) => run(native, args, options);
export const runNode = (args, options) => run(process.execPath, [bin, ...args], options);

// A small llama-shaped F16 model (about 78 MB with 2 layers, 22 MB more per layer) for jobs that
// must take a while.
export function smallSyntheticModel(dir, layers = 2) {
  const file = path.join(dir, `synthetic-${layers}.gguf`);
  if (!fs.existsSync(file)) {
    const r = run(synthesize, [file, '--layers', String(layers), '--hidden', '1024', '--ffn', '2816', '--vocab', '8192']);
    if (r.code !== 0) throw new Error(`make_synthetic_model failed: ${r.stderr}`);
  }
  return file;
}

// Fields that measure the run rather than describe the result (also inside nested reports,
// e.g. the coherence check's duration).
export function withoutMeasurements(result) {
  const { duration_seconds: _d, peak_memory_bytes: _p, output_path: _o, ...rest } = result;
  for (const [key, value] of Object.entries(rest)) {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      const { duration_seconds: _nd, ...inner } = value;
      rest[key] = inner;
    }
  }
  return rest;
}
