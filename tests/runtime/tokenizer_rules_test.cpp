// Tokenizer rules on small hand-made vocabularies (each built so that a wrong rule gives other
// ids), special tokens and BOS/EOS on the fixture vocabularies, decode options, and the
// failures for missing or inconsistent vocabulary keys.
#include <gtest/gtest.h>

#include <cstdio>

#include "llmq/error.hpp"
#include "runtime/tokenizer_support.hpp"

namespace llmq {
namespace {

using gguf::KeyValue;
using gguf::Value;
using gguf::ValueType;

struct Tok {
    std::string text;
    float score = 0.0f;
    TokenType type = TokenType::Normal;
};

Value int_array(const std::vector<int32_t>& v) {
    return Value::array_of<int32_t>(ValueType::INT32, v);
}
Value float_array(const std::vector<float>& v) {
    return Value::array_of<float>(ValueType::FLOAT32, v);
}

void set(std::vector<KeyValue>& kv, const std::string& key, Value value) {
    for (auto& e : kv)
        if (e.key == key) {
            e.value = std::move(value);
            return;
        }
    kv.push_back({key, std::move(value)});
}

void remove_key(std::vector<KeyValue>& kv, const std::string& key) {
    std::erase_if(kv, [&](const KeyValue& e) { return e.key == key; });
}

// SentencePiece vocabulary: <unk> <s> </s>, the 256 byte tokens (ids 3..258), then `normal`.
std::vector<KeyValue> spm_kv(const std::vector<Tok>& normal) {
    std::vector<Tok> all = {{"<unk>", 0, TokenType::Unknown}, {"<s>", 0, TokenType::Control}, {"</s>", 0, TokenType::Control}};
    for (int b = 0; b < 256; ++b) {
        char hex[8];
        std::snprintf(hex, sizeof hex, "<0x%02X>", b);
        all.push_back({hex, 0, TokenType::Byte});
    }
    all.insert(all.end(), normal.begin(), normal.end());
    std::vector<std::string> texts;
    std::vector<float> scores;
    std::vector<int32_t> types;
    for (const Tok& t : all) {
        texts.push_back(t.text);
        scores.push_back(t.score);
        types.push_back(static_cast<int32_t>(t.type));
    }
    return {{"tokenizer.ggml.model", Value::string("llama")},
            {"tokenizer.ggml.tokens", Value::string_array(texts)},
            {"tokenizer.ggml.scores", float_array(scores)},
            {"tokenizer.ggml.token_type", int_array(types)}};
}
constexpr int32_t kFirstSpm = 259;  // id of the first `normal` token

// Byte-level BPE vocabulary of `tokens` (already in GPT-2's mapped alphabet) and merges.
std::vector<KeyValue> bpe_kv(const std::vector<Tok>& tokens, const std::vector<std::string>& merges, const std::string& pre = "gpt-2") {
    std::vector<std::string> texts;
    std::vector<int32_t> types;
    for (const Tok& t : tokens) {
        texts.push_back(t.text);
        types.push_back(static_cast<int32_t>(t.type));
    }
    return {{"tokenizer.ggml.model", Value::string("gpt2")},
            {"tokenizer.ggml.pre", Value::string(pre)},
            {"tokenizer.ggml.tokens", Value::string_array(texts)},
            {"tokenizer.ggml.token_type", int_array(types)},
            {"tokenizer.ggml.merges", Value::string_array(merges)}};
}

Tokenizer make(const std::vector<KeyValue>& kv) {
    return Tokenizer::from_kv(kv, "synthetic.gguf");
}

std::vector<int32_t> enc(const Tokenizer& t, std::string_view text) {
    return t.encode(text, false, false);
}

const std::string kMark = "\xE2\x96\x81";  // ▁

// ---- SentencePiece ---------------------------------------------------------------------------

TEST(TokenizerSpm, HighestScoreFirstLeftmostOnTies) {
    // "aba": the pairs "ab" (left) and "ba" compete.
    auto kv = spm_kv({{"a", -5}, {"b", -5}, {"ab", -1}, {"ba", -1}});
    set(kv, "tokenizer.ggml.add_space_prefix", Value::boolean(false));
    const int32_t a = kFirstSpm, ab = kFirstSpm + 2, ba = kFirstSpm + 3;
    EXPECT_EQ(enc(make(kv), "aba"), (std::vector<int32_t>{ab, a}));  // tie: leftmost
    kv = spm_kv({{"a", -5}, {"b", -5}, {"ab", -1}, {"ba", -0.5f}});
    set(kv, "tokenizer.ggml.add_space_prefix", Value::boolean(false));
    EXPECT_EQ(enc(make(kv), "aba"), (std::vector<int32_t>{a, ba}));  // higher score wins
}

TEST(TokenizerSpm, MergesMayCrossWordsWhenTheVocabularyHasSuchTokens) {
    // "a a" is "▁a▁a". With a token "a▁" the best merge crosses the word start, so words cannot
    // be encoded (or cached) independently; without it they can.
    const int32_t mark = kFirstSpm, a = kFirstSpm + 1;
    const Tokenizer crossing = make(spm_kv({{kMark, -1}, {"a", -1}, {"a" + kMark, 0}, {kMark + "a", -0.5f}}));
    EXPECT_EQ(enc(crossing, "a a"), (std::vector<int32_t>{mark, kFirstSpm + 2, a}));
    const Tokenizer plain = make(spm_kv({{kMark, -1}, {"a", -1}, {kMark + "a", -0.5f}}));
    EXPECT_EQ(enc(plain, "a a"), (std::vector<int32_t>{kFirstSpm + 2, kFirstSpm + 2}));
    // A repeated word through the cache equals the first encoding of it.
    EXPECT_EQ(enc(plain, "a a a a a a"), std::vector<int32_t>(6, kFirstSpm + 2));
}

TEST(TokenizerSpm, ByteFallbackAndSpacePrefix) {
    auto kv = spm_kv({{kMark, -1}, {"a", -1}, {kMark + "a", -0.5f}});
    const Tokenizer tok = make(kv);
    // "é" is not in the vocabulary: its two UTF-8 bytes.
    EXPECT_EQ(enc(tok, "\xC3\xA9"), (std::vector<int32_t>{kFirstSpm, 3 + 0xC3, 3 + 0xA9}));
    EXPECT_EQ(tok.decode(enc(tok, "\xC3\xA9 a")), "\xC3\xA9 a");
    set(kv, "tokenizer.ggml.add_space_prefix", Value::boolean(false));
    const Tokenizer bare = make(kv);
    EXPECT_FALSE(bare.add_space_prefix());
    EXPECT_EQ(enc(bare, "a"), (std::vector<int32_t>{kFirstSpm + 1}));
    EXPECT_EQ(bare.decode(std::vector<int32_t>{kFirstSpm + 2}), " a");  // no prefix to strip
}

TEST(TokenizerSpm, DecodeLeadingSpaceAndSpecialTokens) {
    const Tokenizer tok = test::fixture_tokenizer("models/tinyllama-spm.bf16.gguf");
    const auto hello = tok.encode("Hello world", /*add_special=*/true, false);
    ASSERT_EQ(hello.front(), 1);
    // BOS renders as nothing; the dummy prefix's space is dropped only from the first token.
    EXPECT_EQ(tok.decode(hello), " Hello world");
    EXPECT_EQ(tok.decode(std::span(hello).subspan(1)), "Hello world");
    EXPECT_EQ(tok.decode(hello, {.remove_special = true}), " Hello world");  // as llama_detokenize
    EXPECT_EQ(tok.decode(hello, {.render_special = true}), "<s> Hello world");
    EXPECT_THROW(tok.decode(std::vector<int32_t>{5000}), Failure);
    EXPECT_THROW(tok.decode(std::vector<int32_t>{-1}), Failure);
}

// ---- special tokens and BOS/EOS ----------------------------------------------------------------

TEST(TokenizerSpecial, ControlTokensOnlyWithParseSpecial) {
    const Tokenizer spm = test::fixture_tokenizer("models/tinyllama-spm.bf16.gguf");
    EXPECT_EQ(spm.encode("<s>", false, true), (std::vector<int32_t>{1}));
    const auto literal = spm.encode("<s>", false, false);
    EXPECT_GT(literal.size(), 1u);
    EXPECT_EQ(std::count(literal.begin(), literal.end(), 1), 0);
    // Text after a special token gets the dummy prefix again.
    auto joined = spm.encode("a", false, false);
    joined.push_back(2);
    for (int32_t id : spm.encode("b", false, false)) joined.push_back(id);
    EXPECT_EQ(spm.encode("a</s>b", false, true), joined);

    const Tokenizer bpe = test::fixture_tokenizer("models/tinyqwen-bpe.bf16.gguf");
    EXPECT_EQ(bpe.encode("<|endoftext|>", false, true), (std::vector<int32_t>{0}));
    const auto parts = bpe.encode("Hi<|endoftext|>there", false, true);
    EXPECT_EQ(std::count(parts.begin(), parts.end(), 0), 1);
    const auto literal_bpe = bpe.encode("Hi<|endoftext|>there", false, false);
    EXPECT_EQ(std::count(literal_bpe.begin(), literal_bpe.end(), 0), 0);
    EXPECT_EQ(bpe.decode(parts), "Hithere");
    EXPECT_EQ(bpe.decode(parts, {.render_special = true}), "Hi<|endoftext|>there");
}

TEST(TokenizerSpecial, UserDefinedTokensAlwaysMatchLongestFirst) {
    const std::vector<Tok> tokens = {
        {"x"}, {"y"}, {"z"}, {"xy", 0, TokenType::UserDefined}, {"xyz", 0, TokenType::UserDefined}, {"<c>", 0, TokenType::Control},
        {"<"}, {">"}, {"c"}};
    const Tokenizer tok = make(bpe_kv(tokens, {}));
    EXPECT_EQ(enc(tok, "xyzxy"), (std::vector<int32_t>{4, 3}));
    EXPECT_EQ(enc(tok, "<c>"), (std::vector<int32_t>{6, 8, 7}));
    EXPECT_EQ(tok.encode("<c>", false, true), (std::vector<int32_t>{5}));
    EXPECT_EQ(tok.decode(std::vector<int32_t>{4, 5, 0}), "xyzx");
}

TEST(TokenizerSpecial, BosEosFlags) {
    auto kv = test::fixture_model("models/tinyllama-spm.bf16.gguf").metadata;
    set(kv, "tokenizer.ggml.add_eos_token", Value::boolean(true));
    const Tokenizer tok = make(kv);
    const auto ids = tok.encode("Hi", true, false);
    EXPECT_EQ(ids.front(), 1);
    EXPECT_EQ(ids.back(), 2);
    EXPECT_EQ(tok.encode("", true, false), (std::vector<int32_t>{1, 2}));
    EXPECT_EQ(tok.encode("", false, false), (std::vector<int32_t>{}));
    EXPECT_EQ(tok.decode(ids, {.remove_special = true}), " Hi");

    // Llama 3 vocabularies add BOS unless they say otherwise; GPT-2 ones do not.
    std::vector<Tok> tokens = {{"a"}, {"<|begin_of_text|>", 0, TokenType::Control}};
    auto llama3 = bpe_kv(tokens, {}, "llama-bpe");
    set(llama3, "tokenizer.ggml.bos_token_id", Value::u32(1));
    EXPECT_TRUE(make(llama3).add_bos());
    EXPECT_EQ(make(llama3).encode("a", true, false), (std::vector<int32_t>{1, 0}));
    set(llama3, "tokenizer.ggml.add_bos_token", Value::boolean(false));
    EXPECT_EQ(make(llama3).encode("a", true, false), (std::vector<int32_t>{0}));
    auto gpt2 = bpe_kv(tokens, {});
    set(gpt2, "tokenizer.ggml.bos_token_id", Value::u32(1));
    EXPECT_FALSE(make(gpt2).add_bos());
}

// ---- byte-level BPE ---------------------------------------------------------------------------

TEST(TokenizerBpe, MergesByRankLeftmostOnTies) {
    const std::vector<Tok> tokens = {{"a"}, {"b"}, {"c"}, {"ab"}, {"bc"}};
    EXPECT_EQ(enc(make(bpe_kv(tokens, {"b c", "a b"})), "abc"), (std::vector<int32_t>{0, 4}));
    EXPECT_EQ(enc(make(bpe_kv(tokens, {"a b", "b c"})), "abc"), (std::vector<int32_t>{3, 2}));
    // "abab": both "ab" pairs have the same rank; the leftmost merges first, then the other.
    EXPECT_EQ(enc(make(bpe_kv(tokens, {"a b"})), "abab"), (std::vector<int32_t>{3, 3}));
}

TEST(TokenizerBpe, Llama3TakesWholeWordTokens) {
    // The merges make "a"+"bc" of "abc"; a Llama 3 vocabulary takes the token "abc" as it is.
    const std::vector<Tok> tokens = {{"a"}, {"b"}, {"c"}, {"bc"}, {"abc"}};
    const std::vector<std::string> merges = {"b c"};
    EXPECT_EQ(enc(make(bpe_kv(tokens, merges, "gpt-2")), "abc"), (std::vector<int32_t>{0, 3}));
    EXPECT_EQ(enc(make(bpe_kv(tokens, merges, "qwen2")), "abc"), (std::vector<int32_t>{0, 3}));
    EXPECT_EQ(enc(make(bpe_kv(tokens, merges, "llama-bpe")), "abc"), (std::vector<int32_t>{4}));
}

TEST(TokenizerBpe, MergesThroughStringsTheVocabularyLacks) {
    // "ab" is no token, yet "a b" then "ab c" make the token "abc" (merging by strings).
    EXPECT_EQ(enc(make(bpe_kv({{"a"}, {"b"}, {"c"}, {"abc"}}, {"a b", "ab c"})), "abc"), (std::vector<int32_t>{3}));
    // A merged string that ends up no token is spelled byte by byte.
    EXPECT_EQ(enc(make(bpe_kv({{"a"}, {"b"}}, {"a b"})), "ab"), (std::vector<int32_t>{0, 1}));
}

TEST(TokenizerBpe, BytesAreMappedAndUnmapped) {
    const Tokenizer tok = test::fixture_tokenizer("vocab/ggml-vocab-gpt-2.gguf");
    // Space is 'Ġ' (U+0120), newline 'Ċ' (U+010A) in GPT-2's alphabet.
    EXPECT_EQ(tok.encode(" ", false, false), (std::vector<int32_t>{220}));
    EXPECT_EQ(tok.token_text(220), "\xC4\xA0");
    EXPECT_EQ(tok.token_piece(198), "\n");
    // Invalid UTF-8 survives the round trip byte for byte.
    const std::string raw = "ok \xFF\xFE bytes \xE2\x82";
    EXPECT_EQ(tok.decode(tok.encode(raw, false, false)), raw);
}

// ---- failures ----------------------------------------------------------------------------------

void expect_failure(const std::vector<KeyValue>& kv, ExitCode code, const std::string& fragment) {
    try {
        make(kv);
        ADD_FAILURE() << "accepted; expected: " << fragment;
    } catch (const Failure& f) {
        EXPECT_EQ(f.error().code, code) << f.error().message;
        EXPECT_NE(f.error().message.find(fragment), std::string::npos) << f.error().message;
        EXPECT_NE(f.error().message.find("synthetic.gguf"), std::string::npos) << f.error().message;
    }
}

TEST(TokenizerErrors, MissingOrInconsistentKeys) {
    const auto base = test::fixture_model("models/tinyllama-spm.bf16.gguf").metadata;
    auto kv = base;
    remove_key(kv, "tokenizer.ggml.model");
    expect_failure(kv, ExitCode::Unsupported, "tokenizer.ggml.model is missing");
    kv = base;
    set(kv, "tokenizer.ggml.model", Value::string("bert"));
    expect_failure(kv, ExitCode::Unsupported, "'bert' is not supported");
    set(kv, "tokenizer.ggml.model", Value::string("none"));
    expect_failure(kv, ExitCode::Unsupported, "the model has no vocabulary");
    kv = base;
    set(kv, "tokenizer.ggml.model", Value::u32(1));
    expect_failure(kv, ExitCode::CorruptInput, "tokenizer.ggml.model is not a string");
    kv = base;
    remove_key(kv, "tokenizer.ggml.tokens");
    expect_failure(kv, ExitCode::CorruptInput, "tokenizer.ggml.tokens is missing");
    kv = base;
    set(kv, "tokenizer.ggml.tokens", int_array({1, 2}));
    expect_failure(kv, ExitCode::CorruptInput, "tokenizer.ggml.tokens is not an array of strings");
    kv = base;
    set(kv, "tokenizer.ggml.scores", float_array({0.0f, 1.0f}));
    expect_failure(kv, ExitCode::CorruptInput, "tokenizer.ggml.scores has 2 entries for 2048 tokens");
    kv = base;
    std::vector<int32_t> types(2048, 1);
    types[7] = 9;
    set(kv, "tokenizer.ggml.token_type", int_array(types));
    expect_failure(kv, ExitCode::CorruptInput, "invalid type for token 7");
    kv = base;
    set(kv, "tokenizer.ggml.bos_token_id", Value::u32(2048));
    expect_failure(kv, ExitCode::CorruptInput, "tokenizer.ggml.bos_token_id = 2048 is outside the vocabulary");
    kv = base;
    set(kv, "tokenizer.ggml.add_bos_token", Value::u32(1));
    expect_failure(kv, ExitCode::CorruptInput, "tokenizer.ggml.add_bos_token is not a boolean");
}

TEST(TokenizerErrors, BpeNeedsMergesAndAKnownPreTokenizer) {
    const auto base = test::fixture_model("models/tinyqwen-bpe.bf16.gguf").metadata;
    auto kv = base;
    remove_key(kv, "tokenizer.ggml.merges");
    expect_failure(kv, ExitCode::CorruptInput, "tokenizer.ggml.merges is missing");
    kv = base;
    set(kv, "tokenizer.ggml.merges", Value::string_array({"a b", "nospace"}));
    expect_failure(kv, ExitCode::CorruptInput, "tokenizer.ggml.merges entry 1 ('nospace')");
    kv = base;
    set(kv, "tokenizer.ggml.pre", Value::string("default"));
    expect_failure(kv, ExitCode::Unsupported, "pre-tokenizer 'default' is not supported");
    kv = base;
    remove_key(kv, "tokenizer.ggml.bos_token_id");
    set(kv, "tokenizer.ggml.add_bos_token", Value::boolean(true));
    expect_failure(kv, ExitCode::CorruptInput, "add_bos_token is set but the vocabulary has no BOS token");
    kv = base;
    remove_key(kv, "tokenizer.ggml.pre");
    expect_failure(kv, ExitCode::Unsupported, "without tokenizer.ggml.pre");
    // Every supported name loads.
    for (const char* pre : {"gpt-2", "llama-bpe", "llama3", "qwen2", "deepseek-r1-qwen", "smollm", "starcoder", "refact", "command-r"}) {
        kv = base;
        set(kv, "tokenizer.ggml.pre", Value::string(pre));
        EXPECT_EQ(make(kv).pre(), pre);
    }
}

}  // namespace
}  // namespace llmq
