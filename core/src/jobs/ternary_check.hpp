// Is a model ternary-trained? TQ1_0/TQ2_0 keep three values per 256-weight block, which is
// lossless for BitNet-style models and ruinous for every other (reference/advanced-methods.md
// §5.4), so quantize warns before it starts when the weights say otherwise.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "llmq/format/model.hpp"
#include "llmq/plan/plan.hpp"

namespace llmq::jobs {

// Every value is 0 or ±s for one s (the block's largest magnitude), to a relative 2^-10
// (float rounding of a stored scale; far below the spacing of real weights' magnitudes).
bool is_ternary_block(std::span<const float> block);

struct TernarySample {
    int64_t blocks = 0;          // 256-weight blocks examined
    int64_t ternary_blocks = 0;  // of which are {-s, 0, +s}
    std::string example;         // a tensor with a non-ternary block ("" when none)
};

// Samples a bounded number of blocks (a few rows of at most kMaxTensors tensors) of the
// tensors the plan turns into TQ1_0/TQ2_0; nullopt when the plan has none.
std::optional<TernarySample> sample_ternary(const ModelView& model, const plan::QuantPlan& plan);

// The warning to give before quantizing, or nullopt (no ternary target, or ternary weights).
std::optional<std::string> ternary_warning(const ModelView& model, const plan::QuantPlan& plan);

}  // namespace llmq::jobs
