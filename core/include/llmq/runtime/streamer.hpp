// The layer-streamed batch executor: embeds every token of every sequence, then loads one layer
// at a time from the ModelView (bounded reads), runs all sequences through it and frees it
// before the next. Memory = one layer's weights (stored type) + the hidden states of all tokens
// + the work buffers of one batch, so a model larger than memory can still be evaluated.
// Used for perplexity, KL divergence and calibration (observers see every matmul input).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <vector>

#include "llmq/format/model.hpp"
#include "llmq/jobs/host.hpp"
#include "llmq/runtime/config.hpp"
#include "llmq/runtime/observer.hpp"

namespace llmq {

struct StreamerOptions {
    int64_t batch_tokens = 2048;  // tokens per pass through a layer (whole sequences; at least one)
    uint64_t read_chunk_bytes = 16ull << 20;  // bound on one read from the source
    uint64_t logits_bytes = 64ull << 20;      // bound on the logits buffer of one output batch
};

// Which positions of every sequence get logits: [begin, min(end, length)).
struct LogitsRange {
    int64_t begin = 0;
    int64_t end = std::numeric_limits<int64_t>::max();
};

class LayerStreamer {
public:
    // Reads the configuration (headers only); weights are read by run().
    LayerStreamer(const ModelView& model, ParallelFor& parallel, StreamerOptions options = {});

    const ModelConfig& config() const { return config_; }

    // Receives logits in order: sequence by sequence, position by position. The span is valid
    // during the call only.
    using LogitsSink = std::function<void(size_t sequence, int64_t position, std::span<const float> logits)>;
    // Called after each stage (the embedding, each layer, the output head) with stages done and
    // the total; the place to report progress and to stop (by throwing).
    using StageDone = std::function<void(int64_t done, int64_t total)>;

    // Runs every sequence (positions 0..n-1 each, attending only to itself) through the model.
    void run(std::span<const std::vector<int32_t>> sequences, LogitsRange range, const LogitsSink& sink,
             MatmulObserver* observer = nullptr, const StageDone& on_stage = {});

private:
    const ModelView& model_;
    ParallelFor& parallel_;
    StreamerOptions options_;
    ModelConfig config_;
};

}  // namespace llmq
