// Super-weight masks (analyze --identify-super-weights, quantize --super-weights).
#include "fuzz_main.hpp"
#include "llmq/analysis/super_weights.hpp"

void llmq::fuzz::parse(std::span<const uint8_t> input) {
    (void)read_super_weight_mask(input, "fuzz.superweights.json");
}
