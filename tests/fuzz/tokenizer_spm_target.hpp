// SentencePiece tokenization (the llama-spm vocabulary of llama.cpp's tokenizer tests) of
// arbitrary bytes, and decoding of its ids and of raw ids.
#pragma once

#include <cstdint>
#include <span>

#include "tokenizer_fuzz.hpp"

namespace llmq::fuzz {

inline void tokenizer_spm_target(std::span<const uint8_t> input) {
    static const Tokenizer tok = vocabulary("tests/fixtures/vocab/ggml-vocab-llama-spm.gguf");
    tokenize(tok, input);
}

}  // namespace llmq::fuzz
