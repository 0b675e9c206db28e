// UTF-8 decoding and character classes for the tokenizers.
#include "runtime/tokenizer_unicode.hpp"

#include <algorithm>

namespace llmq::tokenizer_detail {

CharClass char_class(uint32_t cp) {
    // ASCII is nearly all of typical text: answer it without the search.
    if (cp < 0x80) {
        if ((cp | 0x20) - 'a' < 26) return kLetter;
        if (cp - '0' < 10) return kNumber;
        if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) return kSpace;
        return kOther;
    }
    const UnicodeRange* begin = kUnicodeRanges;
    const UnicodeRange* end = kUnicodeRanges + kUnicodeRangeCount;
    const UnicodeRange* it = std::upper_bound(begin, end, cp, [](uint32_t c, const UnicodeRange& r) { return c < r.first; });
    if (it == begin) return kOther;
    --it;
    return cp <= it->last ? it->cls : kOther;
}

DecodedChar decode_utf8(std::string_view text, size_t pos) {
    const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[pos + i]); };
    const auto cont = [&](size_t i) { return pos + i < text.size() && (byte(i) & 0xC0) == 0x80; };
    const uint8_t b0 = byte(0);
    if (b0 < 0x80) return {b0, 1};
    if (b0 >= 0xC2 && b0 <= 0xDF && cont(1)) return {(uint32_t(b0 & 0x1F) << 6) | (byte(1) & 0x3F), 2};
    if (b0 >= 0xE0 && b0 <= 0xEF && cont(1) && cont(2)) {
        const uint32_t cp = (uint32_t(b0 & 0x0F) << 12) | (uint32_t(byte(1) & 0x3F) << 6) | (byte(2) & 0x3F);
        // Overlong forms and surrogates are not characters.
        if (cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF)) return {cp, 3};
    }
    if (b0 >= 0xF0 && b0 <= 0xF4 && cont(1) && cont(2) && cont(3)) {
        const uint32_t cp = (uint32_t(b0 & 0x07) << 18) | (uint32_t(byte(1) & 0x3F) << 12) | (uint32_t(byte(2) & 0x3F) << 6) | (byte(3) & 0x3F);
        if (cp >= 0x10000 && cp <= 0x10FFFF) return {cp, 4};
    }
    return {kInvalidCp, 1};
}

void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

}  // namespace llmq::tokenizer_detail
