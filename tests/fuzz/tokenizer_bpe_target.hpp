// Byte-level BPE tokenization (the gpt-2 vocabulary of llama.cpp's tokenizer tests, and the
// qwen2 pre-tokenizer of the tinyqwen-bpe fixture model when the flags' top bit is set) of
// arbitrary bytes, and decoding of its ids and of raw ids.
#pragma once

#include <cstdint>
#include <span>

#include "tokenizer_fuzz.hpp"

namespace llmq::fuzz {

inline void tokenizer_bpe_target(std::span<const uint8_t> input) {
    static const Tokenizer gpt2 = vocabulary("tests/fixtures/vocab/ggml-vocab-gpt-2.gguf");
    static const Tokenizer qwen2 = vocabulary("tests/fixtures/models/tinyqwen-bpe.bf16.gguf");
    if (input.empty()) return;
    tokenize(input[0] & 128 ? qwen2 : gpt2, input);
}

}  // namespace llmq::fuzz
