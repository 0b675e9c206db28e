// End-to-end: --protect-super-weights on a fixture with a planted super weight (blk.1.ffn_down,
// the largest weight of the most important input column, ×100, as the analyze tests plant it):
// the weight keeps its value through every k-quant level, read back from the written file.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "llmq/format/gguf.hpp"
#include "llmq/format/imatrix.hpp"
#include "llmq/io/memory.hpp"
#include "llmq/quant/codec.hpp"
#include "support/cli_json.hpp"
#include "support/run_cli.hpp"

namespace llmq {
namespace {

using nlohmann::json;
using test::parse_json;
namespace fs = std::filesystem;
const std::string& kLlama = test::kLlamaModel;
const std::string& kTrain = test::kTrainText;

float bf16_at(const std::vector<uint8_t>& b, uint64_t off) {
    const uint32_t bits = static_cast<uint32_t>(b[off]) << 16 | static_cast<uint32_t>(b[off + 1]) << 24;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

struct Planted {
    fs::path model, imatrix;
    int64_t row = 0, col = 0;
    float value = 0;
};

const Planted& planted() {
    static const Planted p = [] {
        Planted p;
        const fs::path dir = test::temp_dir("protect");
        p.imatrix = dir / "tinyllama.imatrix";
        auto r = test::run_llmq({"analyze", kLlama, "--calibration-data", kTrain, "--calibration-samples", "128", "--ctx", "64", "--no-cache", "-o",
                                 p.imatrix.string(), "--quiet"});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        MemorySource im(test::read_file(p.imatrix));
        const ImatrixData data = read_imatrix(im);
        const auto& col_importance = data.entries.at("blk.1.ffn_down.weight");
        p.col = std::max_element(col_importance.begin(), col_importance.end()) - col_importance.begin();
        std::vector<uint8_t> bytes = test::read_file(kLlama);
        const gguf::Header h = gguf::read_header(MemorySource(bytes));
        const gguf::TensorInfo* t = h.find_tensor("blk.1.ffn_down.weight");
        auto offset = [&](int64_t row) { return h.data_offset + t->offset + 2 * static_cast<uint64_t>(row * t->ne[0] + p.col); };
        for (int64_t row = 1; row < t->ne[1]; ++row)
            if (std::fabs(bf16_at(bytes, offset(row))) > std::fabs(bf16_at(bytes, offset(p.row)))) p.row = row;
        const float v = 100.0f * bf16_at(bytes, offset(p.row));
        uint32_t bits;
        std::memcpy(&bits, &v, 4);
        bytes[offset(p.row)] = static_cast<uint8_t>(bits >> 16);
        bytes[offset(p.row) + 1] = static_cast<uint8_t>(bits >> 24);
        p.value = bf16_at(bytes, offset(p.row));
        p.model = dir / "planted.gguf";
        test::write_file(p.model, bytes);
        return p;
    }();
    return p;
}

// The planted weight as the written file holds it (decoded by llmq's dequantizer).
float value_in(const fs::path& file, int64_t row, int64_t col) {
    const std::vector<uint8_t> bytes = test::read_file(file);
    const gguf::Header h = gguf::read_header(MemorySource(bytes));
    const gguf::TensorInfo* t = h.find_tensor("blk.1.ffn_down.weight");
    const uint64_t row_bytes = row_size(t->type, t->ne[0]);
    std::vector<float> out(static_cast<size_t>(t->ne[0]));
    dequantize(t->type, std::span<const uint8_t>(bytes).subspan(h.data_offset + t->offset + static_cast<uint64_t>(row) * row_bytes, row_bytes), out);
    return out[static_cast<size_t>(col)];
}

TEST(Protection, APlantedSuperWeightKeepsItsValueAtEveryLevelFromQ2K) {
    const Planted& p = planted();
    const auto dir = test::temp_dir("protect-levels");
    // The first level detects the super weights itself; the others take analyze's mask.
    const fs::path mask_imatrix = dir / "planted.imatrix";
    auto a = test::run_llmq({"analyze", p.model.string(), "--calibration-data", kTrain, "--calibration-samples", "128", "--ctx", "256", "--no-cache",
                             "--identify-super-weights", "-o", mask_imatrix.string(), "--quiet"});
    ASSERT_EQ(a.exit_code, 0) << a.err;
    const std::string mask = mask_imatrix.string() + ".superweights.json";
    bool first = true;
    for (const char* level : {"Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "Q4_0"}) {
        SCOPED_TRACE(level);
        const fs::path out = dir / (std::string(level) + ".gguf");
        std::vector<std::string> args = {
            "quantize", p.model.string(), "-q",       level, "--imatrix", p.imatrix.string(), "--protect-super-weights", "--calibration-data", kTrain,
            "-o",       out.string(),     "--format", "json"};
        if (!first) args.insert(args.end(), {"--super-weights", mask});
        first = false;
        auto r = test::run_llmq(args);
        ASSERT_EQ(r.exit_code, 0) << r.err;
        const json j = parse_json(r);
        const json& pr = j["protection"];
        ASSERT_TRUE(pr["identified"].get<bool>()) << pr;
        ASSERT_FALSE(pr["super_weights"].empty());
        EXPECT_EQ(pr["super_weights"][0]["row"], p.row);
        EXPECT_EQ(pr["super_weights"][0]["col"], p.col);
        const float after = value_in(out, p.row, p.col);
        EXPECT_FLOAT_EQ(pr["super_weights"][0]["after"].get<float>(), after);
        EXPECT_LE(std::fabs(after - p.value), 0.01 * std::fabs(p.value)) << p.value << " became " << after;
        bool layer_protected = false;
        for (const auto& l : j["layer_summary"])
            if (l["layer_name"] == "blk.1") layer_protected = l["is_protected"].get<bool>();
        EXPECT_TRUE(layer_protected);
        // For the record: a ×100 weight is its block's maximum, which k-quant scales already fit,
        // so without protection it mostly survives too (the protection matters for the coverage
        // set and for weights that are large but not their block's largest).
        const fs::path plain = dir / (std::string("plain-") + level + ".gguf");
        ASSERT_EQ(
            test::run_llmq({"quantize", p.model.string(), "-q", level, "--imatrix", p.imatrix.string(), "-o", plain.string(), "--quiet"}).exit_code,
            0);
        std::printf("[          ] %s: planted %g -> %g with protection, %g without\n", level, p.value, after, value_in(plain, p.row, p.col));
    }
}

TEST(Protection, DynamicGivesTheSuperWeightsTensorATypeThatKeepsThem) {
    const Planted& p = planted();
    const auto dir = test::temp_dir("protect-dynamic");
    const fs::path out = dir / "d.gguf";
    auto r = test::run_llmq({"quantize", p.model.string(), "-q", "dynamic", "--profile", "compression-max", "--imatrix", p.imatrix.string(),
                             "--protect-super-weights", "--calibration-data", kTrain, "--calibration-samples", "2", "--no-cache", "-o", out.string(),
                             "--format", "json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const float after = value_in(out, p.row, p.col);
    EXPECT_LE(std::fabs(after - p.value), 0.01 * std::fabs(p.value)) << p.value << " became " << after;
}

TEST(Protection, BadOptionsAreUsageErrors) {
    const auto dir = test::temp_dir("protect-bad");
    const fs::path out = dir / "x.gguf";
    for (const std::vector<std::string>& extra : {std::vector<std::string>{"--protect-super-weights", "--protection-coverage", "0.5"},
                                                  {"--protect-super-weights", "--protection-coverage", "0"},
                                                  {"--protection-coverage", "0.001"},
                                                  {"--super-weights", (dir / "m.json").string()}}) {
        std::vector<std::string> args = {"quantize", kLlama, "-q", "Q4_K_M", "-o", out.string()};
        args.insert(args.end(), extra.begin(), extra.end());
        auto r = test::run_llmq(args);
        EXPECT_EQ(r.exit_code, 2) << extra[0] << " " << r.err;
        EXPECT_FALSE(fs::exists(out));
    }
    auto r = test::run_llmq({"quantize", kLlama, "-q", "Q4_K_M", "-o", out.string(), "--protect-super-weights", "--protection-coverage", "0.5"});
    EXPECT_NE(r.err.find("(0, 0.01]"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace llmq
