// Regex-equivalent scanners for the byte-level BPE pre-tokenizers. Each alternative of a
// pattern is tried in order at the current position; the first that matches (with greedy
// quantifiers backtracked as a regex engine would) decides the word. All patterns end in
// alternatives that match any character, so words tile the text.
#include "runtime/tokenizer_pretokenize.hpp"

#include <array>

#include "runtime/tokenizer_unicode.hpp"

namespace llmq::tokenizer_detail {

namespace {

struct Char {
    uint32_t cp;
    uint32_t len;
    CharClass cls;
};

Char char_at(std::string_view text, size_t pos) {
    const DecodedChar d = decode_utf8(text, pos);
    return {d.cp, d.len, d.cp == kInvalidCp ? kOther : char_class(d.cp)};
}

// End of the run of characters of class cls starting at pos (pos itself may be the end).
size_t run_end(std::string_view text, size_t pos, CharClass cls) {
    while (pos < text.size()) {
        const Char c = char_at(text, pos);
        if (c.cls != cls) break;
        pos += c.len;
    }
    return pos;
}

bool is_newline(uint32_t cp) {
    return cp == '\r' || cp == '\n';
}

// Length after the apostrophe of 's 't 're 've 'm 'll 'd at pos (0 when none matches).
size_t contraction_len(std::string_view text, size_t pos, bool any_case) {
    const auto at = [&](size_t i) -> char {
        if (pos + i >= text.size()) return '\0';
        const char c = text[pos + i];
        return any_case && c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    };
    const char a = at(0);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 1;
    const char b = at(1);
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 2;
    return 0;
}

// \s+(?!\S)|\s+ from pos (a whitespace character): the whole run when it reaches the end of the
// text, else all of it but its last character (which then leads the next word), else one.
size_t whitespace_end(std::string_view text, size_t pos) {
    size_t last_start = pos;
    size_t p = pos;
    while (p < text.size()) {
        const Char c = char_at(text, p);
        if (c.cls != kSpace) break;
        last_start = p;
        p += c.len;
    }
    if (p == text.size() || last_start == pos) return p;
    return last_start;
}

size_t gpt2_end(std::string_view text, size_t pos) {
    const Char c0 = char_at(text, pos);
    if (c0.cp == '\'') {
        if (const size_t n = contraction_len(text, pos + 1, false)) return pos + 1 + n;
    }
    // " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+": the class of the first non-space decides.
    if (c0.cp == ' ' && pos + 1 < text.size()) {
        const Char c1 = char_at(text, pos + 1);
        if (c1.cls != kSpace) return run_end(text, pos + 1, c1.cls);
    }
    if (c0.cls != kSpace) return run_end(text, pos, c0.cls);
    return whitespace_end(text, pos);
}

// Gpt2Digits: a number character ends every word, and gpt2_end must not look past it (its
// whitespace rule looks ahead). gpt2_end reads at most to the end of its word, or of the
// whitespace run from there, plus one character; a number further on cannot change its result,
// so only that stretch is searched (keeping the scan linear).
size_t gpt2_digits_end(std::string_view text, size_t pos) {
    const Char c0 = char_at(text, pos);
    if (c0.cls == kNumber) return pos + c0.len;
    const size_t whole = gpt2_end(text, pos);
    size_t horizon = run_end(text, whole, kSpace);
    if (horizon < text.size()) horizon += char_at(text, horizon).len;
    for (size_t p = pos; p < horizon;) {
        const Char c = char_at(text, p);
        if (c.cls == kNumber) return gpt2_end(text.substr(0, p), pos);
        p += c.len;
    }
    return whole;
}

size_t llama3_end(std::string_view text, size_t pos, size_t max_digits) {
    const Char c0 = char_at(text, pos);
    if (c0.cp == '\'') {
        if (const size_t n = contraction_len(text, pos + 1, true)) return pos + 1 + n;
    }
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (c0.cls == kLetter) return run_end(text, pos, kLetter);
    const size_t next = pos + c0.len;
    if (c0.cls != kNumber && !is_newline(c0.cp) && next < text.size() && char_at(text, next).cls == kLetter) return run_end(text, next, kLetter);
    // \p{N}{1,max_digits}
    if (c0.cls == kNumber) {
        size_t p = next;
        for (size_t n = 1; n < max_digits && p < text.size(); ++n) {
            const Char c = char_at(text, p);
            if (c.cls != kNumber) break;
            p += c.len;
        }
        return p;
    }
    //  ?[^\s\p{L}\p{N}]+[\r\n]*
    size_t other_start = std::string_view::npos;
    if (c0.cls == kOther) {
        other_start = pos;
    } else if (c0.cp == ' ' && next < text.size() && char_at(text, next).cls == kOther) {
        other_start = next;
    }
    if (other_start != std::string_view::npos) {
        size_t p = run_end(text, other_start, kOther);
        while (p < text.size() && (text[p] == '\r' || text[p] == '\n')) ++p;
        return p;
    }
    // \s*[\r\n]+ : backtracking leaves the run up to and including its last newline.
    size_t p = pos;
    size_t newline_end = 0;
    while (p < text.size()) {
        const Char c = char_at(text, p);
        if (c.cls != kSpace) break;
        p += c.len;
        if (is_newline(c.cp)) newline_end = p;
    }
    if (newline_end != 0) return newline_end;
    return whitespace_end(text, pos);
}

}  // namespace

std::optional<PreTokenizer> pre_tokenizer_from_name(std::string_view name) {
    // llama.cpp's tokenizer.ggml.pre names whose regexes are exactly these.
    static constexpr std::array<std::string_view, 10> kGpt2 = {"gpt-2",   "phi-2",      "roberta-bpe", "gigachat",   "jina-es",
                                                               "jina-de", "jina-v1-en", "jina-v2-es",  "jina-v2-de", "jina-v2-code"};
    static constexpr std::array<std::string_view, 4> kLlama3 = {"llama3", "llama-v3", "llama-bpe", "falcon3"};
    static constexpr std::array<std::string_view, 2> kQwen2 = {"qwen2", "deepseek-r1-qwen"};
    static constexpr std::array<std::string_view, 4> kGpt2Digits = {"smollm", "starcoder", "refact", "command-r"};
    for (auto n : kGpt2)
        if (n == name) return PreTokenizer::Gpt2;
    for (auto n : kLlama3)
        if (n == name) return PreTokenizer::Llama3;
    for (auto n : kQwen2)
        if (n == name) return PreTokenizer::Qwen2;
    for (auto n : kGpt2Digits)
        if (n == name) return PreTokenizer::Gpt2Digits;
    return std::nullopt;
}

size_t pre_token_end(std::string_view text, size_t pos, PreTokenizer kind) {
    switch (kind) {
        case PreTokenizer::Gpt2:
            return gpt2_end(text, pos);
        case PreTokenizer::Llama3:
            return llama3_end(text, pos, 3);
        case PreTokenizer::Qwen2:
            return llama3_end(text, pos, 1);
        case PreTokenizer::Gpt2Digits:
            return gpt2_digits_end(text, pos);
    }
    return text.size();
}

}  // namespace llmq::tokenizer_detail
