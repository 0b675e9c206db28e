// config.json of a HuggingFace model directory, opened as the converter opens it (config,
// shards, tokenizer) and used as a job would (a row of every tensor, the tokenizer). The first
// byte picks the fixture model the config goes with (tinyllama-spm: SentencePiece and a
// sharded checkpoint; tinyqwen-bpe: byte-level BPE) and whether the vocabulary is converted.
#pragma once

#include <cstdint>
#include <span>

#include "fuzz_files.hpp"
#include "llmq/format/huggingface.hpp"

namespace llmq::fuzz {

inline void hf_config_target(std::span<const uint8_t> input) {
    if (input.empty()) return;
    static const SharedFileSet llama = tinyllama_spm();
    static const SharedFileSet qwen = tinyqwen_bpe();
    auto files = std::make_shared<SharedFileSet>(input[0] & 1 ? qwen : llama);
    files->add("config.json", bytes_of(input.subspan(1)));
    HfOptions options;
    options.vocab = (input[0] & 2) == 0;
    std::vector<std::string> warnings;
    use_model(open_hf_model(files, options, &warnings));
}

}  // namespace llmq::fuzz
