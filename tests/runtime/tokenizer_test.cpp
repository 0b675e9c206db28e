// Tokenizers on real vocabularies: llama.cpp's tokenizer test sets (ids from the original
// HuggingFace tokenizers), the reference prompts and continuations of the fixture models, and
// whole texts (token counts the reference perplexity runs imply, speed).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "runtime/tokenizer_support.hpp"

namespace llmq {
namespace {

struct VocabCase {
    std::string text;
    std::vector<int32_t> ids;
};

// .inp: every text followed by "\n__ggml_vocab_test__\n" (so a text's own leading and trailing
// newlines stay inside it); .out: one line of space-separated ids per text.
std::vector<VocabCase> load_vocab_cases(const std::string& vocab) {
    const std::string inp = test::read_text("vocab/" + vocab + ".inp");
    const std::string out = test::read_text("vocab/" + vocab + ".out");
    const std::string sep = "\n__ggml_vocab_test__\n";
    std::vector<VocabCase> cases;
    size_t pos = 0;
    while (pos < inp.size()) {
        const size_t end = inp.find(sep, pos);
        if (end == std::string::npos) throw std::runtime_error(vocab + ".inp: text without separator");
        cases.push_back({inp.substr(pos, end - pos), {}});
        pos = end + sep.size();
    }
    std::istringstream lines(out);
    std::string line;
    size_t i = 0;
    while (std::getline(lines, line)) {
        if (i >= cases.size()) throw std::runtime_error(vocab + ".out: more lines than texts");
        std::istringstream ids(line);
        for (int32_t id; ids >> id;) cases[i].ids.push_back(id);
        ++i;
    }
    if (i != cases.size()) throw std::runtime_error(vocab + ".out: fewer lines than texts");
    return cases;
}

std::string show(const std::vector<int32_t>& ids) {
    std::string s;
    for (int32_t id : ids) s += " " + std::to_string(id);
    return s;
}

void check_vocab_cases(const std::string& vocab, size_t expected_cases) {
    const Tokenizer tok = test::fixture_tokenizer("vocab/" + vocab);
    const auto cases = load_vocab_cases(vocab);
    ASSERT_EQ(cases.size(), expected_cases);
    size_t encoded = 0, round_trips = 0;
    for (size_t i = 0; i < cases.size(); ++i) {
        const VocabCase& c = cases[i];
        SCOPED_TRACE(vocab + " case " + std::to_string(i) + ": \"" + c.text + "\"");
        const auto ids = tok.encode(c.text, /*add_special=*/false, /*parse_special=*/false);
        EXPECT_EQ(ids, c.ids) << "got" << show(ids) << "\nwant" << show(c.ids);
        encoded += ids == c.ids;
        // Both vocabularies spell any text (byte fallback / byte-level), so decoding is lossless.
        const std::string back = tok.decode(c.ids);
        EXPECT_EQ(back, c.text);
        round_trips += back == c.text;
    }
    std::printf("[          ] %s: %zu/%zu cases encode, %zu/%zu decode back\n", vocab.c_str(), encoded, cases.size(), round_trips, cases.size());
}

TEST(Tokenizer, LlamaSpmVocabCases) {
    check_vocab_cases("ggml-vocab-llama-spm.gguf", 46);
}

TEST(Tokenizer, Gpt2VocabCases) {
    check_vocab_cases("ggml-vocab-gpt-2.gguf", 46);
}

TEST(Tokenizer, FixtureVocabularyFacts) {
    const Tokenizer spm = test::fixture_tokenizer("models/tinyllama-spm.bf16.gguf");
    EXPECT_EQ(spm.kind(), TokenizerKind::Spm);
    EXPECT_EQ(spm.vocab_size(), 2048u);
    EXPECT_EQ(spm.bos(), 1);
    EXPECT_EQ(spm.eos(), 2);
    EXPECT_EQ(spm.unk(), 0);
    EXPECT_TRUE(spm.add_bos());
    EXPECT_FALSE(spm.add_eos());
    EXPECT_TRUE(spm.add_space_prefix());
    EXPECT_EQ(spm.token_text(13), "<0x0A>");
    EXPECT_EQ(spm.token_type(13), TokenType::Byte);
    EXPECT_EQ(spm.token_piece(13), "\n");
    EXPECT_EQ(spm.token_text(262), "\xE2\x96\x81the");
    EXPECT_EQ(spm.token_piece(262), " the");
    EXPECT_FLOAT_EQ(spm.token_score(262), -3.0f);
    EXPECT_EQ(spm.token_piece(1), "");
    EXPECT_EQ(spm.token_piece(1, /*render_special=*/true), "<s>");

    const Tokenizer bpe = test::fixture_tokenizer("models/tinyqwen-bpe.bf16.gguf");
    EXPECT_EQ(bpe.kind(), TokenizerKind::Bpe);
    EXPECT_EQ(bpe.pre(), "gpt-2");
    EXPECT_EQ(bpe.vocab_size(), 4096u);
    EXPECT_EQ(bpe.bos(), 0);
    EXPECT_EQ(bpe.eos(), 0);
    EXPECT_EQ(bpe.pad(), 0);
    EXPECT_FALSE(bpe.add_bos());  // no add_bos_token key: llama.cpp's default for gpt-2
    EXPECT_FALSE(bpe.add_space_prefix());
    EXPECT_EQ(bpe.token_text(0), "<|endoftext|>");
    EXPECT_EQ(bpe.token_type(0), TokenType::Control);
}

// The 4 prompts of each fixture model: ids as transformers made them (tinyllama with BOS), and
// the greedy continuation decoded as transformers decoded it.
TEST(Tokenizer, ReferencePrompts) {
    const auto bytes = test::read_file(test::fixture("models/reference-outputs.json"));
    const auto reference = nlohmann::json::parse(bytes.begin(), bytes.end());
    for (const auto& [name, file] :
         {std::pair{"tinyllama-spm", "models/tinyllama-spm.bf16.gguf"}, std::pair{"tinyqwen-bpe", "models/tinyqwen-bpe.bf16.gguf"}}) {
        const Tokenizer tok = test::fixture_tokenizer(file);
        const auto& prompts = reference.at(name).at("prompts");
        ASSERT_EQ(prompts.size(), 4u);
        for (const auto& p : prompts) {
            const std::string text = p.at("text");
            SCOPED_TRACE(std::string(name) + ": " + text);
            const auto want = p.at("ids").get<std::vector<int32_t>>();
            EXPECT_EQ(tok.encode(text, /*add_special=*/true, /*parse_special=*/false), want);
            const auto greedy = p.at("greedy_ids").get<std::vector<int32_t>>();
            EXPECT_EQ(tok.decode(greedy), p.at("greedy_text").get<std::string>());
        }
    }
}

// FNV-1a over the ids' little-endian bytes: a whole text's ids in one number.
uint64_t fnv1a(const std::vector<int32_t>& ids) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (int32_t id : ids) {
        const auto u = static_cast<uint32_t>(id);
        for (int k = 0; k < 4; ++k) {
            h ^= (u >> (8 * k)) & 0xFF;
            h *= 0x100000001b3ull;
        }
    }
    return h;
}

// A fixture vocabulary, optionally under another pre-tokenizer name (the gpt-2 vocabulary read
// as llama-bpe, qwen2 and smollm exercises those regexes and Llama 3's whole-word rule on real merges).
Tokenizer vocab_with_pre(const std::string& relative, const std::string& pre) {
    ModelView view = test::fixture_model(relative);
    if (!pre.empty())
        for (auto& kv : view.metadata)
            if (kv.key == "tokenizer.ggml.pre") kv.value = gguf::Value::string(pre);
    return Tokenizer::from_metadata(view);
}

// Whole texts, ids as llama.cpp itself gives them (llama_tokenize without BOS, no special
// parsing; taken with node-llama-cpp 3.21.1 from the same vocabularies and files): count and
// FNV-1a of the id sequence.
TEST(Tokenizer, WholeTextsMatchLlamaCpp) {
    struct Expect {
        const char* text;
        size_t count;
        uint64_t hash;
    };
    struct VocabRun {
        const char* file;
        const char* pre;
        std::vector<Expect> texts;
    };
    const std::vector<VocabRun> vocabs = {
        {"models/tinyllama-spm.bf16.gguf",
         "",
         {{"tinystories_heldout.txt", 12366, 0x98ae4232a8b42aa6ull},
          {"wikitext-2-test.raw", 549651, 0x4878d8b75d549a49ull},
          {"devils_dictionary.txt", 150921, 0xf657c4f555c5a190ull}}},
        {"models/tinyqwen-bpe.bf16.gguf",
         "",
         {{"tinystories_heldout.txt", 10824, 0x86eb525b5910ed49ull},
          {"wikitext-2-test.raw", 483474, 0x2f352ccc2981acd3ull},
          {"devils_dictionary.txt", 129116, 0x01c19d24f8914288ull}}},
        {"vocab/ggml-vocab-llama-spm.gguf",
         "",
         {{"tinystories_heldout.txt", 10872, 0xb9c8e30e9c54f190ull},
          {"wikitext-2-test.raw", 335687, 0xd0356aa19ca98fa4ull},
          {"devils_dictionary.txt", 108951, 0xd7c390548cf3167bull}}},
        {"vocab/ggml-vocab-gpt-2.gguf",
         "",
         {{"tinystories_heldout.txt", 10059, 0xe151f20177d5f3cdull},
          {"wikitext-2-test.raw", 286221, 0xed5d5aaa23166fd4ull},
          {"devils_dictionary.txt", 118010, 0x9d7e01378af634a8ull}}},
        {"vocab/ggml-vocab-gpt-2.gguf",
         "llama-bpe",
         {{"tinystories_heldout.txt", 9847, 0x899b4672ea669290ull},
          {"wikitext-2-test.raw", 296483, 0x8c463336fca25e64ull},
          {"devils_dictionary.txt", 117046, 0x050c7328845fc10eull}}},
        {"vocab/ggml-vocab-gpt-2.gguf",
         "qwen2",
         {{"tinystories_heldout.txt", 9849, 0x8654ede8d82e0291ull},
          {"wikitext-2-test.raw", 306316, 0xefddcc2fa5c9a1dcull},
          {"devils_dictionary.txt", 117115, 0xfbbc0d2a3b7c260cull}}},
        {"vocab/ggml-vocab-gpt-2.gguf",
         "smollm",
         {{"tinystories_heldout.txt", 10063, 0xf5ece0020d70c1e5ull},
          {"wikitext-2-test.raw", 306316, 0xefddcc2fa5c9a1dcull},
          {"devils_dictionary.txt", 118120, 0x327dc888fc8c5b72ull}}},
    };
    for (const VocabRun& v : vocabs) {
        const Tokenizer tok = vocab_with_pre(v.file, v.pre);
        for (const Expect& e : v.texts) {
            SCOPED_TRACE(std::string(v.file) + " " + v.pre + " " + e.text);
            const std::string text = test::read_text(std::string("text/") + e.text);
            const auto start = std::chrono::steady_clock::now();
            const auto ids = tok.encode(text, /*add_special=*/false, /*parse_special=*/false);
            const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
            std::printf("[          ] %s%s%s: %s (%zu bytes) -> %zu tokens in %.1f ms\n", v.file, *v.pre ? " as " : "", v.pre, e.text, text.size(),
                        ids.size(), ms);
            EXPECT_EQ(ids.size(), e.count);
            EXPECT_EQ(fnv1a(ids), e.hash);
        }
    }
}

// A 1.3 MB text must take well under a second; a quadratic merge would take minutes.
TEST(Tokenizer, LongTextIsFast) {
    const std::string text = test::read_text("text/wikitext-2-test.raw");
    for (const char* file : {"models/tinyllama-spm.bf16.gguf", "models/tinyqwen-bpe.bf16.gguf"}) {
        SCOPED_TRACE(file);
        const Tokenizer tok = test::fixture_tokenizer(file);
        const auto start = std::chrono::steady_clock::now();
        const auto ids = tok.encode(text, /*add_special=*/true, /*parse_special=*/false);
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::printf("[          ] %s: wikitext-2-test.raw (%zu bytes) -> %zu tokens in %.1f ms (%.1f MB/s)\n", file, text.size(), ids.size(), s * 1e3,
                    text.size() / s / 1e6);
        // The reference perplexity used 80 chunks of 256 tokens of this text.
        EXPECT_GE(ids.size(), 80u * 256u);
        EXPECT_LT(s, 5.0);  // generous for a loaded machine; typical is far below a second
        std::vector<int32_t> no_bos(ids.begin() + (tok.add_bos() ? 1 : 0), ids.end());
        EXPECT_EQ(tok.decode(no_bos), text);
    }
}

// Same input, same ids: a second tokenizer and a second call agree.
TEST(Tokenizer, Deterministic) {
    const std::string text = test::read_text("text/tinystories_heldout.txt").substr(0, 5000);
    for (const char* file : {"models/tinyllama-spm.bf16.gguf", "models/tinyqwen-bpe.bf16.gguf"}) {
        const Tokenizer a = test::fixture_tokenizer(file);
        const Tokenizer b = test::fixture_tokenizer(file);
        const auto ids = a.encode(text, true, false);
        EXPECT_EQ(ids, a.encode(text, true, false));
        EXPECT_EQ(ids, b.encode(text, true, false));
    }
}

}  // namespace
}  // namespace llmq
