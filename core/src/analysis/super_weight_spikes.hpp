// What SuperWeightObserver keeps per layer of ffn_down: the largest |output| of every hidden
// channel (with the token it occurred at) and the input row of the token of the layer's peak.
// O(n_embd + n_ff) per layer, independent of the number of calibration tokens.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "llmq/analysis/super_weights.hpp"

namespace llmq {

struct SuperWeightObserver::LayerSpike {
    std::string weight;         // tensor name; empty while the layer has not been seen
    int64_t n_in = 0;           // intermediate width (weight ne[0])
    int64_t n_out = 0;          // hidden width (weight ne[1])
    int64_t tokens = 0;         // tokens seen; global token index of the next batch's first row
    int64_t peak_channel = -1;  // channel of the largest |y| (first in token, then channel order)
    int64_t peak_token = -1;
    std::vector<float> channel_peak;     // n_out: max |y| per channel
    std::vector<float> channel_value;    // n_out: signed y at that maximum
    std::vector<int64_t> channel_token;  // n_out: its token (-1 while all outputs were 0)
    std::vector<float> x;                // n_in: input row of peak_token

    bool seen() const { return !weight.empty(); }
    float peak() const { return peak_channel < 0 ? 0.0f : channel_peak[static_cast<size_t>(peak_channel)]; }
};

}  // namespace llmq
