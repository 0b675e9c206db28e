// The layer-streamed batch executor: embeds every token of every sequence, then loads one layer
// at a time from the ModelView (bounded reads), runs all sequences through it and frees it
// before the next. Memory = one layer's weights (stored type) + the hidden states of all tokens
// + the work buffers of one batch, so a model larger than memory can still be evaluated.
// Used for perplexity, KL divergence and calibration (observers see every matmul input).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <span>
#include <vector>

#include "llmq/format/model.hpp"
#include "llmq/jobs/host.hpp"
#include "llmq/runtime/config.hpp"
#include "llmq/runtime/observer.hpp"

namespace llmq {

struct StreamerOptions {
    int64_t batch_tokens = 2048;              // tokens per pass through a layer (whole sequences; at least one)
    uint64_t read_chunk_bytes = 16ull << 20;  // bound on one read from the source
    uint64_t logits_bytes = 64ull << 20;      // bound on the logits buffer of one output batch
    RopeFrequencies rope_frequencies = RopeFrequencies::Exact;
    Numerics numerics = Numerics::Exact;
};

// Which positions of every sequence get logits: [begin, min(end, length)).
struct LogitsRange {
    int64_t begin = 0;
    int64_t end = std::numeric_limits<int64_t>::max();
};

// The hidden states of a set of sequences on their way through the model (step-wise use):
// a plain value, so a job can save it after any layer and continue from it later.
struct StreamState {
    std::vector<int64_t> lengths;  // tokens of each sequence; rows of hidden follow this order
    std::vector<float> hidden;     // sum(lengths) * n_embd floats
    int64_t next_layer = 0;        // layers [0, next_layer) have been applied

    int64_t n_tokens() const;
};

class LayerStreamer {
public:
    // Reads the configuration (headers only); weights are read by run().
    LayerStreamer(const ModelView& model, ParallelFor& parallel, StreamerOptions options = {});
    ~LayerStreamer();
    LayerStreamer(LayerStreamer&&) noexcept;

    const ModelConfig& config() const { return config_; }

    // Receives logits in order: sequence by sequence, position by position. The span is valid
    // during the call only.
    using LogitsSink = std::function<void(size_t sequence, int64_t position, std::span<const float> logits)>;
    // Called after each stage (the embedding, each layer, the output head) with stages done and
    // the total; the place to report progress and to stop (by throwing).
    using StageDone = std::function<void(int64_t done, int64_t total)>;

    // Runs every sequence (positions 0..n-1 each, attending only to itself) through the model.
    void run(std::span<const std::vector<int32_t>> sequences, LogitsRange range, const LogitsSink& sink, MatmulObserver* observer = nullptr,
             const StageDone& on_stage = {});

    // Step-wise API (run() is built on it): embed, then run_layer() n_layer times, then
    // optionally run_head(). Memory = the state + one layer's weights (kept between calls).
    StreamState embed(std::span<const std::vector<int32_t>> sequences) const;
    // Called once per batch of whole sequences with that batch's rows before and after the
    // layer (n_rows * n_embd floats each); the place for block statistics and for stopping
    // (by throwing; the state is then partly updated and must be discarded).
    using BatchDone = std::function<void(std::span<const float> before, std::span<const float> after)>;
    // Applies layer state.next_layer to every sequence and advances it. The input rows of a
    // batch are copied only when on_batch is set.
    void run_layer(StreamState& state, MatmulObserver* observer = nullptr, const BatchDone& on_batch = {});
    // The output head on the requested positions of a state that went through every layer.
    void run_head(const StreamState& state, LogitsRange range, const LogitsSink& sink, MatmulObserver* observer = nullptr);
    // Frees the weights and work buffers kept between run_layer() calls.
    void release();

private:
    const ModelView& model_;
    ParallelFor& parallel_;
    StreamerOptions options_;
    ModelConfig config_;
    struct Work;  // layer weights, RoPE table and scratch kept between run_layer() calls
    std::unique_ptr<Work> work_;
};

}  // namespace llmq
