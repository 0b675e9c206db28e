// End-to-end: dynamic quantization (-q dynamic --profile ...) and `llmq profile` on the fixture
// models: targets, the exact predicted size, metadata, determinism, reuse of a measurement,
// bad input, and that the measured allocation beats llama.cpp's preset at equal size.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "llmq/format/gguf.hpp"
#include "llmq/io/memory.hpp"
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
const std::string& kHeldOut = test::kHeldOutText;

// Files every test process shares, made once (each is written to a private name and renamed,
// so concurrent test processes never see half a file): the importance matrix and a cost table
// measured with 2 calibration samples.
fs::path shared_dir() {
    const fs::path d = fs::path(LLMQ_CLI_PATH).parent_path() / "test-dynamic";
    fs::create_directories(d);
    return d;
}

void make_once(const fs::path& target, const std::function<void(const fs::path&)>& make) {
    if (fs::exists(target)) return;
    const fs::path tmp = target.string() + "." + std::to_string(::getpid()) + ".tmp";
    make(tmp);
    ASSERT_TRUE(fs::exists(tmp)) << tmp;
    fs::rename(tmp, target);
}

const fs::path& imatrix() {
    static const fs::path p = [] {
        const fs::path p = shared_dir() / "tinyllama.imatrix";
        make_once(p, [](const fs::path& tmp) {
            auto r = test::run_llmq({"analyze", kLlama, "--calibration-data", kTrain, "--calibration-samples", "128", "--ctx", "64", "--no-cache",
                                     "-o", tmp.string(), "--quiet"});
            ASSERT_EQ(r.exit_code, 0) << r.err;
        });
        return p;
    }();
    return p;
}

const fs::path& costs() {
    static const fs::path p = [] {
        const fs::path p = shared_dir() / "tinyllama.costs.json";
        make_once(p, [](const fs::path& tmp) {
            const auto dir = test::temp_dir("dyn-measure");
            auto r = test::run_llmq({"quantize", kLlama, "-q", "dynamic", "--profile", "balanced", "--imatrix", imatrix().string(), "--measurements",
                                     tmp.string(), "--calibration-samples", "2", "--no-cache", "--dry-run", "--quiet"});
            ASSERT_EQ(r.exit_code, 0) << r.err;
        });
        return p;
    }();
    return p;
}

// A dynamic run on the shared measurement.
test::CliResult dynamic(std::vector<std::string> extra, const std::string& model = kLlama) {
    std::vector<std::string> args = {
        "quantize",       model,      "-q",  "dynamic", "--profile", "balanced", "--imatrix", imatrix().string(), "--measurements",
        costs().string(), "--format", "json"};
    args.insert(args.end(), extra.begin(), extra.end());
    return test::run_llmq(args, "dynamic");
}

gguf::Header header_of(const fs::path& p) {
    MemorySource src(test::read_file(p), p.string());
    return gguf::read_header(src);
}

