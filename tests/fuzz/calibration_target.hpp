// Calibration text: plain text, .json (array of strings or of objects with "text") and .jsonl;
// the first byte picks the format so one corpus covers all three.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "llmq/analysis/calibration.hpp"

namespace llmq::fuzz {

inline void calibration_target(std::span<const uint8_t> input) {
    if (input.empty()) return;
    const char* names[] = {"fuzz.txt", "fuzz.json", "fuzz.jsonl"};
    const std::string_view text(reinterpret_cast<const char*>(input.data()) + 1, input.size() - 1);
    (void)calibration_text(text, names[input[0] % 3]);
}

}  // namespace llmq::fuzz
