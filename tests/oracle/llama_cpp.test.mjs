// Independent oracle: llama.cpp itself (the prebuilt library shipped in node-llama-cpp) loads
// llmq's quantized files and generates from them; @huggingface/gguf parses their headers.
// Run after `make native` (uses build/native/llmq); part of `make test`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { getLlama, LlamaCompletion } from "node-llama-cpp";
import { gguf } from "@huggingface/gguf";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const llmq = join(root, "build", "native", "llmq");
const sample = join(root, "models", "sample", "tinyllama-spm.bf16.gguf");
const prompt = "Once upon a time, there was a little";
const levels = ["Q8_0", "Q4_0", "Q5_1", "Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K"];
const work = mkdtempSync(join(tmpdir(), "llmq-oracle-"));

function quantize(level) {
  const out = join(work, `sample-${level}.gguf`);
  const json = execFileSync(llmq, ["quantize", sample, "-q", level, "-o", out, "--format", "json", "--quiet"], {
    encoding: "utf8",
  });
  return { out, result: JSON.parse(json) };
}

// A continuation is "sensible English" when nearly all of its words are dictionary-shaped
// (letters with optional punctuation) and it is not one token repeated.
function looksLikeEnglish(text) {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const wordy = words.filter((w) => /^[A-Za-z][A-Za-z'’-]*[.,!?;:"]*$/.test(w));
  const distinct = new Set(words.map((w) => w.toLowerCase()));
  return words.length >= 12 && wordy.length / words.length >= 0.9 && distinct.size >= words.length / 3;
}

const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });

async function complete(path) {
  const model = await llama.loadModel({ modelPath: path });
  const context = await model.createContext({ contextSize: 256 });
  const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
  const text = await completion.generateCompletion(prompt, { maxTokens: 32, temperature: 0 });
  await context.dispose();
  await model.dispose();
  return text;
}

const reference = await complete(sample);

for (const level of levels) {
  test(`llama.cpp loads and runs llmq's ${level} file`, async () => {
    const { out, result } = quantize(level);
    assert.ok(existsSync(out));
    const text = await complete(out);
    console.log(`# ${level}: ${JSON.stringify(prompt + " " + text.trim())}`);
    assert.ok(looksLikeEnglish(text), `${level} continuation is not sensible English: ${text}`);
    if (level === "Q8_0" || level === "Q6_K") {
      // Near-lossless levels reproduce the bf16 model's first words.
      const first = (s) => s.trim().split(/\s+/).slice(0, 6).join(" ");
      assert.equal(first(text), first(reference));
    }

    // @huggingface/gguf reads the same header llmq reports.
    const { metadata, tensorInfos } = await gguf(out, { allowLocalFile: true });
    assert.equal(metadata["general.architecture"], "llama");
    assert.equal(tensorInfos.length, result.tensors.length);
    const ggmlTypeIds = { f32: 0, f16: 1, q4_0: 2, q4_1: 3, q5_0: 6, q5_1: 7, q8_0: 8, q2_K: 10, q3_K: 11, q4_K: 12, q5_K: 13, q6_K: 14, bf16: 30 };
    for (let i = 0; i < tensorInfos.length; i++) {
      assert.equal(tensorInfos[i].name, result.tensors[i].name);
      assert.equal(tensorInfos[i].dtype, ggmlTypeIds[result.tensors[i].type], tensorInfos[i].name);
      assert.deepEqual(tensorInfos[i].shape.map(Number), result.tensors[i].shape);
    }
  });
}

test("the bf16 reference continuation is sensible (sanity of the oracle)", () => {
  console.log(`# BF16: ${JSON.stringify(prompt + " " + reference.trim())}`);
  assert.ok(looksLikeEnglish(reference));
});

test.after(async () => {
  await llama.dispose();
});
