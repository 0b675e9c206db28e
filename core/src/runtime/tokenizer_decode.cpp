// Rendering one token as text, per vocabulary kind and token type (llama.cpp's token_to_piece).
#include "runtime/tokenizer_bpe.hpp"
#include "runtime/tokenizer_impl.hpp"
#include "runtime/tokenizer_unicode.hpp"

namespace llmq::tokenizer_detail {

namespace {

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

// "▁" back to spaces.
std::string unescape_whitespace(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        if (text.compare(i, 3, "\xE2\x96\x81") == 0) {
            out += ' ';
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

// GPT-2 byte-level: each code point of the token stands for one byte. A code point outside
// the mapping (a vocabulary written without it) is kept as it is.
std::string unmap_bytes(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (size_t pos = 0; pos < text.size();) {
        const DecodedChar c = decode_utf8(text, pos);
        const int b = c.cp == kInvalidCp ? -1 : codepoint_to_byte(c.cp);
        if (b >= 0) {
            out += static_cast<char>(b);
        } else {
            out.append(text.substr(pos, c.len));
        }
        pos += c.len;
    }
    return out;
}

}  // namespace

std::string render_piece(const Vocab& vocab, int32_t id, bool render_special) {
    const std::string& text = vocab.tokens[id];
    switch (vocab.types[id]) {
        case TokenType::Control:
        case TokenType::Unknown:
            return render_special ? text : std::string();
        case TokenType::UserDefined:
            return text;
        case TokenType::Normal:
            return vocab.kind == TokenizerKind::Spm ? unescape_whitespace(text) : unmap_bytes(text);
        case TokenType::Byte:
            if (vocab.kind == TokenizerKind::Spm) {
                // "<0xNN>"
                if (text.size() == 6 && text.compare(0, 3, "<0x") == 0 && text[5] == '>') {
                    const int hi = hex_digit(text[3]), lo = hex_digit(text[4]);
                    if (hi >= 0 && lo >= 0) return std::string(1, static_cast<char>(hi * 16 + lo));
                }
                return text;
            }
            return unmap_bytes(text);
        case TokenType::Unused:
        case TokenType::Undefined:
            break;
    }
    // Types llama.cpp does not render are suppressed like control tokens.
    return std::string();
}

}  // namespace llmq::tokenizer_detail
