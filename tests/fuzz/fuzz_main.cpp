// libFuzzer's entry point of every fuzz target: CMake builds this file once per
// tests/fuzz/<name>_target.hpp into build/fuzz/<name>_fuzz, with LLMQ_FUZZ_TARGET_HEADER naming
// that header and LLMQ_FUZZ_TARGET its function (<name>_target, which the regression tests of
// tests/format/fuzz_findings_test.cpp run as well). Only llmq's own Failure (a clean error with an
// exit code) may come out of the target; anything else — a crash, a sanitizer report, another
// exception — is a finding.
#include <cstddef>
#include <cstdint>
#include <span>

#include "llmq/error.hpp"
#include LLMQ_FUZZ_TARGET_HEADER

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        llmq::fuzz::LLMQ_FUZZ_TARGET(std::span<const uint8_t>(data, size));
    } catch (const llmq::Failure&) {
        // Bad input, reported as the CLI would report it.
    }
    return 0;
}
