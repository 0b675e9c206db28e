// End-to-end: `llmq quality report` and `llmq quality compare` on the fixture models against
// `llmq perplexity` (the same figures), the three output forms of a comparison, the HTML
// report, `quantize --quality-report [--strict]`, and bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/cli_json.hpp"
#include "support/run_cli.hpp"

namespace llmq {
namespace {

using nlohmann::json;
using test::parse_json;
namespace fs = std::filesystem;
const std::string& kLlama = test::kLlamaModel;
const std::string& kQwen = test::kQwenModel;
const std::string& kTrain = test::kTrainText;

// Quantized copies of the llama fixture, made once per test process.
std::string quantized(const std::string& level) {
    static const fs::path dir = test::temp_dir("quality-files");
    const fs::path out = dir / ("tinyllama-" + level + ".gguf");
    if (!fs::exists(out)) {
        auto r = test::run_llmq({"quantize", kLlama, "-q", level, "-o", out.string(), "--quiet"});
        EXPECT_EQ(r.exit_code, 0) << r.err;
    }
    return out.string();
}

const std::vector<std::string> kText = {"-f", kTrain, "--ctx", "128", "--chunks", "6"};

std::vector<std::string> with_text(std::vector<std::string> args) {
    args.insert(args.end(), kText.begin(), kText.end());
    return args;
}

TEST(Quality, ReportHasPerplexityAsThePerplexityCommandComputesIt) {
    const std::string q = quantized("Q4_K_M");
    auto r = test::run_llmq(with_text({"quality", "report", kLlama, q, "--include-layers", "--format", "json"}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = parse_json(r);
    const json& m = j["metrics"];
    // The report rounds as llama.cpp does (--numerics ggml); perplexity computes in float unless told.
    auto ppl = test::run_llmq(with_text({"perplexity", q, "--kld-base", kLlama, "--format", "json", "--numerics", "ggml"}));
    ASSERT_EQ(ppl.exit_code, 0) << ppl.err;
    const json p = parse_json(ppl);
    auto base = test::run_llmq(with_text({"perplexity", kLlama, "--format", "json", "--numerics", "ggml"}));
    const json b = parse_json(base);
    EXPECT_EQ(m["perplexity_quantized"], p["perplexity"]);
    EXPECT_EQ(m["perplexity_original"], b["perplexity"]);
    EXPECT_EQ(m["kld_mean"], p["kld"]["kld"]["mean"]);
    EXPECT_EQ(m["top1_agreement"], p["kld"]["top1_agreement"]);
    EXPECT_NEAR(m["perplexity_delta_pct"].get<double>(), 100.0 * (p["perplexity"].get<double>() / b["perplexity"].get<double>() - 1.0), 1e-9);
    EXPECT_EQ(m["quantized_size"].get<uint64_t>(), fs::file_size(q));
    EXPECT_EQ(m["original_size"].get<uint64_t>(), fs::file_size(kLlama));
    EXPECT_GT(m["compression_ratio"].get<double>(), 3.0);
    EXPECT_NEAR(m["effective_bpw"].get<double>(), 4.87, 0.05);
    EXPECT_LE(m["kld_median"].get<double>(), m["kld_p99"].get<double>());
    EXPECT_LE(m["kld_p99"].get<double>(), m["kld_max"].get<double>());
    EXPECT_EQ(j["text"]["chunks"], 6);
    EXPECT_EQ(j["text"]["scored_tokens"], 6 * 63);
    EXPECT_TRUE(j["timestamp"].is_string());

    // Per tensor: every tensor once; unchanged f32 norms have no error; the block matrices carry
    // an importance-weighted error (from the original's run); max error bounds the RMS.
    ASSERT_TRUE(j["tensor_errors"].is_array());
    EXPECT_EQ(j["tensor_errors"].size(), 57u);
    int weighted = 0;
    for (const auto& t : j["tensor_errors"]) {
        SCOPED_TRACE(t["name"].get<std::string>());
        if (t["type"] == "f32") {
            EXPECT_EQ(t["mse"].get<double>(), 0.0);
        } else {
            EXPECT_GT(t["mse"].get<double>(), 0.0);
            EXPECT_LT(t["relative_error"].get<double>(), 0.05);
        }
        EXPECT_GE(t["max_error"].get<double>() + 1e-12, std::sqrt(t["mse"].get<double>()));
        if (!t["weighted_error"].is_null()) ++weighted;
    }
    EXPECT_EQ(weighted, 6 * 7);  // the seven matrices of each of the six blocks
    // Per layer: the blocks, the embeddings, the output and its norm.
    EXPECT_EQ(j["layer_errors"].size(), 6u + 3u);
    uint64_t params = 0;
    for (const auto& l : j["layer_errors"]) params += l["parameter_count"].get<uint64_t>();
    auto inspect = test::run_llmq({"inspect", kLlama, "--format", "json"});
    EXPECT_EQ(params, parse_json(inspect)["parameter_count"].get<uint64_t>());
}

TEST(Quality, FewerBitsGiveLargerErrorsAndDivergence) {
    double prev_kld = -1.0, prev_err = -1.0;
    for (const char* level : {"Q8_0", "Q4_K_M", "Q2_K"}) {
        auto r = test::run_llmq(with_text({"quality", "report", kLlama, quantized(level), "--include-layers", "--format", "json"}));
        ASSERT_EQ(r.exit_code, 0) << r.err;
        const json j = parse_json(r);
        double err = 0.0;
        for (const auto& l : j["layer_errors"])
            if (l["layer_name"].get<std::string>().rfind("blk.", 0) == 0) err += l["relative_error"].get<double>();
        EXPECT_GT(j["metrics"]["kld_mean"].get<double>(), prev_kld) << level;
        EXPECT_GT(err, prev_err) << level;
        prev_kld = j["metrics"]["kld_mean"].get<double>();
        prev_err = err;
    }
}

// Numbers of a comparison's human table, by file name: size, bpw, perplexity, Δ%, KLD, top-1 %.
std::map<std::string, std::vector<double>> human_rows(const std::string& text) {
    std::map<std::string, std::vector<double>> rows;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        std::istringstream l(line);
        std::string name;
        l >> name;
        if (name.size() < 5 || name.substr(name.size() - 5) != ".gguf") continue;
        std::vector<double> v;
        for (std::string tok; l >> tok;) {
            if (tok == "*") continue;
            if (!tok.empty() && tok.back() == '%') tok.pop_back();
            v.push_back(std::stod(tok));
        }
        rows[fs::path(name).filename().string()] = v;
    }
    return rows;
}

TEST(Quality, CompareGivesOneTableInHumanJsonAndCsv) {
    const std::vector<std::string> files = {quantized("Q2_K"), quantized("Q8_0"), quantized("Q4_K_M"), quantized("Q3_K_M")};
    std::vector<std::string> args = {"quality", "compare", kLlama};
    args.insert(args.end(), files.begin(), files.end());
    args = with_text(args);
    auto j = test::run_llmq([&] {
        auto a = args;
        a.insert(a.end(), {"--format", "json"});
        return a;
    }());
    ASSERT_EQ(j.exit_code, 0) << j.err;
    const json c = parse_json(j);
    ASSERT_EQ(c["rows"].size(), 4u);
    // Sorted by size; the smallest and the best are Pareto-optimal.
    for (size_t i = 1; i < 4; ++i) EXPECT_LT(c["rows"][i - 1]["size"].get<uint64_t>(), c["rows"][i]["size"].get<uint64_t>());
    EXPECT_TRUE(c["rows"][0]["pareto"].get<bool>());
    EXPECT_TRUE(c["rows"][3]["pareto"].get<bool>());
    EXPECT_EQ(fs::path(c["rows"][0]["model"].get<std::string>()).filename(), "tinyllama-Q2_K.gguf");
    // The same figures as a report of each file alone (the original's logits reused for all).
    auto one = test::run_llmq(with_text({"quality", "report", kLlama, files[2], "--format", "json"}));
    const json o = parse_json(one);
    for (const auto& row : c["rows"]) {
        if (fs::path(row["model"].get<std::string>()).filename() != "tinyllama-Q4_K_M.gguf") continue;
        EXPECT_EQ(row["kld_mean"], o["metrics"]["kld_mean"]);
        EXPECT_EQ(row["perplexity"], o["metrics"]["perplexity_quantized"]);
    }
    // CSV: the JSON's numbers, digit for digit.
    auto csv = test::run_llmq([&] {
        auto a = args;
        a.insert(a.end(), {"--format", "csv"});
        return a;
    }());
    ASSERT_EQ(csv.exit_code, 0) << csv.err;
    std::istringstream lines(csv.out);
    std::string header;
    std::getline(lines, header);
    EXPECT_EQ(header, "model,size,compression_ratio,bpw,perplexity,perplexity_delta_pct,kld_mean,kld_p99,top1_agreement,pareto");
    for (const auto& row : c["rows"]) {
        std::string line;
        std::getline(lines, line);
        EXPECT_EQ(line, row["model"].get<std::string>() + "," + row["size"].dump() + "," + row["compression_ratio"].dump() + "," + row["bpw"].dump() +
                            "," + row["perplexity"].dump() + "," + row["perplexity_delta_pct"].dump() + "," + row["kld_mean"].dump() + "," +
                            row["kld_p99"].dump() + "," + row["top1_agreement"].dump() + "," + (row["pareto"].get<bool>() ? "true" : "false"));
    }
    // Human: the same numbers at the printed precision.
    auto human = test::run_llmq(args);
    ASSERT_EQ(human.exit_code, 0) << human.err;
    const auto table = human_rows(human.out);
    ASSERT_EQ(table.size(), 4u) << human.out;
    for (const auto& row : c["rows"]) {
        const auto& v = table.at(fs::path(row["model"].get<std::string>()).filename().string());
        ASSERT_EQ(v.size(), 6u);
        EXPECT_EQ(v[0], row["size"].get<double>());
        EXPECT_NEAR(v[1], row["bpw"].get<double>(), 5e-5);
        EXPECT_NEAR(v[2], row["perplexity"].get<double>(), 5e-5);
        EXPECT_NEAR(v[3], row["perplexity_delta_pct"].get<double>(), 5e-3);
        EXPECT_NEAR(v[4], row["kld_mean"].get<double>(), 5e-7);
        EXPECT_NEAR(v[5], 100 * row["top1_agreement"].get<double>(), 5e-3);
    }
    // --metrics picks the columns.
    auto some = test::run_llmq([&] {
        auto a = args;
        a.insert(a.end(), {"--format", "csv", "--metrics", "kld,size"});
        return a;
    }());
    EXPECT_EQ(some.out.substr(0, some.out.find('\n')), "model,size,compression_ratio,kld_mean,kld_p99,top1_agreement,pareto");
}

TEST(Quality, HtmlIsOneSelfContainedFile) {
    const auto dir = test::temp_dir("quality-html");
    const fs::path report = dir / "report.html", compare = dir / "compare.html", json_out = dir / "report.json";
    auto r = test::run_llmq(with_text({"quality", "report", kLlama, quantized("Q4_K_M"), "-o", report.string()}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto c = test::run_llmq(with_text({"quality", "compare", kLlama, quantized("Q2_K"), quantized("Q4_K_M"), "-o", compare.string()}));
    ASSERT_EQ(c.exit_code, 0) << c.err;
    for (const auto& f : {report, compare}) {
        const auto bytes = test::read_file(f);
        const std::string html(bytes.begin(), bytes.end());
        EXPECT_EQ(html.rfind("<!doctype html>", 0), 0u);
        EXPECT_NE(html.find("<svg"), std::string::npos);
        EXPECT_EQ(html.find("<script"), std::string::npos);
        EXPECT_EQ(html.find("src="), std::string::npos);  // nothing loaded from anywhere
        EXPECT_EQ(html.find("href="), std::string::npos);
    }
    const auto bytes = test::read_file(report);
    const std::string html(bytes.begin(), bytes.end());
    EXPECT_NE(html.find("Error per layer"), std::string::npos);  // layers are on by default in HTML
    auto j = test::run_llmq(with_text({"quality", "report", kLlama, quantized("Q4_K_M"), "-o", json_out.string(), "--format", "json"}));
    ASSERT_EQ(j.exit_code, 0) << j.err;
    const auto saved = test::read_file(json_out);
    const json s = json::parse(saved.begin(), saved.end());
    EXPECT_EQ(s["metrics"], parse_json(j)["metrics"]);
}

TEST(Quality, QuantizeQualityReportWarnsOrFailsAboveTheThreshold) {
    const auto dir = test::temp_dir("quality-quantize");
    const fs::path out = dir / "q2.gguf";
    // Q2_K of the fixture raises perplexity by more than 5 % and less than 1000 %.
    auto strict = test::run_llmq({"quantize", kLlama, "-q", "Q2_K", "-o", out.string(), "--quality-report", "--strict", "--format", "json"}, "strict",
                                 {{"LLM_QUANTIZE_QUALITY_THRESHOLD", "5"}});
    EXPECT_EQ(strict.exit_code, 11) << strict.err;
    EXPECT_TRUE(fs::exists(out));  // kept, and named
    EXPECT_NE(strict.err.find("the file is kept: " + out.string()), std::string::npos) << strict.err;
    fs::remove(out);
    auto ok = test::run_llmq({"quantize", kLlama, "-q", "Q2_K", "-o", out.string(), "--quality-report", "--strict", "--format", "json"}, "ok",
                             {{"LLM_QUANTIZE_QUALITY_THRESHOLD", "1000"}});
    ASSERT_EQ(ok.exit_code, 0) << ok.err;
    const json j = parse_json(ok);
    ASSERT_TRUE(j["quality_report"].is_object());
    EXPECT_GT(j["quality_report"]["metrics"]["perplexity_delta_pct"].get<double>(), 5.0);
    EXPECT_EQ(j["quality_report"]["quantized_model"], out.string());
    // Without --strict: a warning, exit 0.
    auto warn = test::run_llmq({"quantize", kLlama, "-q", "Q2_K", "-o", out.string(), "--quality-report", "--format", "json"}, "warn",
                               {{"LLM_QUANTIZE_QUALITY_THRESHOLD", "5"}});
    ASSERT_EQ(warn.exit_code, 0) << warn.err;
    EXPECT_NE(parse_json(warn)["warnings"].dump().find("above the threshold of 5%"), std::string::npos);
    // Invalid thresholds are usage errors, before any work.
    for (const char* bad : {"abc", "-1", "", "nan"}) {
        fs::remove(out);
        auto r = test::run_llmq({"quantize", kLlama, "-q", "Q2_K", "-o", out.string(), "--quality-report"}, "bad",
                                {{"LLM_QUANTIZE_QUALITY_THRESHOLD", bad}});
        EXPECT_EQ(r.exit_code, 2) << bad;
        EXPECT_FALSE(fs::exists(out)) << bad;
    }
    EXPECT_EQ(test::run_llmq({"quantize", kLlama, "-q", "Q2_K", "-o", out.string(), "--strict"}).exit_code, 2);
}

// --coherence: the score quantize --coherence-check gives the same file.
TEST(Quality, CoherenceScoreIsTheQuantizeCheck) {
    const auto dir = test::temp_dir("quality-coherence");
    const fs::path out = dir / "q2.gguf";
    auto q = test::run_llmq({"quantize", kLlama, "-q", "Q2_K", "-o", out.string(), "--coherence-check", "--format", "json"});
    ASSERT_EQ(q.exit_code, 0) << q.err;
    auto r = test::run_llmq(with_text({"quality", "report", kLlama, out.string(), "--coherence", "--format", "json"}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = parse_json(r);
    ASSERT_TRUE(j["coherence_score"].is_number());
    EXPECT_EQ(j["coherence_score"], parse_json(q)["coherence"]["score"]);
}

// A HuggingFace folder is an original like its GGUF conversion: the same scores.
TEST(Quality, HuggingFaceFolderAsTheOriginal) {
    const std::string folder = test::fixture("models/tinyllama-spm").string();
    auto hf = test::run_llmq(with_text({"quality", "report", folder, quantized("Q4_K_M"), "--format", "json"}));
    ASSERT_EQ(hf.exit_code, 0) << hf.err;
    auto gg = test::run_llmq(with_text({"quality", "report", kLlama, quantized("Q4_K_M"), "--format", "json"}));
    ASSERT_EQ(gg.exit_code, 0) << gg.err;
    const json a = parse_json(hf)["metrics"], b = parse_json(gg)["metrics"];
    for (const char* k : {"perplexity_original", "perplexity_quantized", "kld_mean", "top1_agreement"}) EXPECT_EQ(a[k], b[k]) << k;
}

TEST(Quality, BadInputGetsItsExitCode) {
    const auto dir = test::temp_dir("quality-bad");
    // Not a quantization of the original: the difference is named.
    auto other = test::run_llmq(with_text({"quality", "report", kLlama, kQwen}));
    EXPECT_EQ(other.exit_code, 2);
    EXPECT_NE(other.err.find("is not a quantization of"), std::string::npos) << other.err;
    EXPECT_NE(other.err.find("architecture"), std::string::npos) << other.err;
    EXPECT_EQ(test::run_llmq(with_text({"quality", "compare", kLlama, quantized("Q2_K"), kQwen})).exit_code, 2);
    // Missing files: 3.
    EXPECT_EQ(test::run_llmq(with_text({"quality", "report", kLlama, (dir / "missing.gguf").string()})).exit_code, 3);
    EXPECT_EQ(test::run_llmq(with_text({"quality", "report", (dir / "missing.gguf").string(), kLlama})).exit_code, 3);
    // Corrupt (truncated) file: 8.
    const auto bytes = test::read_file(quantized("Q4_K_M"));
    const fs::path cut = dir / "cut.gguf";
    test::write_file(cut, std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(bytes.size() / 2)));
    EXPECT_EQ(test::run_llmq(with_text({"quality", "report", kLlama, cut.string()})).exit_code, 8);
    // Usage.
    EXPECT_EQ(test::run_llmq({"quality"}).exit_code, 2);
    EXPECT_EQ(test::run_llmq({"quality", "report", kLlama}).exit_code, 2);
    EXPECT_EQ(test::run_llmq({"quality", "judge", kLlama, kLlama}).exit_code, 2);
    EXPECT_EQ(test::run_llmq(with_text({"quality", "report", kLlama, quantized("Q2_K"), "--format", "csv"})).exit_code, 2);
    EXPECT_EQ(test::run_llmq(with_text({"quality", "compare", kLlama, quantized("Q2_K"), "--metrics", "speed"})).exit_code, 2);
    EXPECT_EQ(test::run_llmq({"inspect", kLlama, "--format", "csv"}).exit_code, 2);
}

}  // namespace
}  // namespace llmq
