// Pre-tokenizers of byte-level BPE vocabularies: hand-written scanners that split text exactly
// as the named regexes do (leftmost match, alternatives in order, greedy with backtracking).
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace llmq::tokenizer_detail {

enum class PreTokenizer {
    // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
    Gpt2,
    // (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
    //  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
    Llama3,
    // As Llama3 with \p{N} (single digits) instead of \p{N}{1,3}.
    Qwen2,
    // \p{N} split off first (every number character a word of its own), then Gpt2 on the text
    // between them (SmolLM, StarCoder, Refact, Command-R).
    Gpt2Digits,
};

// The pre-tokenizer of a tokenizer.ggml.pre name (llama.cpp's names), if supported.
std::optional<PreTokenizer> pre_tokenizer_from_name(std::string_view name);

// End offset of the word that starts at pos (pos < text.size()). Words tile the text: scanning
// from 0 and restarting at each end splits it exactly as the regex's successive matches do.
// Invalid UTF-8 bytes count as single "other" characters, so no byte is ever lost.
size_t pre_token_end(std::string_view text, size_t pos, PreTokenizer kind);

}  // namespace llmq::tokenizer_detail
