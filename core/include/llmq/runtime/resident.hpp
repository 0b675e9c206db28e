// The resident executor: the whole model in memory (matrices in their stored type) and a
// session with a KV cache, so generation costs one token's work per step. Used by generate
// and the coherence check; the layer streamer is the choice for long batch evaluations.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "llmq/format/model.hpp"
#include "llmq/jobs/host.hpp"
#include "llmq/runtime/config.hpp"
#include "llmq/runtime/observer.hpp"
#include "llmq/runtime/weights.hpp"

namespace llmq {

namespace runtime {
class RopeTable;
}

struct ResidentOptions {
    uint64_t read_chunk_bytes = kDefaultReadChunk;  // bound on one read from the source
    RopeFrequencies rope_frequencies = RopeFrequencies::Exact;
    Numerics numerics = Numerics::Exact;
};

class ResidentModel {
public:
    // Reads every weight from the model (bounded reads of options.read_chunk_bytes).
    ResidentModel(const ModelView& model, ParallelFor& parallel, ResidentOptions options = {});
    ~ResidentModel();
    ResidentModel(const ResidentModel&) = delete;
    ResidentModel& operator=(const ResidentModel&) = delete;

    const ModelConfig& config() const { return config_; }
    uint64_t weight_bytes() const;

private:
    friend class Session;
    ModelConfig config_;
    ParallelFor& parallel_;
    Matrix token_embd_;
    std::vector<LayerWeights> layers_;
    OutputWeights head_;  // head_.output is empty when tied: token_embd_ is used
    std::vector<float> rope_factors_;
    RopeFrequencies rope_frequencies_;

    const Matrix& output_matrix() const { return config_.tied_output ? token_embd_ : head_.output; }
};

// One sequence being evaluated: positions 0..n_past()-1 are in the KV cache.
class Session {
public:
    Session(const ResidentModel& model, int64_t n_ctx);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // Appends tokens at the next positions. Returns the logits of the last new token, or of
    // every new token (n * n_vocab, in order) when all_logits. Failure(Usage) when the context
    // would overflow.
    std::vector<float> eval(std::span<const int32_t> tokens, bool all_logits = false, MatmulObserver* observer = nullptr);

    int64_t n_past() const { return n_past_; }
    int64_t n_ctx() const { return n_ctx_; }
    void clear() { n_past_ = 0; }

private:
    const ResidentModel& model_;
    int64_t n_ctx_;
    int64_t n_past_ = 0;
    std::vector<std::vector<float>> k_cache_, v_cache_;  // per layer: n_ctx * kv_dim / v_dim
    std::unique_ptr<runtime::RopeTable> rope_;
};

}  // namespace llmq
