// Independent oracles for `llmq quality report`: llama.cpp itself (node-llama-cpp's prebuilt
// library) scores the same chunks — perplexity of the original and of quantized files, and the
// KL divergence of their distributions (reference §6) — and the per-tensor weight errors are
// recomputed here from the files' bytes, read with @huggingface/gguf and decoded by the BF16,
// Q4_K and Q6_K decoders below (written from reference/ggml-formats.md, not from llmq).
// Run after `make native`; part of `make test`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, openSync, readSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { getLlama } from "node-llama-cpp";
import { gguf } from "@huggingface/gguf";
import { llamaCppScores, perplexity } from "./llama_cpp_scores.mjs";
import { fixturesDir as fixtures } from "../support/fixtures.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const llmq = process.env.LLMQ_BIN ?? join(root, "build", "native", "llmq");
const original = join(fixtures, "models", "tinyllama-spm.bf16.gguf");
const text = join(fixtures, "text", "tinystories_train.txt");
const work = mkdtempSync(join(tmpdir(), "llmq-oracle-quality-"));
// 8 chunks in `make test`; LLMQ_ORACLE_CHUNKS=40 for the acceptance figures (about 12 minutes:
// node-llama-cpp's probability maps cost ~6 s per chunk).
const nCtx = 256, nChunks = Number(process.env.LLMQ_ORACLE_CHUNKS ?? 8);

const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });

function quantize(level) {
  const out = join(work, `tinyllama-${level}.gguf`);
  execFileSync(llmq, ["quantize", original, "-q", level, "-o", out, "--quiet"]);
  return out;
}

function report(quantized, extra = []) {
  return JSON.parse(execFileSync(llmq, ["quality", "report", original, quantized, "-f", text, "--ctx", String(nCtx), "--chunks", String(nChunks),
    "--format", "json", ...extra], { encoding: "utf8" }));
}

// KL divergence of llama.cpp's own distributions, as llama-perplexity --kl-divergence sums it.
function kldOf(base, q) {
  let sum = 0, same = 0;
  for (let i = 0; i < base.length; ++i) {
    const pb = base[i].dist, pq = q[i].dist;
    let s = 0;
    for (const [t, p] of pb) if (p > 0 && Math.log(p) > -16) s += p * (Math.log(p) - Math.log(Math.max(pq.get(t) ?? 0, 1e-45)));
    sum += s;
    if (pb.keys().next().value === pq.keys().next().value) same++;
  }
  return { kld: sum / base.length, top1: same / base.length };
}

const baseScores = await llamaCppScores(llama, { modelPath: original, textPath: text, nCtx, nChunks, withDistributions: true });

// The report rounds as llama.cpp's CPU backend does (--numerics ggml, its default), so its KL
// divergence is llama.cpp's up to the realisation of that rounding noise, which is not bit for bit
// llama.cpp's (docs/runtime.md): about ±1% of a Q4_K_M's KLD over 8 chunks, ±0.3% over 40. In float
// (--numerics exact) the KLD of Q4_K_M is 2-2.6% low and that of Q8_0 62% low, which the bounds
// below reject.
const kldTolerance = { Q4_K_M: nChunks >= 40 ? 0.005 : 0.015, Q2_K: nChunks >= 40 ? 0.005 : 0.015, Q8_0: nChunks >= 40 ? 0.005 : 0.05 };

for (const level of ["Q4_K_M", "Q2_K", "Q8_0"]) {
  test(`quality report of ${level}: perplexities within 0.5% of llama.cpp's, KL divergence as llama.cpp's distributions give it`, async () => {
    const file = quantize(level);
    const r = report(file);
    const q = await llamaCppScores(llama, { modelPath: file, textPath: text, nCtx, nChunks, tokensFrom: baseScores.tokens, withDistributions: true });
    const pplOriginal = perplexity(baseScores.scores), pplQuantized = perplexity(q.scores);
    const { kld, top1 } = kldOf(baseScores.scores, q.scores);
    const m = r.metrics;
    console.log(`# ${level}: perplexity ${m.perplexity_original.toFixed(4)} / ${pplOriginal.toFixed(4)} (original), ${m.perplexity_quantized.toFixed(4)} / `
      + `${pplQuantized.toFixed(4)} (${(100 * (m.perplexity_quantized / pplQuantized - 1)).toFixed(2)}%); KLD ${m.kld_mean.toFixed(5)} ± ${m.kld_uncertainty.toFixed(5)} / ${kld.toFixed(5)} `
      + `(${(100 * (m.kld_mean / kld - 1)).toFixed(2)}%); top-1 ${(100 * m.top1_agreement).toFixed(2)}% / ${(100 * top1).toFixed(2)}%`);
    assert.equal(r.text.numerics, "ggml");
    assert.equal(r.text.scored_tokens, baseScores.scores.length);
    assert.ok(Math.abs(m.perplexity_original / pplOriginal - 1) < 0.005);
    assert.ok(Math.abs(m.perplexity_quantized / pplQuantized - 1) < 0.005);
    assert.ok(Math.abs(m.kld_mean / kld - 1) < kldTolerance[level], `${m.kld_mean} vs ${kld}`);
    assert.ok(Math.abs(m.top1_agreement - top1) < 0.03);
  });
}

