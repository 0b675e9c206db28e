// The little Unicode the tokenizers need: UTF-8 stepping and decoding, and the character
// classes of the pre-tokenizer regexes (\p{L}, \p{N}, \s) from a generated range table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace llmq::tokenizer_detail {

enum CharClass : uint8_t { kOther = 0, kLetter = 1, kNumber = 2, kSpace = 3 };

struct UnicodeRange {
    uint32_t first;
    uint32_t last;
    CharClass cls;
};

// Generated (tokenizer_unicode_table.cpp): disjoint, sorted by first.
extern const UnicodeRange kUnicodeRanges[];
extern const size_t kUnicodeRangeCount;
extern const char* const kUnicodeVersion;

CharClass char_class(uint32_t cp);

// Byte length of the UTF-8 sequence a lead byte announces (1 for stray continuation bytes), as
// SentencePiece-style symbol splitting counts characters; never past the end of the text.
inline size_t utf8_step(std::string_view text, size_t pos) {
    static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    const size_t n = kLen[static_cast<uint8_t>(text[pos]) >> 4];
    return n < text.size() - pos ? n : text.size() - pos;
}

// One decoded character: its code point and byte length. Invalid or truncated sequences decode
// as a single byte with cp = kInvalidCp (class Other), so every byte stays accounted for.
inline constexpr uint32_t kInvalidCp = 0xFFFFFFFFu;
struct DecodedChar {
    uint32_t cp;
    uint32_t len;
};
DecodedChar decode_utf8(std::string_view text, size_t pos);

// Appends the UTF-8 encoding of cp.
void append_utf8(std::string& out, uint32_t cp);

}  // namespace llmq::tokenizer_detail
