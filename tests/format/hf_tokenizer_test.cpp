// Tokenizers → GGUF vocabulary keys, checked against the arrays llama.cpp's converter wrote for
// the fixture models (tinyllama-spm: SentencePiece tokenizer.model; tinyqwen-bpe: byte-level
// BPE tokenizer.json), plus hand-made protobufs and pre-tokenizers.
#include <gtest/gtest.h>

#include <cstring>

#include "format/hf_internal.hpp"
#include "llmq/error.hpp"
#include "llmq/io/memory.hpp"
#include "posix_io.hpp"
#include "support/fixtures.hpp"
#include "support/hf_builder.hpp"

namespace llmq {
namespace {

using hf::json;

const auto kLlamaDir = test::fixture("models/tinyllama-spm");
const auto kQwenDir = test::fixture("models/tinyqwen-bpe");

gguf::Header reference(const std::string& name) {
    native::FileSource src(test::fixture("models/" + name + ".bf16.gguf"));
    return gguf::read_header(src);
}

// The reference's tokenizer.* keys, in file order.
std::vector<gguf::KeyValue> tokenizer_keys(const gguf::Header& h) {
    std::vector<gguf::KeyValue> out;
    for (const auto& kv : h.kv)
        if (kv.key.rfind("tokenizer.", 0) == 0) out.push_back(kv);
    return out;
}

json load_json(const std::filesystem::path& p) {
    const auto bytes = test::read_file(p);
    return json::parse(bytes.begin(), bytes.end());
}

void expect_same_keys(const std::vector<gguf::KeyValue>& ours, const std::vector<gguf::KeyValue>& ref) {
    ASSERT_EQ(ours.size(), ref.size());
    for (size_t i = 0; i < ref.size(); ++i) {
        EXPECT_EQ(ours[i].key, ref[i].key) << i;
        EXPECT_TRUE(ours[i].value == ref[i].value) << ref[i].key;
    }
}

TEST(HfSentencePiece, MatchesTheReferenceVocabulary) {
    const auto ref = reference("tinyllama-spm");
    std::vector<std::string> warnings;
    const auto bytes = test::read_file(kLlamaDir / "tokenizer.model");
    const auto v = hf::read_sentencepiece(bytes, "tokenizer.model", 2048, warnings);
    EXPECT_TRUE(warnings.empty());
    EXPECT_EQ(v.model, "llama");
    EXPECT_EQ(v.pre, "default");
    EXPECT_EQ(v.tokens, ref.find("tokenizer.ggml.tokens")->strings());
    const auto* scores = ref.find("tokenizer.ggml.scores");
    ASSERT_EQ(scores->array_bytes().size(), v.scores.size() * 4);
    EXPECT_EQ(std::memcmp(scores->array_bytes().data(), v.scores.data(), v.scores.size() * 4), 0);  // bits, -0.0 included
    const auto* types = ref.find("tokenizer.ggml.token_type");
    ASSERT_EQ(types->array_size(), v.types.size());
    for (size_t i = 0; i < v.types.size(); ++i) ASSERT_EQ(types->int_at(i), v.types[i]) << i;
}

TEST(HfSentencePiece, AllTokenizerKeysMatchTheReference) {
    native::DiskFileSet files(kLlamaDir);
    std::vector<std::string> warnings;
    const auto bytes = test::read_file(kLlamaDir / "tokenizer.model");
    const auto v = hf::read_sentencepiece(bytes, "tokenizer.model", 2048, warnings);
    const auto tc = load_json(kLlamaDir / "tokenizer_config.json");
    const auto config = load_json(kLlamaDir / "config.json");
    const auto special = hf::read_special_tokens(files, v, nullptr, &tc, config, warnings);
    using P = std::pair<std::string, uint32_t>;
    EXPECT_EQ(special.ids,
              (std::vector<P>{{"tokenizer.ggml.bos_token_id", 1}, {"tokenizer.ggml.eos_token_id", 2}, {"tokenizer.ggml.unknown_token_id", 0}}));
    EXPECT_FALSE(special.chat_template);
    expect_same_keys(hf::tokenizer_metadata(v, special), tokenizer_keys(reference("tinyllama-spm")));
    EXPECT_TRUE(warnings.empty());
}

TEST(HfSentencePiece, PadsPlaceholdersAndMapsTypes) {
    std::vector<test::SpmPiece> pieces = {{"<unk>", 0, 2}, {"<s>", 0, 3}, {"a", -1.5f, 0}, {"<user>", 0, 4}, {"<0x41>", 0, 6}, {"x", -2, 5}};
    std::vector<std::string> warnings;
    const auto v = hf::read_sentencepiece(test::sentencepiece_bytes(pieces), "t.model", 8, warnings);
    EXPECT_EQ(v.tokens, (std::vector<std::string>{"<unk>", "<s>", "a", "<user>", "<0x41>", "x", "[PAD6]", "[PAD7]"}));
    EXPECT_EQ(v.types, (std::vector<int32_t>{2, 3, 1, 1, 6, 5, 5, 5}));  // user-defined pieces count as normal
    EXPECT_EQ(v.scores, (std::vector<float>{0, 0, -1.5f, 0, 0, -2, -10000.0f, -10000.0f}));
    // More pieces than config.json's vocab_size: the rest is dropped with a warning.
    const auto cut = hf::read_sentencepiece(test::sentencepiece_bytes(pieces), "t.model", 4, warnings);
    EXPECT_EQ(cut.tokens.size(), 4u);
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("6 pieces"), std::string::npos) << warnings[0];
}

TEST(HfSentencePiece, AddedTokensFromTokenizerConfig) {
    std::vector<std::string> warnings;
    auto v = hf::read_sentencepiece(test::sentencepiece_bytes(test::llama_style_pieces(10)), "t.model", 272, warnings);
    const json tc = json::parse(R"({"added_tokens_decoder": {
        "269": {"content": "<|im_start|>", "special": false},
        "270": {"content": "my\u2581word", "special": false},
        "271": {"content": "<tool>", "special": true},
        "900": {"content": "<far>", "special": true}}})");
    const json added = json::parse(R"({"extra": 268})");
    hf::apply_added_tokens(v, &tc, &added, warnings);
    EXPECT_EQ(v.tokens[268], "extra");
    EXPECT_EQ(v.types[268], hf::kUserDefined);
    EXPECT_EQ(v.types[269], hf::kControl);  // looks special
    EXPECT_EQ(v.tokens[270], "my word");    // user-defined: spaces spelt plainly
    EXPECT_EQ(v.types[270], hf::kUserDefined);
    EXPECT_EQ(v.types[271], hf::kControl);
    EXPECT_EQ(v.scores[271], -1000.0f);
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("900"), std::string::npos);
}

