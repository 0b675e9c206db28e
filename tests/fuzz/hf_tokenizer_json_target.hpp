// tokenizer.json (HuggingFace tokenizers, byte-level BPE) and the JSON files next to it that
// the vocabulary conversion reads. The first byte picks the file the rest replaces:
// 0 tokenizer.json and 1 tokenizer_config.json of tinyqwen-bpe, 2 tokenizer_config.json and
// 3 added_tokens.json of tinyllama-spm (SentencePiece). The converted vocabulary is then built
// into a Tokenizer and used.
#pragma once

#include <cstdint>
#include <span>

#include "fuzz_files.hpp"
#include "llmq/format/huggingface.hpp"

namespace llmq::fuzz {

inline void hf_tokenizer_json_target(std::span<const uint8_t> input) {
    if (input.empty()) return;
    static const SharedFileSet llama = tinyllama_spm();
    static const SharedFileSet qwen = tinyqwen_bpe();
    const char* names[] = {"tokenizer.json", "tokenizer_config.json", "tokenizer_config.json", "added_tokens.json"};
    const int which = input[0] % 4;
    auto files = std::make_shared<SharedFileSet>(which < 2 ? qwen : llama);
    files->add(names[which], bytes_of(input.subspan(1)));
    std::vector<std::string> warnings;
    use_model(open_hf_model(files, {}, &warnings));
}

}  // namespace llmq::fuzz
