// The GGUF reader: header, key/values, tensor infos and the validity rules.
#pragma once

#include <cstdint>
#include <span>

#include "llmq/format/gguf.hpp"
#include "llmq/io/memory.hpp"

namespace llmq::fuzz {

inline void gguf_header_target(std::span<const uint8_t> input) {
    MemorySource source(std::vector<uint8_t>(input.begin(), input.end()), "fuzz.gguf");
    const gguf::Header h = gguf::read_header(source);
    for (const auto& t : h.tensors) (void)t.name.size();
}

}  // namespace llmq::fuzz
