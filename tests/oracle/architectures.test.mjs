// Every architecture feature llmq's runtime implements, checked against llama.cpp itself (the
// prebuilt library in node-llama-cpp) on small random models written here (gguf_writer.mjs, not
// llmq's writer): GQA, q/k/v biases and tied output (qwen2), per-head q/k norms with a head width
// unrelated to n_embd (qwen3), Llama 3's rope_freqs.weight, linear RoPE scaling. Same text and
// vocabulary (the tinyqwen-bpe fixture's), llama-perplexity's procedure on both sides: the
// perplexities must agree within 0.5%, where a wrong detail (e.g. q and k norms swapped, or the
// frequency factors ignored) moves them by far more — the test checks that too.
// Run after `make native` (uses build/native/llmq); part of `make test`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { getLlama } from "node-llama-cpp";
import { gguf } from "@huggingface/gguf";
import { llamaCppScores, perplexity } from "./llama_cpp_scores.mjs";
import { fixturesDir as fixtures } from "../support/fixtures.mjs";
import { T, normalSource, writeGguf } from "./gguf_writer.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const llmq = process.env.LLMQ_BIN ?? join(root, "build", "native", "llmq");
const text = join(fixtures, "text", "tinystories_heldout.txt");
const work = mkdtempSync(join(tmpdir(), "llmq-oracle-arch-"));
const nCtx = 128, nChunks = 4;

const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });

// The fixture's byte-level BPE vocabulary (4096 tokens), copied key by key with its GGUF types.
const { metadata: vocabSource } = await gguf(join(fixtures, "models", "tinyqwen-bpe.bf16.gguf"), { allowLocalFile: true });
const vocabKv = [
  ["tokenizer.ggml.model", T.STRING, vocabSource["tokenizer.ggml.model"]],
  ["tokenizer.ggml.pre", T.STRING, vocabSource["tokenizer.ggml.pre"]],
  ["tokenizer.ggml.tokens", T.ARRAY, vocabSource["tokenizer.ggml.tokens"], T.STRING],
  ["tokenizer.ggml.token_type", T.ARRAY, vocabSource["tokenizer.ggml.token_type"], T.I32],
  ["tokenizer.ggml.merges", T.ARRAY, vocabSource["tokenizer.ggml.merges"], T.STRING],
  ["tokenizer.ggml.bos_token_id", T.U32, Number(vocabSource["tokenizer.ggml.bos_token_id"])],
  ["tokenizer.ggml.eos_token_id", T.U32, Number(vocabSource["tokenizer.ggml.eos_token_id"])],
];
const nVocab = vocabSource["tokenizer.ggml.tokens"].length;

/** A random model of spec; mutate(tensors) may alter it (for the sensitivity checks). */
function writeModel(name, spec, mutate = null) {
  const s = { nEmbd: 64, nLayer: 2, nHead: 4, nHeadKv: 2, headDim: 16, nFf: 128, theta: 10000, eps: 1e-5, seed: 7, ...spec };
  const normal = normalSource(s.seed);
  const tensors = [];
  const add = (tname, ne, scale, mean = 0) => {
    const data = new Float32Array(ne.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; ++i) data[i] = mean + scale * normal();
    tensors.push({ name: tname, ne, data });
  };
  add("token_embd.weight", [s.nEmbd, nVocab], 1);
  for (let l = 0; l < s.nLayer; ++l) {
    const p = `blk.${l}.`;
    add(p + "attn_norm.weight", [s.nEmbd], 0.2, 1);
    add(p + "attn_q.weight", [s.nEmbd, s.nHead * s.headDim], 1 / Math.sqrt(s.nEmbd));
    add(p + "attn_k.weight", [s.nEmbd, s.nHeadKv * s.headDim], 1 / Math.sqrt(s.nEmbd));
    add(p + "attn_v.weight", [s.nEmbd, s.nHeadKv * s.headDim], 1 / Math.sqrt(s.nEmbd));
    if (s.biases) {
      add(p + "attn_q.bias", [s.nHead * s.headDim], 0.3);
      add(p + "attn_k.bias", [s.nHeadKv * s.headDim], 0.3);
      add(p + "attn_v.bias", [s.nHeadKv * s.headDim], 0.3);
    }
    if (s.qkNorm) {
      add(p + "attn_q_norm.weight", [s.headDim], 0.3, 1);
      add(p + "attn_k_norm.weight", [s.headDim], 0.3, 1);
    }
    add(p + "attn_output.weight", [s.nHead * s.headDim, s.nEmbd], 1 / Math.sqrt(s.nHead * s.headDim));
    add(p + "ffn_norm.weight", [s.nEmbd], 0.2, 1);
    add(p + "ffn_gate.weight", [s.nEmbd, s.nFf], 1 / Math.sqrt(s.nEmbd));
    add(p + "ffn_up.weight", [s.nEmbd, s.nFf], 1 / Math.sqrt(s.nEmbd));
    add(p + "ffn_down.weight", [s.nFf, s.nEmbd], 1 / Math.sqrt(s.nFf));
  }
  add("output_norm.weight", [s.nEmbd], 0.2, 1);
  // Logits of a few units, so that the distributions depend strongly on the hidden state.
  if (!s.tied) add("output.weight", [s.nEmbd, nVocab], 0.5);
  if (s.ropeFreqs) {
    // Llama 3 style divisors: 1 for the fast pairs, growing to 8 for the slow ones.
    const half = s.headDim / 2;
    tensors.push({ name: "rope_freqs.weight", ne: [half], data: Float32Array.from({ length: half }, (_, i) => 1 + (7 * i) / (half - 1)) });
  }
  if (mutate) mutate(tensors);
  const a = s.arch;
  const kv = [
    ["general.architecture", T.STRING, a],
    [`${a}.embedding_length`, T.U32, s.nEmbd],
    [`${a}.block_count`, T.U32, s.nLayer],
    [`${a}.feed_forward_length`, T.U32, s.nFf],
    [`${a}.attention.head_count`, T.U32, s.nHead],
    [`${a}.attention.head_count_kv`, T.U32, s.nHeadKv],
    [`${a}.attention.key_length`, T.U32, s.headDim],
    [`${a}.attention.value_length`, T.U32, s.headDim],
    [`${a}.attention.layer_norm_rms_epsilon`, T.F32, s.eps],
    [`${a}.rope.freq_base`, T.F32, s.theta],
    [`${a}.rope.dimension_count`, T.U32, s.headDim],
    [`${a}.context_length`, T.U32, 2048],
    ...(s.ropeScale ? [[`${a}.rope.scaling.type`, T.STRING, "linear"], [`${a}.rope.scaling.factor`, T.F32, s.ropeScale]] : []),
    ...vocabKv,
  ];
  const path = join(work, `${name}.gguf`);
  writeGguf(path, kv, tensors);
  return path;
}

