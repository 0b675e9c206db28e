// The hook every analysis uses to see what the weights are multiplied with: before each matmul
// the executor hands the observer the input activations and the weight's name. imatrix
// accumulation, activation statistics (SmoothQuant) and super-weight detection implement it.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace llmq {

struct MatmulInput {
    std::string_view weight;   // GGUF tensor name, e.g. "blk.3.attn_q.weight" or "output.weight"
    int64_t layer = -1;        // block index, -1 for the output head
    int64_t n_in = 0;          // weight ne[0]: width of one activation row
    int64_t n_out = 0;         // weight ne[1]
    int64_t n_tokens = 0;      // activation rows in this call
    std::span<const float> x;  // n_tokens * n_in floats, row-major
};

// Called on the executor's thread (never concurrently), once per matmul per batch of tokens:
// a weight may be seen several times per layer when the tokens are processed in batches.
// Q, K and V share one input, which is reported once for each of the three weights.
class MatmulObserver {
public:
    virtual ~MatmulObserver() = default;
    virtual void on_matmul(const MatmulInput& input) = 0;
    // Observers that also need the product (super-weight spikes in ffn_down's output) say so;
    // they then get y = W·x (+ bias), n_tokens * n_out floats, right after each matmul.
    virtual bool wants_output() const { return false; }
    virtual void on_matmul_output(const MatmulInput& /*input*/, std::span<const float> /*y*/) {}
};

}  // namespace llmq
