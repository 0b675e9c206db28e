// safetensors headers (one file). The first byte picks the input's form: 0, a whole file as it
// is; otherwise the JSON header alone, which the target frames with its length prefix and a data
// section of 64 MiB of zeros (claimed, never stored), so offsets and shapes get past the size
// checks and the rest of the validation is reached.
#pragma once

#include <cstdint>
#include <span>

#include "fuzz_files.hpp"
#include "llmq/format/safetensors.hpp"

namespace llmq::fuzz {

inline void safetensors_header_target(std::span<const uint8_t> input) {
    if (input.empty()) return;
    std::vector<uint8_t> file;
    uint64_t size = 0;
    if (input[0] == 0) {
        file.assign(input.begin() + 1, input.end());
        size = file.size();
    } else {
        const uint64_t length = input.size() - 1;
        file.resize(8);
        std::memcpy(file.data(), &length, 8);
        file.insert(file.end(), input.begin() + 1, input.end());
        size = file.size() + (64ull << 20);
    }
    const SharedSource source(std::make_shared<const std::vector<uint8_t>>(std::move(file)), size, "fuzz.safetensors");
    const safetensors::FileHeader h = safetensors::read_header(source, "fuzz.safetensors");
    for (const auto& t : h.tensors) {
        (void)t.n_elements();
        (void)h.find(t.name);
    }
}

}  // namespace llmq::fuzz
