// What every fuzz target shares: libFuzzer's entry point runs `parse` on the input, and only
// llmq's own Failure (a clean error with an exit code) may come out of it; anything else — a
// crash, a sanitizer report, another exception — is a finding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "llmq/error.hpp"

namespace llmq::fuzz {
void parse(std::span<const uint8_t> input);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        llmq::fuzz::parse(std::span<const uint8_t>(data, size));
    } catch (const llmq::Failure&) {
        // Bad input, reported as the CLI would report it.
    }
    return 0;
}