void expect_corrupt_model(const std::vector<uint8_t>& bytes, const std::string& fragment) {
    std::vector<std::string> warnings;
    try {
        hf::read_sentencepiece(bytes, "bad.model", 16, warnings);
        ADD_FAILURE() << "accepted a malformed protobuf";
    } catch (const Failure& f) {
        EXPECT_EQ(f.error().code, ExitCode::CorruptInput);
        EXPECT_NE(f.error().message.find("bad.model"), std::string::npos);
        EXPECT_NE(f.error().message.find(fragment), std::string::npos) << f.error().message;
    }
}

TEST(HfSentencePiece, RejectsMalformedProtobufs) {
    const auto good = test::sentencepiece_bytes({{"<unk>", 0, 2}, {"a", -1, 1}});
    expect_corrupt_model({0x0A}, "truncated varint");
    expect_corrupt_model({0x0A, 0x20, 0x01}, "past the end");
    expect_corrupt_model(std::vector<uint8_t>(good.begin(), good.begin() + 5), "past the end");
    expect_corrupt_model({0x0A, 0x02, 0x18, 0x09}, "piece type 9");
    expect_corrupt_model({0x0A, 0x02, 0x15, 0x00}, "truncated fixed32");
    expect_corrupt_model({0x0B}, "wire type 3");
    expect_corrupt_model({0x0A, 0x02, 0x10, 0x01}, "wire type 0");  // score as a varint
    expect_corrupt_model({0x12, 0x00}, "no pieces");
    expect_corrupt_model({0x00}, "field number 0");
    expect_corrupt_model(std::vector<uint8_t>(11, 0xFF), "longer than 10 bytes");
}

TEST(HfBpe, MatchesTheReferenceVocabulary) {
    const auto ref = reference("tinyqwen-bpe");
    std::vector<std::string> warnings;
    const auto tok = load_json(kQwenDir / "tokenizer.json");
    const auto v = hf::read_bpe_tokenizer(tok, "tokenizer.json", 4096, warnings);
    EXPECT_TRUE(warnings.empty());
    EXPECT_EQ(v.model, "gpt2");
    EXPECT_EQ(v.pre, "gpt-2");
    EXPECT_EQ(v.tokens, ref.find("tokenizer.ggml.tokens")->strings());
    EXPECT_EQ(v.merges, ref.find("tokenizer.ggml.merges")->strings());
    const auto* types = ref.find("tokenizer.ggml.token_type");
    for (size_t i = 0; i < v.types.size(); ++i) ASSERT_EQ(types->int_at(i), v.types[i]) << i;

    native::DiskFileSet files(kQwenDir);
    const auto tc = load_json(kQwenDir / "tokenizer_config.json");
    const auto special = hf::read_special_tokens(files, v, &tok, &tc, load_json(kQwenDir / "config.json"), warnings);
    expect_same_keys(hf::tokenizer_metadata(v, special), tokenizer_keys(ref));
}