// The decoders: ggml's block layouts (reference/ggml-formats.md §1.5, §3).
const f16 = (lo, hi) => {
  const h = lo | (hi << 8);
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 31, f = h & 1023;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
};
const bf16 = (lo, hi) => new Float32Array(new Uint32Array([(lo | (hi << 8)) << 16]).buffer)[0];

function decodeRow(type, b, n) {
  const y = new Float64Array(n);
  if (type === 30) {
    for (let i = 0; i < n; ++i) y[i] = bf16(b[2 * i], b[2 * i + 1]);
  } else if (type === 12) { // Q4_K: d, dmin (f16), 12 bytes of 6-bit scales and mins, 128 bytes of nibbles
    for (let blk = 0; blk < n / 256; ++blk) {
      const o = blk * 144, d = f16(b[o], b[o + 1]), dmin = f16(b[o + 2], b[o + 3]), sc = b.subarray(o + 4, o + 16), qs = b.subarray(o + 16, o + 144);
      const scaleMin = (j) => (j < 4 ? [sc[j] & 63, sc[j + 4] & 63]
        : [(sc[j + 4] & 0xf) | ((sc[j - 4] >> 6) << 4), (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4)]);
      for (let c = 0; c < 4; ++c) {
        const [s1, m1] = scaleMin(2 * c), [s2, m2] = scaleMin(2 * c + 1);
        for (let l = 0; l < 32; ++l) {
          const q = qs[32 * c + l];
          y[blk * 256 + 64 * c + l] = d * s1 * (q & 0xf) - dmin * m1;
          y[blk * 256 + 64 * c + 32 + l] = d * s2 * (q >> 4) - dmin * m2;
        }
      }
    }
  } else if (type === 14) { // Q6_K: 128 bytes low nibbles, 64 bytes high bits, 16 int8 scales, d (f16)
    for (let blk = 0; blk < n / 256; ++blk) {
      const o = blk * 210, d = f16(b[o + 208], b[o + 209]);
      for (let half = 0; half < 2; ++half) {
        const ql = b.subarray(o + 64 * half, o + 64 * half + 64), qh = b.subarray(o + 128 + 32 * half, o + 160 + 32 * half);
        const sc = (k) => (b[o + 192 + 8 * half + k] << 24) >> 24;
        for (let l = 0; l < 32; ++l) {
          const is = l >> 4, base = blk * 256 + 128 * half;
          y[base + l] = d * sc(is) * (((ql[l] & 0xf) | ((qh[l] & 3) << 4)) - 32);
          y[base + l + 32] = d * sc(is + 2) * (((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32);
          y[base + l + 64] = d * sc(is + 4) * (((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
          y[base + l + 96] = d * sc(is + 6) * (((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
        }
      }
    }
  } else {
    throw new Error(`no decoder for type ${type}`);
  }
  return y;
}

const rowBytes = { 30: (n) => 2 * n, 12: (n) => (n / 256) * 144, 14: (n) => (n / 256) * 210 };

// MSE, max error and relative error of one tensor, from both files' bytes.
async function errorsOf(name, quantizedPath) {
  const files = [original, quantizedPath];
  const parsed = await Promise.all(files.map((f) => gguf(f, { allowLocalFile: true })));
  const infos = parsed.map((p) => p.tensorInfos.find((t) => t.name === name));
  const n = Number(infos[0].shape[0]);
  const rows = Number(infos[0].shape.slice(1).reduce((a, b) => a * b, 1n));
  const fds = files.map((f) => openSync(f, "r"));
  let se = 0, sw = 0, max = 0;
  for (let r = 0; r < rows; ++r) {
    const decoded = [0, 1].map((k) => {
      const type = infos[k].dtype, bytes = rowBytes[type](n);
      const buf = Buffer.alloc(bytes);
      readSync(fds[k], buf, 0, bytes, Number(parsed[k].tensorDataOffset + infos[k].offset) + r * bytes);
      return decodeRow(type, buf, n);
    });
    for (let j = 0; j < n; ++j) {
      const d = decoded[0][j] - decoded[1][j];
      se += d * d;
      sw += decoded[0][j] * decoded[0][j];
      max = Math.max(max, Math.abs(d));
    }
  }
  fds.forEach(closeSync);
  return { type: infos[1].dtype, mse: se / (n * rows), max, relative: se / sw };
}

test("per-tensor errors equal an independent decoding of both files (Q4_K and Q6_K tensors)", async () => {
  const file = quantize("Q4_K_M");
  const r = report(file, ["--include-layers"]);
  const reported = new Map(r.tensor_errors.map((t) => [t.name, t]));
  const types = new Set();
  for (const name of ["blk.0.attn_q.weight", "blk.2.ffn_down.weight", "output.weight", "token_embd.weight", "blk.5.attn_v.weight"]) {
    const ours = reported.get(name);
    const theirs = await errorsOf(name, file);
    console.log(`# ${name} (${ours.type}): mse ${ours.mse.toExponential(6)} / ${theirs.mse.toExponential(6)}, max ${ours.max_error.toExponential(6)} / ${theirs.max.toExponential(6)}`);
    assert.ok(Math.abs(ours.mse / theirs.mse - 1) < 1e-6, name);
    assert.ok(Math.abs(ours.max_error / theirs.max - 1) < 1e-6, name);
    assert.ok(Math.abs(ours.relative_error / theirs.relative - 1) < 1e-6, name);
    types.add(theirs.type);
  }
  assert.ok(types.has(12) && types.has(14), "both Q4_K and Q6_K tensors were checked");
});
