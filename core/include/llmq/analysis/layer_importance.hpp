// Layer importance (reference/advanced-methods.md §6.1): ShortGPT block influence, 1 − cos of a
// layer's input and output hidden states averaged over calibration tokens, and the
// imatrix-weighted quantization sensitivity of each layer's weights.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "llmq/format/imatrix.hpp"
#include "llmq/format/model.hpp"
#include "llmq/jobs/host.hpp"

namespace llmq {

class BlockInfluence {
public:
    explicit BlockInfluence(int64_t n_layers = 0);
    // before/after: n_tokens rows of n_embd floats, the hidden states entering and leaving layer.
    void add(int64_t layer, std::span<const float> before, std::span<const float> after, int64_t n_embd);
    std::vector<double> scores() const;  // per layer, in [0, 2]
    std::vector<uint8_t> save() const;
    static BlockInfluence restore(std::span<const uint8_t> bytes);  // Failure(Importance) if malformed

private:
    std::vector<double> sum_;
    std::vector<int64_t> count_;
};

// Per layer: Σ_tensors Σ imatrix_j (w − q(w))² / Σ imatrix_j w², the relative imatrix-weighted
// error of quantizing the layer's matrices with a probe type (default Q4_K where the row
// length allows, else Q4_0/Q8_0), read from model in bounded chunks.
std::vector<double> quantization_sensitivity(const ModelView& model, const ImatrixData& imatrix, ParallelFor& parallel);

}  // namespace llmq
