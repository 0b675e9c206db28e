// Dynamic-quantization profiles (.dqprofile JSON documents).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "llmq/plan/profile.hpp"

namespace llmq::fuzz {

inline void dqprofile_target(std::span<const uint8_t> input) {
    const std::string_view text(reinterpret_cast<const char*>(input.data()), input.size());
    (void)plan::parse_profile(text, "fuzz.dqprofile");
}

}  // namespace llmq::fuzz
