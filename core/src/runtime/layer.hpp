// One transformer block over a batch of token segments, shared by both executors: the
// layer-streamed batch (each segment a whole sequence, K/V in scratch) and the resident
// executor (each segment the new tokens of a session, K/V appended to its cache).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "llmq/jobs/host.hpp"
#include "llmq/runtime/observer.hpp"
#include "llmq/runtime/weights.hpp"
#include "runtime/rope.hpp"

namespace llmq::runtime {

struct Segment {
    int64_t row = 0;     // first row of the segment in the batch
    int64_t n = 0;       // tokens of the segment in the batch
    int64_t n_past = 0;  // position of its first token (tokens already in the cache)
    // K/V storage for positions [0, n_past + n) (kv_dim / v_dim floats per position), or null:
    // then n_past must be 0 and the batch's own K/V rows are attended to.
    float* k_cache = nullptr;
    float* v_cache = nullptr;
};

// Work buffers, kept between calls to avoid reallocation.
struct LayerScratch {
    std::vector<float> xn, q, k, v, attn, ffn_gate, ffn_up, out;
};

// x: n_tokens * n_embd hidden states, updated in place. rope must cover every position.
void forward_layer(const LayerWeights& w, const ModelConfig& config, const RopeTable& rope, std::span<float> x, int64_t n_tokens,
                   std::span<const Segment> segments, LayerScratch& scratch, ParallelFor& parallel, MatmulObserver* observer);

// Final norm and output projection of n_tokens rows of hidden states into n_tokens * n_vocab logits.
void forward_output(const std::vector<float>& norm, const Matrix& output, const ModelConfig& config, std::span<const float> x, int64_t n_tokens,
                    std::span<float> logits, std::vector<float>& scratch, ParallelFor& parallel, MatmulObserver* observer);

}  // namespace llmq::runtime