function llmqPerplexity(path) {
  const out = execFileSync(llmq, ["perplexity", path, "-f", text, "--ctx", String(nCtx), "--chunks", String(nChunks), "--format", "json", "--quiet"], {
    encoding: "utf8",
  });
  return JSON.parse(out).perplexity;
}

const llamaCppPerplexity = async (path) => perplexity((await llamaCppScores(llama, { modelPath: path, textPath: text, nCtx, nChunks })).scores);

const cases = [
  ["llama, grouped-query attention", { arch: "llama" }],
  ["llama, multi-head, tied output, linear RoPE scaling ×4", { arch: "llama", nHeadKv: 4, tied: true, ropeScale: 4 }],
  ["llama, Llama 3 rope_freqs.weight", { arch: "llama", theta: 500000, ropeFreqs: true }],
  ["qwen2, q/k/v biases, tied output", { arch: "qwen2", biases: true, tied: true, theta: 1e6, eps: 1e-6 }],
  ["qwen3, q/k norms, 32-wide heads (q width 128 ≠ n_embd 64)", { arch: "qwen3", qkNorm: true, headDim: 32, nHeadKv: 1, theta: 1e6, eps: 1e-6 }],
];

// llmq's perplexity of case i's model, computed once.
const ours = new Map();
const oursFor = (i) => {
  if (!ours.has(i)) ours.set(i, llmqPerplexity(writeModel(`case-${i}`, cases[i][1])));
  return ours.get(i);
};

for (const [i, [name]] of cases.entries()) {
  test(`${name}: llmq's perplexity is llama.cpp's within 0.5%`, async () => {
    const mine = oursFor(i);
    const theirs = await llamaCppPerplexity(join(work, `case-${i}.gguf`));
    console.log(`# ${name}: llmq ${mine.toFixed(3)}, llama.cpp ${theirs.toFixed(3)} (${(100 * (mine / theirs - 1)).toFixed(3)}%)`);
    assert.ok(Math.abs(mine / theirs - 1) < 0.005, `${mine} vs ${theirs}`);
  });
}

// The comparison can fail: llama.cpp on a model that differs only in a detail the runtime must
// get right lands far outside the tolerance from llmq's figure for the original.
test("sensitivity: swapped q/k norms or dropped frequency factors move llama.cpp's perplexity by > 2%", async () => {
  const qwen3 = 4, rope = 2;
  const swapped = writeModel("qwen3-swapped", cases[qwen3][1], (tensors) => {
    for (const t of tensors) {
      if (t.name.endsWith("attn_q_norm.weight")) t.name = t.name.replace("attn_q_norm", "attn_k_norm");
      else if (t.name.endsWith("attn_k_norm.weight")) t.name = t.name.replace("attn_k_norm", "attn_q_norm");
    }
  });
  const qwen3Swapped = await llamaCppPerplexity(swapped);
  const unscaled = writeModel("llama3-unscaled", cases[rope][1], (tensors) => {
    for (const t of tensors) if (t.name === "rope_freqs.weight") t.data.fill(1);
  });
  const ropeUnscaled = await llamaCppPerplexity(unscaled);
  for (const [i, other] of [[qwen3, qwen3Swapped], [rope, ropeUnscaled]]) {
    const [name] = cases[i];
    const mine = oursFor(i);
    console.log(`# ${name}: llmq ${mine.toFixed(3)}; llama.cpp with the detail changed ${other.toFixed(3)} (${(100 * (mine / other - 1)).toFixed(2)}%)`);
    assert.ok(Math.abs(mine / other - 1) > 0.02, `${name}: the check would not notice (${mine} vs ${other})`);
  }
});
