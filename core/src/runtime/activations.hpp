// The rounding llama.cpp's CPU matmul applies to activations before a dot product
// (ggml-formats.md §1.5: each weight type has a "vec_dot" activation type). Numerics::Ggml rounds
// every matmul input this way, so llmq's forward pass reproduces llama-perplexity's numbers.
#pragma once

#include <cstdint>

#include "llmq/quant/types.hpp"
#include "llmq/runtime/config.hpp"

namespace llmq::runtime {

enum class ActivationGrid {
    None,      // float32 as given
    Half,      // fp16, round to nearest even
    BFloat16,  // bf16, round to nearest even
    Q8_0,      // 32-blocks: d = amax/127 kept as fp16, codes round-half-even(x·127/amax)
    Q8_1,      // as Q8_0 (its block sum only enters q4_1/q5_1's min term; see activations.cpp)
    Q8_K,      // 256-blocks: float d = max/-127 of the signed largest value, codes nearest_int
};

// The grid a weight of this type meets. Exact numerics round only for fp16 weights.
ActivationGrid activation_grid(GgmlType weight, Numerics numerics);

// Elements per block of the grid (1 for the float grids).
int64_t grid_block(ActivationGrid grid);

// out[i] = x[i] rounded to the grid, i < n (n a multiple of grid_block). out may equal x.
void round_activations(ActivationGrid grid, const float* x, float* out, int64_t n);

}  // namespace llmq::runtime
