// The pre-tokenizer scanners against the regexes themselves: splits computed by Python's
// `regex` engine (scripts/gen_pretokenize_golden.py) for llama.cpp's test texts and cases aimed
// at each alternative of the gpt-2, llama-bpe and qwen2 patterns, and gpt-2 after splitting
// off number characters (smollm and its kin).
#include "runtime/tokenizer_pretokenize.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "runtime/tokenizer_unicode.hpp"
#include "support/fixtures.hpp"

namespace llmq::tokenizer_detail {
namespace {

std::vector<std::string> split(std::string_view text, PreTokenizer kind) {
    std::vector<std::string> words;
    for (size_t pos = 0; pos < text.size();) {
        const size_t end = pre_token_end(text, pos, kind);
        if (end <= pos || end > text.size()) {
            ADD_FAILURE() << "no progress at " << pos;
            break;
        }
        words.emplace_back(text.substr(pos, end - pos));
        pos = end;
    }
    return words;
}

TEST(PreTokenizer, MatchesTheRegexes) {
    const auto bytes = test::read_file(test::source_dir() / "tests/runtime/data/pretokenize_golden.json");
    const auto golden = nlohmann::json::parse(bytes.begin(), bytes.end());
    const auto& cases = golden.at("cases");
    ASSERT_GE(cases.size(), 60u);
    size_t checked = 0;
    for (const auto& c : cases) {
        const std::string text = c.at("text");
        for (const auto& [name, kind] : {std::pair{"gpt2", PreTokenizer::Gpt2}, std::pair{"llama3", PreTokenizer::Llama3},
                                         std::pair{"qwen2", PreTokenizer::Qwen2}, std::pair{"gpt2_digits", PreTokenizer::Gpt2Digits}}) {
            SCOPED_TRACE(std::string(name) + ": \"" + text + "\"");
            EXPECT_EQ(split(text, kind), c.at(name).get<std::vector<std::string>>());
            ++checked;
        }
    }
    EXPECT_EQ(checked, cases.size() * 4);
}

TEST(PreTokenizer, Names) {
    EXPECT_EQ(pre_tokenizer_from_name("gpt-2"), PreTokenizer::Gpt2);
    EXPECT_EQ(pre_tokenizer_from_name("llama-bpe"), PreTokenizer::Llama3);
    EXPECT_EQ(pre_tokenizer_from_name("qwen2"), PreTokenizer::Qwen2);
    for (const char* name : {"smollm", "starcoder", "refact", "command-r"})
        EXPECT_EQ(pre_tokenizer_from_name(name), PreTokenizer::Gpt2Digits) << name;
    EXPECT_EQ(pre_tokenizer_from_name("default"), std::nullopt);
    EXPECT_EQ(pre_tokenizer_from_name(""), std::nullopt);
}

TEST(PreTokenizer, UnicodeClasses) {
    EXPECT_EQ(char_class('a'), kLetter);
    EXPECT_EQ(char_class('7'), kNumber);
    EXPECT_EQ(char_class('\t'), kSpace);
    EXPECT_EQ(char_class('_'), kOther);
    EXPECT_EQ(char_class(0x00E9), kLetter);  // é
    EXPECT_EQ(char_class(0x0663), kNumber);  // Arabic-Indic three
    EXPECT_EQ(char_class(0x2163), kNumber);  // Roman numeral four (Nl)
    EXPECT_EQ(char_class(0x00B2), kNumber);  // superscript two (No)
    EXPECT_EQ(char_class(0x3000), kSpace);   // ideographic space
    EXPECT_EQ(char_class(0x00A0), kSpace);   // no-break space
    EXPECT_EQ(char_class(0x001C), kOther);   // not White_Space, though Python's isspace says so
    EXPECT_EQ(char_class(0x4E00), kLetter);  // CJK ideograph (Lo)
    EXPECT_EQ(char_class(0x1F600), kOther);  // emoji (So)
    EXPECT_EQ(char_class(0x10FFFF), kOther);
    EXPECT_STREQ(kUnicodeVersion, "14.0.0");
}

TEST(PreTokenizer, Utf8Decoding) {
    EXPECT_EQ(decode_utf8("\xC3\xA9", 0).cp, 0xE9u);
    EXPECT_EQ(decode_utf8("\xF0\x9F\x98\x80", 0).cp, 0x1F600u);
    EXPECT_EQ(decode_utf8("\xF0\x9F\x98\x80", 0).len, 4u);
    // Overlong, surrogate, truncated and stray bytes decode as one invalid byte each.
    for (std::string_view bad : {"\xC0\xAF", "\xED\xA0\x80", "\xE2\x82", "\x80", "\xFF"}) {
        EXPECT_EQ(decode_utf8(bad, 0).cp, kInvalidCp) << bad;
        EXPECT_EQ(decode_utf8(bad, 0).len, 1u) << bad;
    }
    // Invalid bytes are words of their own kind: nothing is lost.
    const std::string raw = "a\xFF\xFE b";
    std::string joined;
    for (const auto& w : split(raw, PreTokenizer::Llama3)) joined += w;
    EXPECT_EQ(joined, raw);
}

}  // namespace
}  // namespace llmq::tokenizer_detail
