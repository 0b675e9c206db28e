// Importance matrices: GGUF imatrix files and legacy .dat files.
#pragma once

#include <cstdint>
#include <span>

#include "llmq/format/imatrix.hpp"
#include "llmq/io/memory.hpp"

namespace llmq::fuzz {

inline void imatrix_target(std::span<const uint8_t> input) {
    MemorySource source(std::vector<uint8_t>(input.begin(), input.end()), "fuzz.imatrix");
    const ImatrixData data = read_imatrix(source);
    (void)data.entries.size();
}

}  // namespace llmq::fuzz
