// The perplexity job: llama-perplexity's procedure (reference/ggml-formats.md §6) on the
// layer-streamed executor, optionally with the KL divergence against a base model.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llmq/format/model.hpp"
#include "llmq/jobs/host.hpp"
#include "llmq/runtime/config.hpp"
#include "llmq/runtime/scoring.hpp"
#include "llmq/runtime/streamer.hpp"

namespace llmq {

struct PerplexityOptions {
    std::string model_path;
    std::string text_path;
    std::string kld_base_path;  // empty: no KL divergence
    int64_t n_ctx = 512;
    int64_t max_chunks = 0;  // 0: all
    RopeFrequencies rope_frequencies = RopeFrequencies::Exact;
    Numerics numerics = Numerics::Exact;
};

// How consecutive chunks of a token list are scored.
struct ChunkScoring {
    int64_t n_ctx = 512;
    int64_t n_chunks = 0;  // chunk k = tokens [k·n_ctx, (k+1)·n_ctx)
    int32_t bos = -1;      // >= 0: the first token of every chunk is replaced by it
    int64_t first = -1;    // first position whose logits are scored (predicting the next
                           // token, up to n_ctx-2); -1: n_ctx/2 as llama-perplexity
    RopeFrequencies rope_frequencies = RopeFrequencies::Exact;
    Numerics numerics = Numerics::Exact;
};

struct ChunkResults {
    NllStats nll;
    std::vector<double> running_ppl;  // after each chunk
    std::optional<KldStats> kld;      // when a base model was given
};

// A text as llama-perplexity scores it: tokenized with the vocabulary of `vocabulary` (BOS as
// it adds one; a vocabulary that appends EOS is refused), cut into chunks of n_ctx tokens, at
// most max_chunks of them (0: all). Failure(Calibration) when the text has fewer than two chunks.
struct ScoredText {
    std::vector<int32_t> tokens;
    ChunkScoring scoring;
};
ScoredText tokenize_for_scoring(const ModelView& vocabulary, std::string_view text, const std::string& text_path, int64_t n_ctx, int64_t max_chunks);

// Scores the chunks of tokens with model (and, for KL divergence, base: the reference whose
// distributions the model's are compared with; nll then refers to model). Chunks are evaluated
// in groups whose hidden states fit a fixed memory budget, each group streaming the model's
// layers once. on_progress(done, total) counts executor stages (embedding, layers, head) over
// the whole run; it may throw to stop (cancellation).
ChunkResults score_chunks(const ModelView& model, const ModelView* base, std::span<const int32_t> tokens, const ChunkScoring& scoring,
                          ParallelFor& parallel, const std::function<void(uint64_t, uint64_t)>& on_progress = {});

// Scores the chunks with several models against one base (quality compare): the base's logits
// of each group of chunks are computed once and every model is compared with them. base_nll: the
// base model's own scores; models[i]: model i's, with its KL divergence. base_observer (optional)
// sees the base run's matmul inputs (an importance matrix for the per-tensor errors).
struct MultiChunkResults {
    NllStats base_nll;
    std::vector<ChunkResults> models;
};
MultiChunkResults score_chunks_against(const ModelView& base, std::span<const ModelView* const> models, std::span<const int32_t> tokens,
                                       const ChunkScoring& scoring, ParallelFor& parallel,
                                       const std::function<void(uint64_t, uint64_t)>& on_progress = {}, MatmulObserver* base_observer = nullptr);

// Runs the job; returns the JSON result. Throws Failure on error.
nlohmann::json run_perplexity(const PerplexityOptions& options, Host& host);

}  // namespace llmq
