// tokenizer.model (a SentencePiece ModelProto) in the tinyllama-spm fixture directory; the
// converted vocabulary is built into a Tokenizer and used.
#pragma once

#include <cstdint>
#include <span>

#include "fuzz_files.hpp"
#include "llmq/format/huggingface.hpp"

namespace llmq::fuzz {

inline void hf_tokenizer_model_target(std::span<const uint8_t> input) {
    static const SharedFileSet llama = tinyllama_spm();
    auto files = std::make_shared<SharedFileSet>(llama);
    files->add("tokenizer.model", bytes_of(input));
    std::vector<std::string> warnings;
    use_model(open_hf_model(files, {}, &warnings));
}

}  // namespace llmq::fuzz
