// Independent checks of dynamic quantization's files: llama.cpp (node-llama-cpp's prebuilt
// library) loads every one and its perplexity over the whole held-out text agrees with
// `llmq perplexity --numerics ggml` (rounding as llama.cpp's CPU backend does) within 0.5 %, and
// @huggingface/gguf reads the types llmq reported and the llmq.profile / llmq.target keys.
// Run after `make native` (uses build/native/llmq); part of `make test`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { getLlama } from "node-llama-cpp";
import { gguf } from "@huggingface/gguf";
import { llamaCppScores, perplexity } from "./llama_cpp_scores.mjs";
import { fixturesDir as fixtures } from "../support/fixtures.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const llmq = process.env.LLMQ_BIN ?? join(root, "build", "native", "llmq");
const text = join(fixtures, "text", "tinystories_heldout.txt");
const train = join(fixtures, "text", "tinystories_train.txt");
const work = mkdtempSync(join(tmpdir(), "llmq-oracle-dynamic-"));
process.on("exit", () => rmSync(work, { recursive: true, force: true }));
const nCtx = 256, nChunks = 1000;  // all of the held-out text (47 chunks)
const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });

const run = (args) => execFileSync(llmq, args, { encoding: "utf8", env: { ...process.env, LLM_QUANTIZE_IMATRIX_CACHE: join(work, "cache") } });

// In float (--numerics exact) llama.cpp's 8-bit rounding of the matmul inputs of compression-max's
// IQ2/IQ3 tensors moves its figure 0.6 % from llmq's on tinyqwen; with llama.cpp's rounding, 0.3 %.
const cases = [
  { model: "tinyllama-spm", profile: "balanced", target: ["--target-size", "2.9MB"] },
  { model: "tinyllama-spm", profile: "attention-high", target: [] },
  { model: "tinyqwen-bpe", profile: "compression-max", target: [] },
];

for (const c of cases) {
  test(`${c.model} dynamic ${c.profile} ${c.target.join(" ")}: llama.cpp loads it and agrees on perplexity`, async () => {
    const original = join(fixtures, "models", `${c.model}.bf16.gguf`);
    const imatrix = join(work, `${c.model}.imatrix`);
    run(["analyze", original, "--calibration-data", train, "--calibration-samples", "128", "--ctx", "64", "-o", imatrix, "--quiet"]);
    const out = join(work, `${c.model}-${c.profile}.gguf`);
    const result = JSON.parse(run(["quantize", original, "-q", "dynamic", "--profile", c.profile, ...c.target, "--imatrix", imatrix,
      "--calibration-samples", "2", "-o", out, "--format", "json", "--quiet"]));
    assert.equal(result.file_size, statSync(out).size);

    // @huggingface/gguf: the types and the keys.
    const { metadata, tensorInfos } = await gguf(out, { allowLocalFile: true });
    assert.equal(metadata["llmq.profile"], c.profile);
    assert.equal(metadata["llmq.target"], result.target);
    const reported = new Map(result.tensors.map((t) => [t.name, t.type.toUpperCase()]));
    assert.equal(tensorInfos.length, reported.size);
    const ggmlNames = { 0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K",
      14: "Q6_K", 16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS", 30: "BF16", 39: "MXFP4", 41: "Q1_0", 42: "Q2_0" };
    for (const info of tensorInfos) assert.equal(ggmlNames[info.dtype], reported.get(info.name), info.name);
    const kinds = new Set(result.tensors.map((t) => t.type));
    assert.ok(kinds.size >= 3, `a mix, not one type: ${[...kinds]}`);

    // llama.cpp runs it.
    const ours = JSON.parse(run(["perplexity", out, "-f", text, "--ctx", String(nCtx), "--chunks", String(nChunks), "--numerics", "ggml", "--format", "json", "--quiet"]));
    const { scores } = await llamaCppScores(llama, { modelPath: out, textPath: text, nCtx, nChunks });
    const theirs = perplexity(scores);
    console.log(`# ${c.model} ${c.profile}: ${result.file_size} bytes, ${result.effective_bpw.toFixed(3)} bpw, types ${[...kinds].join(" ")}; ` +
      `llmq ${ours.perplexity.toFixed(3)}, llama.cpp ${theirs.toFixed(3)} (${(100 * (ours.perplexity / theirs - 1)).toFixed(3)}%)`);
    assert.equal(ours.scored_tokens, scores.length);
    assert.equal(ours.numerics, "ggml");
    assert.ok(Math.abs(ours.perplexity / theirs - 1) < 0.005);
  });
}
