// Dynamic-quantization profiles (.dqprofile JSON documents).
#include <string_view>

#include "fuzz_main.hpp"
#include "llmq/plan/profile.hpp"

void llmq::fuzz::parse(std::span<const uint8_t> input) {
    const std::string_view text(reinterpret_cast<const char*>(input.data()), input.size());
    (void)plan::parse_profile(text, "fuzz.dqprofile");
}
