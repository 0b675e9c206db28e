// Byte-level BPE encoding: text split into words by the pre-tokenizer, each word's bytes mapped
// to printable code points (GPT-2's byte-to-unicode table), then merged by rank.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "runtime/tokenizer_pretokenize.hpp"
#include "runtime/tokenizer_vocab.hpp"

namespace llmq::tokenizer_detail {

// GPT-2's reversible byte <-> code point mapping: printable Latin-1 bytes stand for themselves,
// the others for U+0100 upwards in byte order.
uint32_t byte_to_codepoint(uint8_t byte);
// The byte a code point stands for, or -1 when it is not one of the 256.
int codepoint_to_byte(uint32_t cp);

class BpeEncoder {
public:
    // Parses the merges ("left right", rank = position). Throws Failure(CorruptInput).
    BpeEncoder(const Vocab& vocab, PreTokenizer pre, bool ignore_merges);
    // Appends the ids of a raw text fragment.
    void encode(const Vocab& vocab, std::string_view text, std::vector<int32_t>& out) const;

private:
    struct Merge {
        int32_t rank;
        int32_t result;  // symbol id of the merged string
    };
    static uint64_t pair_key(int32_t left, int32_t right) {
        return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
    }
    void encode_word(const Vocab& vocab, std::string_view word, std::vector<int32_t>& out) const;

    PreTokenizer pre_;
    bool ignore_merges_;
    int32_t n_tokens_ = 0;
    // Symbols are token ids, or ids >= n_tokens_ for strings that merges name but the vocabulary
    // lacks, so merging by id behaves exactly like merging by string.
    std::unordered_map<uint64_t, Merge> merges_;
    std::array<int32_t, 256> byte_symbol_{};
    std::array<int32_t, 256> byte_token_{};    // for symbols that are no token; -1: none
    std::array<std::string, 256> byte_chars_;  // UTF-8 of each byte's code point
};

}  // namespace llmq::tokenizer_detail
