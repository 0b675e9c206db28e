// llama.cpp's own next-token probabilities for llama-perplexity's procedure (reference §6), through
// node-llama-cpp's prebuilt library: BOS over the first token of each chunk when the vocabulary
// adds one, positions n_ctx/2..n_ctx-2 scored. Shared by the perplexity oracles.
import { readFileSync } from "node:fs";

// Per scored token: the probability llama.cpp gives the next token, and (when asked) the full
// distribution (a Map from token id to probability, most likely first).
export async function llamaCppScores(llama, { modelPath, textPath, nCtx, nChunks, tokensFrom = null, withDistributions = false }) {
  const model = await llama.loadModel({ modelPath });
  let tokens = tokensFrom ?? model.tokenize(readFileSync(textPath, "utf8"), false);
  const addBos = model.tokens.shouldPrependBosToken;
  if (!tokensFrom && addBos) tokens = [model.tokens.bos, ...tokens];
  const chunks = Math.min(nChunks ?? Infinity, Math.floor(tokens.length / nCtx));
  const context = await model.createContext({ contextSize: nCtx, batchSize: nCtx });
  const sequence = context.getSequence();
  const first = nCtx / 2;
  const out = [];
  for (let k = 0; k < chunks; ++k) {
    const chunk = tokens.slice(k * nCtx, (k + 1) * nCtx);
    if (addBos) chunk[0] = model.tokens.bos;
    await sequence.clearHistory();
    const input = chunk.map((t, i) => (i >= first && i < nCtx - 1 ? [t, { generateNext: { probabilities: true } }] : t));
    const results = await sequence.controlledEvaluate(input);
    for (let i = first; i < nCtx - 1; ++i) {
      const probs = results[i].next.probabilities;
      const target = tokens[k * nCtx + i + 1];
      out.push({ p: probs.get(target) ?? 0, dist: withDistributions ? probs : null });
    }
  }
  await context.dispose();
  await model.dispose();
  return { tokens, scores: out };
}

export function perplexity(scores) {
  let sum = 0;
  for (const { p } of scores) sum -= Math.log(p);
  return Math.exp(sum / scores.length);
}
