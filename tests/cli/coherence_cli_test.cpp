// quantize --coherence-check and the automatic check after ternary/1-bit levels, through the
// native executable on the fixture models.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/cli_json.hpp"
#include "support/run_cli.hpp"

namespace llmq {
namespace {

using nlohmann::json;
using test::parse_json;
namespace fs = std::filesystem;

const std::string kLlama = test::fixture("models/tinyllama-spm.bf16.gguf").string();
const std::string kQwen = test::fixture("models/tinyqwen-bpe.bf16.gguf").string();
constexpr const char* kThreshold = "LLM_QUANTIZE_COHERENCE_THRESHOLD";

bool has_warning(const json& j, const std::string& part) {
    for (const auto& w : j.value("warnings", json::array()))
        if (w.get<std::string>().find(part) != std::string::npos) return true;
    return false;
}

TEST(CoherenceCli, TernaryOfANormalModelFailsWithTheFlagAndKeepsTheFile) {
    const auto dir = test::temp_dir("coherence-cli-tq1");
    const auto out = dir / "tq1.gguf";
    const auto r = test::run_llmq({"quantize", kLlama, "-q", "TQ1_0", "-o", out.string(), "--coherence-check", "--format", "json"});
    EXPECT_EQ(r.exit_code, 12) << r.err;
    const json j = parse_json(r);
    EXPECT_EQ(j["status"], "error");
    EXPECT_EQ(j["error_code"], 12);
    const std::string message = j.value("message", "");
    // The result stays visible in the error: score, threshold, and that the file is kept.
    EXPECT_NE(message.find("coherence score 0."), std::string::npos) << message;
    EXPECT_NE(message.find("below the threshold 0.500"), std::string::npos) << message;
    EXPECT_NE(message.find("kept for inspection"), std::string::npos) << message;
    EXPECT_NE(j.value("suggestion", "").find("IQ1_M"), std::string::npos);
    EXPECT_NE(r.err.find("not ternary-trained"), std::string::npos) << r.err;
    EXPECT_TRUE(fs::exists(out));
    fs::remove_all(dir);
}

TEST(CoherenceCli, TernaryWithoutTheFlagWarnsOnly) {
    const auto dir = test::temp_dir("coherence-cli-tq2");
    const auto out = dir / "tq2.gguf";
    const auto r = test::run_llmq({"quantize", kLlama, "-q", "TQ2_0", "-o", out.string(), "--format", "json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = parse_json(r);
    EXPECT_TRUE(has_warning(j, "is not ternary-trained")) << j["warnings"].dump();
    EXPECT_TRUE(has_warning(j, "dynamic profile"));
    EXPECT_TRUE(has_warning(j, "is below the threshold")) << j["warnings"].dump();
    ASSERT_TRUE(j["coherence"].is_object());
    const json& c = j["coherence"];
    EXPECT_LT(c["score"].get<double>(), 0.5);
    EXPECT_DOUBLE_EQ(c["threshold"].get<double>(), 0.5);
    EXPECT_FALSE(c["passed"].get<bool>());
    ASSERT_GE(c["prompts"].size(), 20u);
    for (const auto& p : c["prompts"]) {
        for (const char* key : {"prompt", "text", "score", "repetition", "original_ppl", "agreement"}) EXPECT_TRUE(p.contains(key)) << key;
    }
    fs::remove_all(dir);
}

TEST(CoherenceCli, NoCoherenceCheckSkipsTheAutomaticCheck) {
    const auto dir = test::temp_dir("coherence-cli-off");
    const auto out = dir / "tq2.gguf";
    const auto r = test::run_llmq({"quantize", kLlama, "-q", "TQ2_0", "-o", out.string(), "--no-coherence-check", "--format", "json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = parse_json(r);
    EXPECT_TRUE(j["coherence"].is_null());
    EXPECT_FALSE(has_warning(j, "is below the threshold")) << j["warnings"].dump();
    EXPECT_TRUE(has_warning(j, "is not ternary-trained"));  // the warning before starting stays
    const auto both = test::run_llmq({"quantize", kLlama, "-q", "TQ2_0", "-o", out.string(), "--no-coherence-check", "--coherence-check"});
    EXPECT_EQ(both.exit_code, 2);
    EXPECT_NE(both.err.find("contradict"), std::string::npos) << both.err;
    fs::remove_all(dir);
}

TEST(CoherenceCli, GoodLevelPassesAndTheReportShowsTheScore) {
    const auto dir = test::temp_dir("coherence-cli-q4");
    const auto out = dir / "q4.gguf";
    const auto r = test::run_llmq({"quantize", kQwen, "-q", "Q4_K_M", "-o", out.string(), "--coherence-check"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("coherence 0."), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("passed"), std::string::npos);
    // A level outside the automatic set and no flag: no check, "coherence": null.
    const auto plain = test::run_llmq({"quantize", kQwen, "-q", "Q8_0", "-o", (dir / "q8.gguf").string(), "--format", "json"});
    ASSERT_EQ(plain.exit_code, 0) << plain.err;
    const json j = parse_json(plain);
    EXPECT_TRUE(j.contains("coherence") && j["coherence"].is_null());
    EXPECT_FALSE(has_warning(j, "ternary"));
    fs::remove_all(dir);
}

TEST(CoherenceCli, ThresholdFromTheEnvironment) {
    const auto dir = test::temp_dir("coherence-cli-env");
    const auto out = dir / "q.gguf";
    // A threshold no quantized model reaches: the same good level now fails.
    const auto strict = test::run_llmq({"quantize", kQwen, "-q", "Q4_K_M", "-o", out.string(), "--coherence-check", "--format", "json"}, "coherence",
                                       {{kThreshold, "0.999"}});
    EXPECT_EQ(strict.exit_code, 12) << strict.err;
    EXPECT_NE(parse_json(strict).value("message", "").find("threshold 0.999"), std::string::npos);
    fs::remove_all(dir);
    fs::create_directories(dir);
    // Invalid values are usage errors, found before anything is written.
    for (const char* bad : {"abc", "1.5", "-1"}) {
        const auto r = test::run_llmq({"quantize", kQwen, "-q", "Q4_K_M", "-o", out.string(), "--coherence-check", "--format", "json"}, "coherence",
                                      {{kThreshold, bad}});
        EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.err;
        EXPECT_NE(parse_json(r).value("message", "").find(kThreshold), std::string::npos);
        EXPECT_FALSE(fs::exists(out)) << bad;
    }
    fs::remove_all(dir);
}

}  // namespace
}  // namespace llmq
