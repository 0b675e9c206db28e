// Next-token choice for generation: greedy at temperature 0, otherwise sampling from
// softmax(logits / T) with a seeded generator whose stream is the same on every platform
// (std::mt19937_64 and our own mapping to [0, 1); std:: distributions differ between libraries).
#pragma once

#include <cstdint>
#include <random>
#include <span>

namespace llmq {

class Sampler {
public:
    Sampler(double temperature, uint64_t seed) : temperature_(temperature), rng_(seed) {}
    int32_t next(std::span<const float> logits);

private:
    double temperature_;
    std::mt19937_64 rng_;
};

// Index of the first maximum.
int32_t greedy_token(std::span<const float> logits);

}  // namespace llmq
