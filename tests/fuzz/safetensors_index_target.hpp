// model.safetensors.index.json: the shard index of a checkpoint, against the two real shards of
// the tinyllama-spm fixture (and, when the index names them, a few more files).
#pragma once

#include <cstdint>
#include <span>

#include "fuzz_files.hpp"
#include "llmq/format/safetensors.hpp"

namespace llmq::fuzz {

inline void safetensors_index_target(std::span<const uint8_t> input) {
    static const SharedFileSet base = tinyllama_spm();
    SharedFileSet files = base;
    files.add(safetensors::kIndexName, bytes_of(input));
    const safetensors::Checkpoint ck = safetensors::open_checkpoint(files);
    for (const auto& ref : ck.tensors) (void)ck.data_start(ref);
}

}  // namespace llmq::fuzz