double kld_on_held_out(const fs::path& file) {
    auto r =
        test::run_llmq({"perplexity", file.string(), "-f", kHeldOut, "--ctx", "256", "--chunks", "12", "--kld-base", kLlama, "--format", "json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return parse_json(r)["kld"]["kld"]["mean"].get<double>();
}

TEST(Dynamic, TargetSizesAreNeverExceededAndHitWithinOnePercent) {
    const auto dir = test::temp_dir("dyn-size");
    double previous_loss = INFINITY;
    for (uint64_t target : {2300000ull, 2900000ull, 3500000ull, 4500000ull}) {
        SCOPED_TRACE(target);
        const fs::path out = dir / ("s" + std::to_string(target) + ".gguf");
        auto r = dynamic({"--target-size", std::to_string(target), "-o", out.string()});
        ASSERT_EQ(r.exit_code, 0) << r.err;
        const json j = parse_json(r);
        const auto size = fs::file_size(out);
        EXPECT_LE(size, target);
        EXPECT_GE(static_cast<double>(size), 0.99 * static_cast<double>(target));
        EXPECT_EQ(j["file_size"].get<uint64_t>(), size);
        EXPECT_EQ(j["predicted_size"].get<uint64_t>(), size);
        EXPECT_EQ(j["profile"], "balanced");
        EXPECT_EQ(j["dynamic"]["measurement"]["source"], costs().string());  // re-solved, not measured again
        // More bytes, less estimated loss.
        const double loss = j["dynamic"]["estimated_kld"].get<double>();
        EXPECT_LT(loss, previous_loss);
        previous_loss = loss;
        // The header says what was asked, and the tensors are what the report lists.
        const gguf::Header h = header_of(out);
        ASSERT_NE(h.find("llmq.profile"), nullptr);
        ASSERT_NE(h.find("llmq.target"), nullptr);
        EXPECT_EQ(*h.find("llmq.profile")->as_string(), "balanced");
        EXPECT_EQ(*h.find("llmq.target")->as_string(), std::to_string(target) + " bytes");
        for (const auto& t : j["tensors"]) {
            const auto* info = h.find_tensor(t["name"].get<std::string>());
            ASSERT_NE(info, nullptr);
            EXPECT_EQ(type_name(info->type), t["type"].get<std::string>());
        }
        for (const auto& l : j["layer_summary"]) {
            EXPECT_TRUE(l.contains("type") && l.contains("bit_width") && l.contains("share_of_size") && l.contains("is_protected")) << l;
            EXPECT_TRUE(l["estimated_error"].is_number()) << l;
        }
    }
}

TEST(Dynamic, TargetBitsPerWeightWithinTwoHundredths) {
    const auto dir = test::temp_dir("dyn-bpw");
    for (double bpw : {3.2, 4.5, 6.0}) {
        SCOPED_TRACE(bpw);
        auto r = dynamic({"--target-bpw", std::to_string(bpw), "-o", (dir / "b.gguf").string()});
        ASSERT_EQ(r.exit_code, 0) << r.err;
        EXPECT_NEAR(parse_json(r)["effective_bpw"].get<double>(), bpw, 0.02);
    }
}

// The reported range is the real one: its ends are reachable (and written at exactly the
// smallest or within 1 % of the largest), one byte below the smallest is refused.
TEST(Dynamic, ReachableRangeIsTheRealOne) {
    const auto dir = test::temp_dir("dyn-range");
    auto dry = dynamic({"--target-size", "3MB", "-o", (dir / "d.gguf").string(), "--dry-run"});
    ASSERT_EQ(dry.exit_code, 0) << dry.err;
    const json q = parse_json(dry)["dynamic"]["reachable"];
    const uint64_t lo = q["min_size"].get<uint64_t>(), hi = q["max_size"].get<uint64_t>();
    ASSERT_LT(lo, hi);
    EXPECT_LT(q["min_bpw"].get<double>(), q["max_bpw"].get<double>());
    auto at_lo = dynamic({"--target-size", std::to_string(lo), "-o", (dir / "lo.gguf").string(), "--dry-run"});
    ASSERT_EQ(at_lo.exit_code, 0) << at_lo.err;
    EXPECT_EQ(parse_json(at_lo)["predicted_size"].get<uint64_t>(), lo);
    auto at_hi = dynamic({"--target-size", std::to_string(hi), "-o", (dir / "hi.gguf").string(), "--dry-run"});
    ASSERT_EQ(at_hi.exit_code, 0) << at_hi.err;
    EXPECT_EQ(parse_json(at_hi)["predicted_size"].get<uint64_t>(), hi);
    auto below = dynamic({"--target-size", std::to_string(lo - 1), "-o", (dir / "b.gguf").string(), "--dry-run"});
    EXPECT_EQ(below.exit_code, 2);
    EXPECT_NE(below.err.find("smallest mix it allows is " + std::to_string(lo) + " bytes"), std::string::npos) << below.err;
    for (const char* bpw : {"min_bpw", "max_bpw"}) {
        const double b = q[bpw].get<double>();
        auto r = dynamic({"--target-bpw", std::to_string(b + 0.0005), "-o", (dir / "x.gguf").string(), "--dry-run"});
        ASSERT_EQ(r.exit_code, 0) << bpw << ": " << r.err;
        EXPECT_NEAR(parse_json(r)["effective_bpw"].get<double>(), b, 0.02) << bpw;
    }
}

TEST(Dynamic, DryRunPredictsTheExactSizeAndWritesNothing) {
    const auto dir = test::temp_dir("dyn-dry");
    const fs::path out = dir / "d.gguf";
    auto dry = dynamic({"--target-size", "3MB", "-o", out.string(), "--dry-run"});
    ASSERT_EQ(dry.exit_code, 0) << dry.err;
    EXPECT_FALSE(fs::exists(out));
    const json d = parse_json(dry);
    EXPECT_TRUE(d["dry_run"].get<bool>());
    auto real = dynamic({"--target-size", "3MB", "-o", out.string()});
    ASSERT_EQ(real.exit_code, 0) << real.err;
    EXPECT_EQ(d["predicted_size"].get<uint64_t>(), fs::file_size(out));
    EXPECT_EQ(d["tensors"], parse_json(real)["tensors"]);
    // Presets too: the predicted size is the real one (fallbacks included).
    for (const char* level : {"Q4_K_M", "Q2_K", "IQ4_NL"}) {
        const fs::path p = dir / (std::string(level) + ".gguf");
        auto pd = test::run_llmq({"quantize", kQwen, "-q", level, "-o", p.string(), "--dry-run", "--format", "json"});
        ASSERT_EQ(pd.exit_code, 0) << pd.err;
        EXPECT_FALSE(fs::exists(p));
        auto pr = test::run_llmq({"quantize", kQwen, "-q", level, "-o", p.string(), "--format", "json"});
        ASSERT_EQ(pr.exit_code, 0) << pr.err;
        EXPECT_EQ(parse_json(pd)["predicted_size"].get<uint64_t>(), fs::file_size(p)) << level;
    }
}

TEST(Dynamic, MeasurementAndFileAreTheSameForAnyThreadCount) {
    const auto dir = test::temp_dir("dyn-threads");
    std::vector<std::vector<uint8_t>> files, tables;
    for (const char* threads : {"1", "2"}) {
        const fs::path out = dir / (std::string("t") + threads + ".gguf");
        const fs::path table = dir / (std::string("t") + threads + ".costs.json");
        auto r = test::run_llmq({"quantize",
                                 kQwen,
                                 "-q",
                                 "dynamic",
                                 "--profile",
                                 "balanced",
                                 "--target-size",
                                 "2.4MB",
                                 "--calibration-samples",
                                 "2",
                                 "--calibration-data",
                                 kTrain,
                                 "--measurements",
                                 table.string(),
                                 "--no-cache",
                                 "-t",
                                 threads,
                                 "-o",
                                 out.string(),
                                 "--quiet"});
        ASSERT_EQ(r.exit_code, 0) << r.err;
        files.push_back(test::read_file(out));
        json t = json::parse(test::read_file(table));
        t.erase("weight_seconds");
        t.erase("kld_seconds");
        const std::string s = t.dump();
        tables.emplace_back(s.begin(), s.end());
    }
    EXPECT_EQ(files[0], files[1]);
    EXPECT_EQ(tables[0], tables[1]);
}

TEST(Dynamic, WithoutAnImatrixOneIsComputedAndSaidSo) {
    const auto dir = test::temp_dir("dyn-noimat");
    auto r = test::run_llmq({"quantize", kQwen, "-q", "dynamic", "--profile", "compression-max", "--calibration-samples", "2", "--calibration-data",
                             kTrain, "--no-cache", "--probes", "none", "-o", (dir / "c.gguf").string(), "--format", "json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = parse_json(r);
    EXPECT_NE(j["imatrix"].get<std::string>().find("computed"), std::string::npos);
    EXPECT_NE(r.err.find("no --imatrix"), std::string::npos) << r.err;
    // compression-max: at least 60% smaller than the 16-bit file.
    EXPECT_LT(static_cast<double>(j["file_size"].get<uint64_t>()), 0.4 * static_cast<double>(fs::file_size(kQwen)));

    // With --measurements the computed matrix is kept beside the measurement (FILE.imatrix): a
    // re-solve reads both and writes the same bytes without running the model.
    const fs::path table = dir / "m.costs.json";
    auto run = [&](const fs::path& out) {
        return test::run_llmq({"quantize", kQwen, "-q", "dynamic", "--profile", "balanced", "--target-size", "2.5MB", "--calibration-samples", "2",
                               "--calibration-data", kTrain, "--measurements", table.string(), "--no-cache", "-o", out.string(), "--format", "json"});
    };
    auto first = run(dir / "first.gguf");
    ASSERT_EQ(first.exit_code, 0) << first.err;
    EXPECT_TRUE(fs::exists(table.string() + ".imatrix"));
    auto again = run(dir / "again.gguf");
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_EQ(parse_json(again)["dynamic"]["measurement"]["source"], table.string());
    EXPECT_EQ(again.err.find("running the model"), std::string::npos) << again.err;
    EXPECT_EQ(test::read_file(dir / "first.gguf"), test::read_file(dir / "again.gguf"));
}

// The point of it all: at the size of llama.cpp's preset, a lower KL divergence on text the
// models never saw (llmq's own files of those presets are byte-identical to llama-quantize's).
TEST(Dynamic, BeatsThePresetsAtTheirOwnSize) {
    const auto dir = test::temp_dir("dyn-quality");
    for (const char* level : {"Q2_K", "Q4_K_M"}) {
        SCOPED_TRACE(level);
        const fs::path preset = dir / (std::string(level) + ".gguf");
        auto p = test::run_llmq({"quantize", kLlama, "-q", level, "--imatrix", imatrix().string(), "-o", preset.string(), "--quiet"});
        ASSERT_EQ(p.exit_code, 0) << p.err;
        const fs::path dyn = dir / (std::string(level) + "-dynamic.gguf");
        auto d = dynamic({"--target-size", std::to_string(fs::file_size(preset)), "-o", dyn.string()});
        ASSERT_EQ(d.exit_code, 0) << d.err;
        ASSERT_LE(fs::file_size(dyn), fs::file_size(preset));
        const double k_preset = kld_on_held_out(preset), k_dynamic = kld_on_held_out(dyn);
        std::printf("[          ] %s: KLD preset %.4f, dynamic %.4f (%.1f%% lower)\n", level, k_preset, k_dynamic, 100 * (1 - k_dynamic / k_preset));
        EXPECT_LT(k_dynamic, 0.8 * k_preset);
    }
}

// ---- bad input: the codes of CLI.md, a message naming the problem, nothing at -o ----

TEST(Dynamic, BadInputGetsItsExitCodeAndLeavesNothing) {
    const auto dir = test::temp_dir("dyn-bad");
    const fs::path out = dir / "never.gguf";
    const fs::path bad = dir / "bad.dqprofile";
    test::write_file(bad, [] {
        const std::string s =
            R"({"llmq_profile": 1, "name": "bad", "candidates": ["q4_K"], "default_target": {"bpw": 4}, "rules": [{"match": "(", "min_bpw": 4}]})";
        return std::vector<uint8_t>(s.begin(), s.end());
    }());
    struct Case {
        std::vector<std::string> args;
        int code;
        std::string says;
    };
    const std::vector<Case> cases = {
        {{"--profile", "no-such-profile"}, 13, "unknown profile 'no-such-profile'"},
        {{"--profile", bad.string()}, 13, "rules[0].match"},
        {{"--profile", (dir / "missing.dqprofile").string()}, 13, "not found"},
        {{"--profile", "balanced", "--target-size", "3MB", "--target-bpw", "4"}, 2, "both given"},
        {{"--profile", "balanced", "--target-size", "1MB"}, 2, "smallest mix it allows is"},
        {{"--profile", "balanced", "--target-bpw", "0.5"}, 2, "--target-bpw"},
        {{"--profile", "balanced", "--target-size", "3.2XB"}, 2, "invalid size"},
        {{"--profile", "balanced", "--probes", "many"}, 2, "--probes"},
    };
    for (const auto& c : cases) {
        std::vector<std::string> args = {"quantize",       kLlama,           "-q", "dynamic",   "--imatrix", imatrix().string(),
                                         "--measurements", costs().string(), "-o", out.string()};
        args.insert(args.end(), c.args.begin(), c.args.end());
        auto r = test::run_llmq(args, "dyn-bad");
        EXPECT_EQ(r.exit_code, c.code) << c.args[1] << ": " << r.err;
        EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
        EXPECT_FALSE(fs::exists(out));
    }
    // Dynamic options without -q dynamic, and a measurement of another model.
    auto r = test::run_llmq({"quantize", kLlama, "-q", "Q4_K_M", "--profile", "balanced", "-o", out.string()});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    r = test::run_llmq(
        {"quantize", kQwen, "-q", "dynamic", "--profile", "balanced", "--measurements", costs().string(), "--probes", "none", "-o", out.string()});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("another model"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(out));
}

// ---- llmq profile ----

TEST(Profile, ListShowCreateValidate) {
    auto list = test::run_llmq({"profile", "list", "--format", "json"});
    ASSERT_EQ(list.exit_code, 0) << list.err;
    const json listed = parse_json(list);
    std::vector<std::string> names;
    for (const auto& p : listed["profiles"]) names.push_back(p["name"]);
    EXPECT_EQ(names, (std::vector<std::string>{"attention-high", "balanced", "compression-max"}));

    auto show = test::run_llmq({"profile", "show", "attention-high"});
    ASSERT_EQ(show.exit_code, 0) << show.err;
    EXPECT_EQ(json::parse(show.out)["name"], "attention-high");  // the document itself, valid JSON

    const auto dir = test::temp_dir("profile-cmd");
    const fs::path made = dir / "mine.dqprofile";
    auto create =
        test::run_llmq({"profile", "create", "--imatrix", imatrix().string(), "--name", "mine", "--target-size", "3MB", "-o", made.string()});
    ASSERT_EQ(create.exit_code, 0) << create.err;
    auto validate = test::run_llmq({"profile", "validate", made.string(), kLlama, "--format", "json"});
    ASSERT_EQ(validate.exit_code, 0) << validate.err;
    const json v = parse_json(validate);
    EXPECT_TRUE(v["valid"].get<bool>());
    EXPECT_EQ(v["default_target_size"].get<uint64_t>(), 3000000u);
    EXPECT_LT(v["smallest_size"].get<uint64_t>(), v["largest_size"].get<uint64_t>());

    // By name from LLM_QUANTIZE_PROFILE_DIR.
    auto by_name = test::run_llmq({"profile", "show", "mine", "--format", "json"}, "profile", {{"LLM_QUANTIZE_PROFILE_DIR", dir.string()}});
    ASSERT_EQ(by_name.exit_code, 0) << by_name.err;
    EXPECT_EQ(parse_json(by_name)["source"], made.string());

    // A profile whose only type cannot hold the rows: cannot be met (13).
    const fs::path wide = dir / "wide.dqprofile";
    const std::string doc = R"({"llmq_profile": 1, "name": "wide", "candidates": ["q4_K"], "default_target": {"bpw": 4.5},
                                "rules": [{"match": "ffn_down", "types": ["q4_K"], "min_bpw": 9}]})";
    test::write_file(wide, std::vector<uint8_t>(doc.begin(), doc.end()));
    auto cannot = test::run_llmq({"profile", "validate", wide.string(), kLlama});
    EXPECT_EQ(cannot.exit_code, 13) << cannot.err;
    EXPECT_NE(cannot.err.find("ffn_down"), std::string::npos) << cannot.err;
}

}  // namespace
}  // namespace llmq
