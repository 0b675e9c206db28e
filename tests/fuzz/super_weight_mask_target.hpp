// Super-weight masks (analyze --identify-super-weights, quantize --super-weights).
#pragma once

#include <cstdint>
#include <span>

#include "llmq/analysis/super_weights.hpp"

namespace llmq::fuzz {

inline void super_weight_mask_target(std::span<const uint8_t> input) {
    (void)read_super_weight_mask(input, "fuzz.superweights.json");
}

}  // namespace llmq::fuzz
