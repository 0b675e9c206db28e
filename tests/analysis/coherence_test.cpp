// The coherence check: its repetition measure on hand-made token lists, its perplexity curve,
// the threshold variable, and the scores of the fixture models quantized by the llmq executable.
#include "llmq/analysis/coherence.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <map>

#include "llmq/error.hpp"
#include "llmq/format/model.hpp"
#include "posix_io.hpp"
#include "support/run_cli.hpp"

namespace llmq {
namespace {

TEST(CoherenceRepetition, ProseWithoutRepeatsScoresOne) {
    const std::vector<int32_t> t = {5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    const auto s = repetition_stats(t);
    EXPECT_DOUBLE_EQ(s.distinct2, 1.0);
    EXPECT_DOUBLE_EQ(s.distinct3, 1.0);
    EXPECT_EQ(s.longest_repeat, 0);
    EXPECT_DOUBLE_EQ(s.score, 1.0);
}

TEST(CoherenceRepetition, OneTokenLoop) {
    const std::vector<int32_t> t(32, 7);
    const auto s = repetition_stats(t);
    EXPECT_DOUBLE_EQ(s.distinct2, 1.0 / 31.0);
    EXPECT_DOUBLE_EQ(s.distinct3, 1.0 / 30.0);
    EXPECT_EQ(s.longest_repeat, 31);  // overlapping occurrences at 0 and 1
    EXPECT_DOUBLE_EQ(s.score, 0.0);
}

TEST(CoherenceRepetition, PeriodicLoop) {
    // "a b c d a b c d ..." over 24 tokens: 4 distinct bigrams of 23, 4 trigrams of 22, and a
    // repeat of 20 tokens (start 0 and start 4).
    std::vector<int32_t> t;
    for (int i = 0; i < 24; ++i) t.push_back(1 + i % 4);
    const auto s = repetition_stats(t);
    EXPECT_DOUBLE_EQ(s.distinct2, 4.0 / 23.0);
    EXPECT_DOUBLE_EQ(s.distinct3, 4.0 / 22.0);
    EXPECT_EQ(s.longest_repeat, 20);
    EXPECT_DOUBLE_EQ(s.score, 0.0);
}

TEST(CoherenceRepetition, ShortRepeatedPhraseIsFree) {
    // "x the little girl y z the little girl w ...": one 3-token repeat, no span penalty.
    const std::vector<int32_t> t = {100, 1, 2, 3, 101, 102, 1, 2, 3, 103, 104, 105};
    const auto s = repetition_stats(t);
    EXPECT_EQ(s.longest_repeat, 3);
    EXPECT_DOUBLE_EQ(s.distinct2, 9.0 / 11.0);  // (1,2) and (2,3) twice
    EXPECT_DOUBLE_EQ(s.distinct3, 9.0 / 10.0);  // (1,2,3) twice
    EXPECT_DOUBLE_EQ(s.score, 0.5 * (9.0 / 11.0 + 9.0 / 10.0));
}

TEST(CoherenceRepetition, LongRepeatCostsInProportion) {
    // 20 tokens, an 8-token span repeated: (8 - 4) / 10 of the span factor is lost.
    std::vector<int32_t> t = {1, 2, 3, 4, 5, 6, 7, 8, 50, 51, 52, 53, 1, 2, 3, 4, 5, 6, 7, 8};
    const auto s = repetition_stats(t);
    EXPECT_EQ(s.longest_repeat, 8);
    EXPECT_DOUBLE_EQ(s.distinct2, 12.0 / 19.0);
    EXPECT_DOUBLE_EQ(s.distinct3, 12.0 / 18.0);
    EXPECT_NEAR(s.score, 0.5 * (12.0 / 19.0 + 12.0 / 18.0) * 0.6, 1e-12);
}

TEST(CoherenceRepetition, TooShortForNgrams) {
    EXPECT_DOUBLE_EQ(repetition_stats(std::vector<int32_t>{}).score, 1.0);
    const auto s = repetition_stats(std::vector<int32_t>{4, 4});
    EXPECT_DOUBLE_EQ(s.distinct2, 1.0);
    EXPECT_DOUBLE_EQ(s.distinct3, 1.0);
    EXPECT_EQ(s.longest_repeat, 1);
}

TEST(CoherenceScore, PerplexityCurve) {
    EXPECT_DOUBLE_EQ(perplexity_score(1.0), 1.0);
    EXPECT_DOUBLE_EQ(perplexity_score(0.5), 1.0);
    EXPECT_NEAR(perplexity_score(std::sqrt(kPplZero)), 0.5, 1e-12);
    EXPECT_NEAR(perplexity_score(10.0), 1.0 - 1.0 / 3.0, 1e-12);
    EXPECT_DOUBLE_EQ(perplexity_score(kPplZero), 0.0);
    EXPECT_DOUBLE_EQ(perplexity_score(1e9), 0.0);
    EXPECT_DOUBLE_EQ(perplexity_score(std::nan("")), 0.0);
    EXPECT_DOUBLE_EQ(combine_coherence(1.0, 1.0, 1.0), 1.0);
    EXPECT_DOUBLE_EQ(combine_coherence(0.0, 0.0, 0.0), 0.0);
    EXPECT_DOUBLE_EQ(combine_coherence(1.0, 0.0, 0.0), kWeightRepetition);
    EXPECT_DOUBLE_EQ(combine_coherence(0.5, 1.0, 0.0), 0.5 * kWeightRepetition + kWeightPerplexity);
    // A loop the original finds perfectly plausible still fails.
    EXPECT_DOUBLE_EQ(combine_coherence(0.0, 1.0, 1.0), 0.0);
    EXPECT_DOUBLE_EQ(combine_coherence(0.25, 1.0, 1.0), (0.25 * kWeightRepetition + kWeightPerplexity + kWeightAgreement) * 0.5);
}

TEST(CoherenceScore, PromptsAreVaried) {
    const auto prompts = coherence_prompts();
    EXPECT_GE(prompts.size(), 20u);
    std::set<std::string_view> unique(prompts.begin(), prompts.end());
    EXPECT_EQ(unique.size(), prompts.size());
}

Host env_host(std::map<std::string, std::string> vars) {
    Host h;
    h.env = [vars](const std::string& name) -> std::optional<std::string> {
        auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
    return h;
}

TEST(CoherenceThreshold, FromEnvironment) {
    EXPECT_DOUBLE_EQ(coherence_threshold(Host{}), 0.5);
    EXPECT_DOUBLE_EQ(coherence_threshold(env_host({})), 0.5);
    EXPECT_DOUBLE_EQ(coherence_threshold(env_host({{"LLM_QUANTIZE_COHERENCE_THRESHOLD", "0.7"}})), 0.7);
    EXPECT_DOUBLE_EQ(coherence_threshold(env_host({{"LLM_QUANTIZE_COHERENCE_THRESHOLD", "0"}})), 0.0);
    EXPECT_DOUBLE_EQ(coherence_threshold(env_host({{"LLM_QUANTIZE_COHERENCE_THRESHOLD", "1"}})), 1.0);
    for (const char* bad : {"abc", "", "1.5", "-0.1", "0.5x", "nan", "inf"}) {
        try {
            coherence_threshold(env_host({{"LLM_QUANTIZE_COHERENCE_THRESHOLD", bad}}));
            ADD_FAILURE() << "accepted '" << bad << "'";
        } catch (const Failure& f) {
            EXPECT_EQ(f.error().code, ExitCode::Usage) << bad;
            EXPECT_NE(f.error().message.find("LLM_QUANTIZE_COHERENCE_THRESHOLD"), std::string::npos);
        }
    }
}

// The fixture models quantized by the executable, then checked in-process.
struct ScoreCase {
    std::string model;
    std::string level;
};

class CoherenceFixtureTest : public ::testing::TestWithParam<ScoreCase> {};

ModelView open_file_model(const std::filesystem::path& p) {
    return open_gguf_model(std::make_shared<native::FileSource>(p));
}

CoherenceReport score(const std::string& model, const std::string& level) {
    const auto dir = test::temp_dir("coherence-" + model + "-" + level);
    const auto input = test::fixture("models/" + model + ".bf16.gguf");
    const auto out = dir / "q.gguf";
    const auto r = test::run_llmq({"quantize", input.string(), "-q", level, "-o", out.string(), "--quiet"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    Host host;
    const CoherenceReport report = check_coherence(open_file_model(input), open_file_model(out), {}, host);
    std::filesystem::remove_all(dir);
    return report;
}

int above(const CoherenceReport& r, double threshold) {
    int n = 0;
    for (const auto& p : r.prompts) n += p.score >= threshold ? 1 : 0;
    return n;
}

void print(const std::string& name, const CoherenceReport& r) {
    std::printf("[coherence] %s: overall %.3f, %d/%zu prompts >= 0.5\n", name.c_str(), r.score, above(r, 0.5), r.prompts.size());
    if (std::getenv("LLMQ_COHERENCE_VERBOSE")) {
        for (const auto& p : r.prompts) {
            std::printf("  %.3f rep %.2f (d2 %.2f d3 %.2f L%lld) ppl %8.2f agree %.2f div %lld | %s| %s\n", p.score, p.repetition.score,
                        p.repetition.distinct2, p.repetition.distinct3, static_cast<long long>(p.repetition.longest_repeat), p.original_ppl,
                        p.agreement, static_cast<long long>(p.first_divergence), p.prompt.c_str(), p.text.c_str());
        }
    }
}

TEST_P(CoherenceFixtureTest, CoherentLevelsPass) {
    const auto& c = GetParam();
    const CoherenceReport r = score(c.model, c.level);
    print(c.model + " " + c.level, r);
    ASSERT_EQ(r.prompts.size(), coherence_prompts().size());
    // >= 90% of the prompts above the default threshold.
    EXPECT_GE(above(r, 0.5) * 10, static_cast<int>(r.prompts.size()) * 9);
    EXPECT_GE(r.score, 0.5);
    for (const auto& p : r.prompts) {
        EXPECT_GE(p.score, 0.0);
        EXPECT_LE(p.score, 1.0);
        EXPECT_FALSE(p.text.empty()) << p.prompt;
    }
    if (c.level == "BF16") {
        // The same weights: every continuation is the original's own greedy one.
        for (const auto& p : r.prompts) EXPECT_DOUBLE_EQ(p.agreement, 1.0) << p.prompt;
    }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CoherenceFixtureTest,
                         ::testing::Values(ScoreCase{"tinyllama-spm", "BF16"}, ScoreCase{"tinyllama-spm", "Q4_K_M"},
                                           ScoreCase{"tinyqwen-bpe", "BF16"}, ScoreCase{"tinyqwen-bpe", "Q4_K_M"}),
                         [](const auto& info) {
                             return std::string(info.param.model == "tinyllama-spm" ? "Llama" : "Qwen") +
                                    (info.param.level == "BF16" ? "BF16" : "Q4KM");
                         });

TEST(CoherenceFixture, TernaryOfANormalModelFails) {
    const CoherenceReport r = score("tinyllama-spm", "TQ1_0");
    print("tinyllama-spm TQ1_0", r);
    EXPECT_LT(r.score, 0.5);
    EXPECT_LT(above(r, 0.5) * 2, static_cast<int>(r.prompts.size()));
}

}  // namespace
}  // namespace llmq
