// Perplexity on the fixture models: the transformers reference's independent-chunk figures
// (reference-outputs.json, procedure in each entry's `note`) and llama-perplexity's procedure
// against llama.cpp's own numbers (reference §6; measured with llama.cpp through
// node-llama-cpp 3.21.1 for the figures the reference does not list). And KL divergence.
#include "llmq/jobs/perplexity.hpp"

#include <gtest/gtest.h>

#include "llmq/error.hpp"
#include "llmq/jobs/quantize.hpp"
#include "llmq/runtime/tokenizer.hpp"
#include "native_host.hpp"
#include "runtime/runtime_fixtures.hpp"
#include "thread_pool.hpp"

namespace llmq {
namespace {

using nlohmann::json;

std::string text_of(const std::string& name) {
    const auto bytes = test::read_file(test::fixture("text/" + name));
    return {bytes.begin(), bytes.end()};
}

// Texts as the reference tokenized them: with transformers' tokenizer and its special tokens
// (add_bos_token for the SentencePiece model: BOS first; none for the BPE model), each text
// whole. Chunks of 256 are then cut from those ids without adding anything.
std::vector<int32_t> with_special_tokens(const Tokenizer& tok, std::string_view text) {
    return tok.encode(text, true, false);
}

// The held-out stories: each story (blank-line separated) tokenized on its own as above, and
// followed by EOS where the tokenizer adds no BOS, so that documents stay separated as in
// training. Gives exactly the reference's chunk counts (46 and 41 chunks of 256).
std::vector<int32_t> held_out_documents(const Tokenizer& tok) {
    const std::string text = text_of("tinystories_heldout.txt");
    std::vector<int32_t> ids;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find("\n\n", pos);
        if (end == std::string::npos) end = text.size();
        std::string story = text.substr(pos, end - pos);
        while (!story.empty() && story.back() == '\n') story.pop_back();
        if (!story.empty()) {
            const auto t = with_special_tokens(tok, story);
            ids.insert(ids.end(), t.begin(), t.end());
            if (!tok.add_bos()) ids.push_back(tok.eos());
        }
        pos = end + 2;
    }
    return ids;
}

struct ReferenceCase {
    std::string model, entry;
    RopeFrequencies rope;  // BFloat16: as the reference run (see forward_test.cpp)
    double tolerance;      // relative
};

class ReferencePerplexityTest : public ::testing::TestWithParam<ReferenceCase> {};

TEST_P(ReferencePerplexityTest, IndependentChunksMatchTransformers) {
    const auto& c = GetParam();
    const ModelView model = test::open_fixture_model(c.model);
    const Tokenizer tok = Tokenizer::from_metadata(model);
    const json& ref = test::reference_outputs()[c.model][c.entry];
    const std::vector<int32_t> ids =
        c.entry == "ppl_held_out_stories" ? held_out_documents(tok) : with_special_tokens(tok, text_of("wikitext-2-test.raw"));
    ChunkScoring s;
    s.n_ctx = ref["ctx"].get<int64_t>();
    s.n_chunks = std::min<int64_t>(static_cast<int64_t>(ids.size()) / s.n_ctx, ref["chunks"].get<int64_t>());
    s.first = 0;  // all positions 1..ctx-1 scored, no BOS overwrite
    s.rope_frequencies = c.rope;
    ASSERT_EQ(s.n_chunks, ref["chunks"].get<int64_t>());
    native::ThreadPool pool(2);
    const ChunkResults r = score_chunks(model, nullptr, ids, s, pool);
    EXPECT_EQ(r.nll.count, ref["scored_tokens"].get<int64_t>());
    const double expected = ref["ppl"].get<double>();
    std::printf("[ %s %s ] ppl %.4f, reference %.4f (%+.2e)\n", c.model.c_str(), c.entry.c_str(), r.nll.ppl(), expected,
                r.nll.ppl() / expected - 1.0);
    EXPECT_NEAR(r.nll.ppl() / expected, 1.0, c.tolerance);
}

// Exact frequencies: within 0.012%; as the reference run: within 2e-7.
INSTANTIATE_TEST_SUITE_P(Fixtures, ReferencePerplexityTest,
                         ::testing::Values(ReferenceCase{"tinyllama-spm", "ppl_held_out_stories", RopeFrequencies::Exact, 1e-3},
                                           ReferenceCase{"tinyqwen-bpe", "ppl_held_out_stories", RopeFrequencies::Exact, 1e-3},
                                           ReferenceCase{"tinyqwen-bpe", "ppl_wiki_test", RopeFrequencies::Exact, 1e-3},
                                           ReferenceCase{"tinyllama-spm", "ppl_wiki_test", RopeFrequencies::Exact, 1e-3},
                                           ReferenceCase{"tinyllama-spm", "ppl_held_out_stories", RopeFrequencies::BFloat16, 2e-6},
                                           ReferenceCase{"tinyqwen-bpe", "ppl_held_out_stories", RopeFrequencies::BFloat16, 2e-6},
                                           ReferenceCase{"tinyqwen-bpe", "ppl_wiki_test", RopeFrequencies::BFloat16, 2e-6},
                                           ReferenceCase{"tinyllama-spm", "ppl_wiki_test", RopeFrequencies::BFloat16, 2e-6}),
                         [](const auto& info) {
                             return std::string(info.param.model == "tinyllama-spm" ? "Llama" : "Qwen") +
                                    (info.param.entry == "ppl_wiki_test" ? "Wiki" : "HeldOut") +
                                    (info.param.rope == RopeFrequencies::BFloat16 ? "AsReferenceRun" : "Exact");
                         });

std::string fixture_model(const std::string& file) {
    return test::fixture("models/" + file).string();
}

// The job as the CLI runs it.
json perplexity(const std::string& model_path, const std::string& text, int64_t ctx, int64_t chunks, const std::string& base = "") {
    native::NativeHost native;
    native.configure({OutputFormat::Json, Verbosity::Quiet, 2});
    PerplexityOptions o;
    o.model_path = model_path;
    o.text_path = test::fixture("text/" + text).string();
    o.n_ctx = ctx;
    o.max_chunks = chunks;
    if (!base.empty()) o.kld_base_path = base;
    return run_perplexity(o, native.host());
}

struct LlamaCppCase {
    std::string model, text;
    double ppl, unc;  // llama.cpp's Final estimate at --ctx 256 --chunks 20
};

class LlamaCppPerplexityTest : public ::testing::TestWithParam<LlamaCppCase> {};

TEST_P(LlamaCppPerplexityTest, MatchesLlamaPerplexity) {
    const auto& c = GetParam();
    const json r = perplexity(fixture_model(c.model), c.text, 256, 20);
    EXPECT_EQ(r["chunks"], 20);
    EXPECT_EQ(r["scored_tokens"], 20 * 127);  // positions 128..254 of each chunk
    const double ppl = r["perplexity"].get<double>(), unc = r["perplexity_uncertainty"].get<double>();
    std::printf("[ %s %s ] PPL = %.4f +/- %.5f, llama.cpp %.4f +/- %.5f (%+.3f%%)\n", c.model.c_str(), c.text.c_str(), ppl, unc, c.ppl, c.unc,
                100.0 * (ppl / c.ppl - 1.0));
    EXPECT_NEAR(ppl / c.ppl, 1.0, 0.005);
    EXPECT_NEAR(unc / c.unc, 1.0, 0.01);
    ASSERT_EQ(r["chunk_perplexities"].size(), 20u);
    EXPECT_DOUBLE_EQ(r["chunk_perplexities"].back().get<double>(), ppl);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, LlamaCppPerplexityTest,
                         ::testing::Values(
                             // reference §6 (llama-perplexity 80fb11ac): the training-set stories.
                             LlamaCppCase{"tinyllama-spm.bf16.gguf", "tinystories_train.txt", 5.1051, 0.32829},
                             // llama.cpp through node-llama-cpp, same procedure (BOS at chunk start for spm only).
                             LlamaCppCase{"tinyllama-spm.bf16.gguf", "tinystories_heldout.txt", 92.4573, 8.29740},
                             LlamaCppCase{"tinyqwen-bpe.bf16.gguf", "tinystories_heldout.txt", 356.2652, 40.35336},
                             LlamaCppCase{"tinyqwen-bpe.bf16.gguf", "tinystories_train.txt", 3.6550, 0.25435}),
                         [](const auto& info) {
                             return std::string(info.param.model.rfind("tinyllama", 0) == 0 ? "Llama" : "Qwen") +
                                    (info.param.text == "tinystories_train.txt" ? "Train" : "HeldOut");
                         });

TEST(Perplexity, KlDivergenceOfAModelWithItselfIsZero) {
    const std::string model = fixture_model("tinyqwen-bpe.bf16.gguf");
    const json r = perplexity(model, "tinystories_heldout.txt", 128, 4, model);
    const json& k = r["kld"];
    EXPECT_EQ(k["tokens"], 4 * 63);
    EXPECT_NEAR(k["kld"]["mean"].get<double>(), 0.0, 1e-12);
    EXPECT_NEAR(k["kld"]["max"].get<double>(), 0.0, 1e-12);
    EXPECT_EQ(k["top1_agreement"], 1.0);
    EXPECT_EQ(k["delta_p"]["rms"], 0.0);
    EXPECT_NEAR(k["ppl"].get<double>(), r["perplexity"].get<double>(), 1e-9);
    EXPECT_NEAR(k["ppl_ratio"].get<double>(), 1.0, 1e-12);
    EXPECT_NEAR(k["ln_ppl_correlation"].get<double>(), 1.0, 1e-9);
}

TEST(Perplexity, KlDivergenceAgainstTheOriginalGrowsAsBitsShrink) {
    native::NativeHost native;
    native.configure({OutputFormat::Json, Verbosity::Quiet, 2});
    const auto dir = test::temp_dir("rt-kld");
    const std::string original = fixture_model("tinyllama-spm.bf16.gguf");
    const double base_ppl = perplexity(original, "tinystories_train.txt", 256, 8)["perplexity"].get<double>();
    double last_kld = 0.0, last_top1 = 1.0;
    for (const char* level : {"Q8_0", "Q4_K_M", "Q2_K"}) {
        QuantizeOptions q;
        q.model_path = original;
        q.level = level;
        q.output_path = (dir / (std::string(level) + ".gguf")).string();
        run_quantize(q, native.host());
        const json r = perplexity(q.output_path, "tinystories_train.txt", 256, 8, original);
        const json& k = r["kld"];
        const double kld = k["kld"]["mean"].get<double>(), top1 = k["top1_agreement"].get<double>();
        std::printf("[ %s ] PPL %.4f (base %.4f), KLD %.6f ± %.6f, 99%% %.4f, top-1 %.2f%%, RMS Δp %.3f%%\n", level, k["ppl"].get<double>(),
                    k["ppl_base"].get<double>(), kld, k["kld"]["uncertainty"].get<double>(), k["kld"]["p99"].get<double>(), 100.0 * top1,
                    100.0 * k["delta_p"]["rms"].get<double>());
        EXPECT_GT(kld, last_kld) << level;
        EXPECT_LT(top1, last_top1) << level;
        EXPECT_GT(k["kld"]["uncertainty"].get<double>(), 0.0);
        EXPECT_LE(k["kld"]["min"].get<double>(), k["kld"]["median"].get<double>());
        EXPECT_LE(k["kld"]["median"].get<double>(), k["kld"]["p99"].get<double>());
        EXPECT_LE(k["kld"]["p99"].get<double>(), k["kld"]["max"].get<double>());
        // The quantized model's PPL here is the run's PPL; the base's is the original's own.
        EXPECT_NEAR(k["ppl"].get<double>() / r["perplexity"].get<double>(), 1.0, 1e-12);
        EXPECT_NEAR(k["ppl_base"].get<double>(), base_ppl, 1e-9);
        last_kld = kld;
        last_top1 = top1;
    }
    EXPECT_LT(last_top1, 0.9);  // Q2_K disagrees visibly
}

TEST(Perplexity, ClearErrors) {
    native::NativeHost native;
    native.configure({OutputFormat::Json, Verbosity::Quiet, 1});
    PerplexityOptions o;
    o.model_path = test::fixture("models/tinyllama-spm.bf16.gguf").string();
    auto code = [&] {
        try {
            run_perplexity(o, native.host());
        } catch (const Failure& f) {
            return f.error().code;
        }
        return ExitCode::Success;
    };
    // No -f and a host without bundled data: a usage error naming -f.
    Host bare = native.host();
    bare.bundled_file = nullptr;
    try {
        run_perplexity(o, bare);
        ADD_FAILURE() << "expected a usage error";
    } catch (const Failure& f) {
        EXPECT_EQ(f.error().code, ExitCode::Usage);
        EXPECT_NE(f.error().suggestion.find("-f TEXT"), std::string::npos) << f.error().suggestion;
    }
    o.text_path = "/nonexistent/text.txt";
    EXPECT_EQ(code(), ExitCode::Calibration);
    o.text_path = test::fixture("text/tinystories_heldout.txt").string();
    o.n_ctx = 8192;  // 12k tokens < 2 * 8192
    EXPECT_EQ(code(), ExitCode::Calibration);
}

}  // namespace
}  // namespace llmq
