// SentencePiece BPE encoding of one whitespace-escaped text fragment: characters merged pairwise,
// the pair forming the highest-scoring token first (leftmost on ties), leftovers as byte tokens.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "runtime/tokenizer_vocab.hpp"

namespace llmq::tokenizer_detail {

class SpmEncoder {
public:
    explicit SpmEncoder(const Vocab& vocab);
    // Appends the ids of text, in which spaces are already "▁" (and the dummy prefix added).
    void encode(const Vocab& vocab, std::string_view text, std::vector<int32_t>& out) const;

private:
    struct Scratch;
    // The priority-queue merge over one stretch of text.
    void encode_span(const Vocab& vocab, std::string_view text, Scratch& scratch, std::vector<int32_t>& out) const;

    // True when no token holds a "▁" right after another character than "▁": then no merge
    // can cross the start of a word ("▁" after a non-"▁"), words encode independently, and a
    // word seen before is looked up instead of merged again.
    bool independent_words_ = false;
    // Token of each byte for byte fallback: "<0xNN>", else the one-byte string, else unknown.
    std::array<int32_t, 256> byte_tokens_{};
};

}  // namespace llmq::tokenizer_detail
