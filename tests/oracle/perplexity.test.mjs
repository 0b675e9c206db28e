// Independent oracle for `llmq perplexity`: llama.cpp itself (the prebuilt library in
// node-llama-cpp) scores the same chunks with llama-perplexity's procedure (reference §6: BOS
// over the first token of each chunk when the vocabulary adds one, positions n_ctx/2..n_ctx-2
// predicting the next token), on the bf16 fixtures and on files llmq quantized; the KL
// divergence of a quantized file against its original is checked the same way.
// Run after `make native` (uses build/native/llmq); part of `make test`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { getLlama } from "node-llama-cpp";
import { llamaCppScores, perplexity } from "./llama_cpp_scores.mjs";
import { fixturesDir as fixtures } from "../support/fixtures.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const llmq = process.env.LLMQ_BIN ?? join(root, "build", "native", "llmq");
const models = join(fixtures, "models");
const text = join(fixtures, "text", "tinystories_train.txt");
const work = mkdtempSync(join(tmpdir(), "llmq-oracle-ppl-"));
const nCtx = 256, nChunks = 8;

const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });

const scoresOf = (modelPath, tokensFrom = null, withDistributions = false) =>
  llamaCppScores(llama, { modelPath, textPath: text, nCtx, nChunks, tokensFrom, withDistributions });

function llmqPerplexity(modelPath, extra = []) {
  const out = execFileSync(llmq, ["perplexity", modelPath, "-f", text, "--ctx", String(nCtx), "--chunks", String(nChunks), "--format", "json", "--quiet", ...extra], {
    encoding: "utf8",
  });
  return JSON.parse(out);
}

function quantize(level) {
  const out = join(work, `tinyllama-${level}.gguf`);
  execFileSync(llmq, ["quantize", join(models, "tinyllama-spm.bf16.gguf"), "-q", level, "-o", out, "--quiet"]);
  return out;
}

// Quantized files are made when their test runs.
const cases = [
  ["tinyllama-spm bf16", () => join(models, "tinyllama-spm.bf16.gguf")],
  ["tinyqwen-bpe bf16", () => join(models, "tinyqwen-bpe.bf16.gguf")],
  ...["Q8_0", "Q4_K_M", "Q2_K"].map((level) => [`tinyllama-spm ${level} (llmq)`, () => quantize(level)]),
];

for (const [name, make] of cases) {
  test(`perplexity of ${name} agrees with llama.cpp within 0.5%`, async () => {
    const path = make();
    const ours = llmqPerplexity(path);
    const { scores } = await scoresOf(path);
    const theirs = perplexity(scores);
    console.log(`# ${name}: llmq ${ours.perplexity.toFixed(4)}, llama.cpp ${theirs.toFixed(4)} (${(100 * (ours.perplexity / theirs - 1)).toFixed(3)}%)`);
    assert.equal(ours.scored_tokens, scores.length);
    assert.ok(Math.abs(ours.perplexity / theirs - 1) < 0.005);
  });
}

test("KL divergence of Q4_K_M against the original agrees with llama.cpp's distributions", async () => {
  const original = join(models, "tinyllama-spm.bf16.gguf");
  const quantized = quantize("Q4_K_M");
  const ours = llmqPerplexity(quantized, ["--kld-base", original]).kld;
  const base = await scoresOf(original, null, true);
  const q = await scoresOf(quantized, base.tokens, true);
  let kld = 0, same = 0;
  for (let i = 0; i < base.scores.length; ++i) {
    const pb = base.scores[i].dist, pq = q.scores[i].dist;
    let s = 0;
    for (const [t, p] of pb) {
      if (p > 0 && Math.log(p) > -16) s += p * (Math.log(p) - Math.log(Math.max(pq.get(t) ?? 0, 1e-45)));
    }
    kld += s;
    if (pb.keys().next().value === pq.keys().next().value) same++;
  }
  kld /= base.scores.length;
  const top1 = same / base.scores.length;
  console.log(`# Q4_K_M KLD: llmq ${ours.kld.mean.toFixed(5)} ± ${ours.kld.uncertainty.toFixed(5)}, llama.cpp ${kld.toFixed(5)}; top-1 llmq ${(100 * ours.top1_agreement).toFixed(2)}%, llama.cpp ${(100 * top1).toFixed(2)}%`);
  assert.equal(ours.tokens, base.scores.length);
  // llama.cpp multiplies quantized weights with 8-bit-quantized activations, llmq in float:
  // the means agree to within a few of their own uncertainties.
  assert.ok(Math.abs(ours.kld.mean - kld) < 3 * ours.kld.uncertainty + 0.01 * kld);
  assert.ok(Math.abs(ours.top1_agreement - top1) < 0.03);
});
