// Rotary position embedding: a table of cos/sin per position and frequency, and its application
// to one head in the pairing the architecture uses (RopeStyle).
#pragma once

#include <cstdint>
#include <vector>

#include "llmq/runtime/config.hpp"

namespace llmq::runtime {

class RopeTable {
public:
    // factors: rope_freqs.weight (n_rot/2 divisors of the frequencies) or empty.
    RopeTable(const ModelConfig& config, std::vector<float> factors, RopeFrequencies precision = RopeFrequencies::Exact);
    // Makes positions [0, n_pos) available. Not thread-safe; call before parallel work.
    void reserve(int64_t n_pos);
    // Rotates the first n_rot dimensions of one head (head_dim floats) at position pos.
    void apply(float* head, int64_t pos) const;

private:
    RopeStyle style_;
    RopeFrequencies precision_;
    int64_t half_;                  // n_rot / 2
    std::vector<double> freq_;      // angle per unit position of each pair
    std::vector<float> cos_, sin_;  // [pos * half_ + i]
    int64_t n_pos_ = 0;
};

}  // namespace llmq::runtime
