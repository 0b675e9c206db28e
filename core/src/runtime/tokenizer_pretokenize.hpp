// Pre-tokenizers of byte-level BPE vocabularies: hand-written scanners that split text exactly
// as the named regexes do (leftmost match, alternatives in order, greedy with backtracking).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace llmq::tokenizer_detail {

enum class PreTokenizer {
    // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
    Gpt2,
    // (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
    //  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
    Llama3,
    // As Llama3 with \p{N} (single digits) instead of \p{N}{1,3}.
    Qwen2,
};

// The pre-tokenizer of a tokenizer.ggml.pre name (llama.cpp's names), if supported.
std::optional<PreTokenizer> pre_tokenizer_from_name(std::string_view name);

// Splits text into words; appends the end offset of each word (the words tile the text, so the
// first starts at 0 and each next one where the previous ended). Invalid UTF-8 bytes count as
// single "other" characters, so no byte is lost.
void pre_tokenize(std::string_view text, PreTokenizer kind, std::vector<uint32_t>& word_ends);

}  // namespace llmq::tokenizer_detail