TEST(HfBpe, AddedTokensPaddingAndPairMerges) {
    std::vector<std::string> warnings;
    const auto tok = test::bpe_tokenizer_json(10, test::SyntheticModel::kQwen2Regex);
    const auto v = hf::read_bpe_tokenizer(tok, "t.json", 14, warnings);
    EXPECT_EQ(v.pre, "qwen2");
    EXPECT_EQ(v.tokens[10], "<|im_start|>");
    EXPECT_EQ(v.types[10], hf::kControl);
    EXPECT_EQ(v.tokens[11], "<think>");
    EXPECT_EQ(v.types[11], hf::kUserDefined);
    EXPECT_EQ(v.tokens[12], "[PAD12]");
    EXPECT_EQ(v.types[13], hf::kUnused);
    EXPECT_EQ(v.merges, (std::vector<std::string>{"t 1", "t1 2"}));
    // Ids beyond config.json's vocab_size are an inconsistent model.
    EXPECT_THROW(hf::read_bpe_tokenizer(tok, "t.json", 11, warnings), Failure);
}

TEST(HfBpe, PreTokenizerFromItsRegex) {
    const std::string llama3 =
        R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
    auto pre = [](const json& tok) { return hf::pre_tokenizer_name(tok["pre_tokenizer"]); };
    EXPECT_EQ(pre(test::bpe_tokenizer_json(4, "")), "gpt-2");
    EXPECT_EQ(pre(test::bpe_tokenizer_json(4, llama3)), "llama-bpe");
    EXPECT_EQ(pre(test::bpe_tokenizer_json(4, test::SyntheticModel::kQwen2Regex)), "qwen2");
    EXPECT_EQ(pre(test::bpe_tokenizer_json(4, "\\p{N}+")), std::nullopt);
    // A Split followed by a ByteLevel that still applies its own regex is two splits: unknown.
    json twice = test::bpe_tokenizer_json(4, llama3);
    twice["pre_tokenizer"]["pretokenizers"][1]["use_regex"] = true;
    EXPECT_EQ(pre(twice), std::nullopt);
    std::vector<std::string> warnings;
    const auto v = hf::read_bpe_tokenizer(test::bpe_tokenizer_json(4, "\\p{N}+"), "t.json", 8, warnings);
    EXPECT_EQ(v.pre, "default");
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("pre-tokenizer"), std::string::npos);
}

TEST(HfBpe, OtherTokenizerModelsAreUnsupported) {
    json tok = test::bpe_tokenizer_json(4, "");
    tok["model"]["type"] = "Unigram";
    std::vector<std::string> warnings;
    try {
        hf::read_bpe_tokenizer(tok, "t.json", 8, warnings);
        ADD_FAILURE();
    } catch (const Failure& f) {
        EXPECT_EQ(f.error().code, ExitCode::Unsupported);
        EXPECT_NE(f.error().message.find("Unigram"), std::string::npos);
    }
}

TEST(HfSpecialTokens, TemplateProcessingAndChatTemplate) {
    MemoryFileSet files("m");
    files.add("chat_template.jinja", test::SyntheticModel::text("{{ messages }}"));
    std::vector<std::string> warnings;
    auto tok = test::bpe_tokenizer_json(10, "");
    tok["post_processor"] = json::parse(R"({"type": "Sequence", "processors": [
        {"type": "ByteLevel"},
        {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<|im_start|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}]}]})");
    const auto v = hf::read_bpe_tokenizer(tok, "t.json", 12, warnings);
    const json tc = json::parse(R"({"bos_token": {"content": "<|im_start|>"}, "eos_token": "<|endoftext|>", "add_bos_token": false})");
    const json config = json::parse(R"({"bos_token_id": 3, "pad_token_id": 99, "eos_token_id": [0, 1]})");
    const auto special = hf::read_special_tokens(files, v, &tok, &tc, config, warnings);
    using P = std::pair<std::string, uint32_t>;
    EXPECT_EQ(special.ids, (std::vector<P>{{"tokenizer.ggml.bos_token_id", 10}, {"tokenizer.ggml.eos_token_id", 0}}));
    using F = std::pair<std::string, bool>;
    EXPECT_EQ(special.flags, (std::vector<F>{{"tokenizer.ggml.add_bos_token", true}, {"tokenizer.ggml.add_eos_token", false}}));
    EXPECT_EQ(special.chat_template, "{{ messages }}");
    ASSERT_EQ(warnings.size(), 1u);  // pad id 99 is outside the vocabulary
    EXPECT_NE(warnings[0].find("99"), std::string::npos);
}

}  // namespace
}  // namespace llmq
