#include "llmq/runtime/sampler.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace llmq {

int32_t greedy_token(std::span<const float> logits) {
    return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

int32_t Sampler::next(std::span<const float> logits) {
    if (!(temperature_ > 0.0)) return greedy_token(logits);
    const float m = *std::max_element(logits.begin(), logits.end());
    thread_local std::vector<double> weights;
    weights.resize(logits.size());
    double total = 0.0;
    for (size_t i = 0; i < logits.size(); ++i) {
        weights[i] = std::exp((static_cast<double>(logits[i]) - m) / temperature_);
        total += weights[i];
    }
    const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53 * total;  // uniform in [0, total)
    double cumulative = 0.0;
    for (size_t i = 0; i < weights.size(); ++i) {
        cumulative += weights[i];
        if (u < cumulative) return static_cast<int32_t>(i);
    }
    return greedy_token(logits);  // only reachable through rounding at the very top
}

}  // namespace llmq
