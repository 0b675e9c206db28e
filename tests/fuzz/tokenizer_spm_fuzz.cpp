// SentencePiece tokenization (the llama-spm vocabulary of llama.cpp's tokenizer tests) of
// arbitrary bytes, and decoding of its ids and of raw ids.
#include "fuzz_main.hpp"
#include "tokenizer_fuzz.hpp"

void llmq::fuzz::parse(std::span<const uint8_t> input) {
    static const Tokenizer tok = vocabulary("tests/fixtures/vocab/ggml-vocab-llama-spm.gguf");
    tokenize(tok, input);
}
