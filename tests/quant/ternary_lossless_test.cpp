// TQ1_0/TQ2_0 on a ternary-trained model: a synthetic llama whose weights are {-s, 0, +s} per
// 256-block, quantized by the executable, must come back unchanged and without the "not
// ternary-trained" warning; the fixture model (trained in bf16) gets the warning.
//
// Exactness: the quantizer stores d = max|x| = s as F16 and the trits exactly, so a weight
// decodes to trit·f16(s). That equals the original bit for bit when s is an F16 value, which
// holds for every BF16 model whose scales lie in F16's normal range (BF16's 8-bit significand
// fits F16's 11); for F32 sources the only change is the F16 rounding of s (≤ 2^-11 relative).
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "jobs/ternary_check.hpp"
#include "llmq/format/gguf.hpp"
#include "llmq/format/model.hpp"
#include "llmq/io/memory.hpp"
#include "llmq/plan/plan.hpp"
#include "llmq/quant/codec.hpp"
#include "posix_io.hpp"
#include "support/run_cli.hpp"

namespace llmq {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr int64_t kEmbd = 256, kFf = 512, kVocab = 256;

// Values per tensor name, as they were written (before encoding).
using Originals = std::map<std::string, std::vector<float>>;

// A one-layer llama GGUF with ternary matrices in `type` (BF16 or F32). bf16_scales: the block
// scales are BF16 values (hence F16 values); otherwise arbitrary floats.
fs::path write_ternary_model(const fs::path& path, GgmlType type, bool bf16_scales, Originals& originals) {
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> scale_dist(0.01f, 0.2f);
    std::uniform_int_distribution<int> trit(-1, 1);
    std::uniform_int_distribution<int> mantissa(128, 255), exponent(10, 12);
    std::vector<gguf::TensorDecl> decls;
    std::vector<std::vector<uint8_t>> data;
    auto add = [&](const std::string& name, std::vector<int64_t> ne, GgmlType t, const std::vector<float>& v) {
        gguf::TensorDecl d;
        d.name = name;
        d.n_dims = static_cast<uint32_t>(ne.size());
        for (size_t i = 0; i < ne.size(); ++i) d.ne[i] = ne[i];
        d.type = t;
        decls.push_back(d);
        std::vector<uint8_t> bytes(row_size(t, ne[0]) * (v.size() / static_cast<size_t>(ne[0])));
        quantize_rows(t, v, bytes, ne[0]);
        data.push_back(std::move(bytes));
        originals[name] = v;
    };
    auto ternary = [&](const std::string& name, int64_t n_in, int64_t n_out) {
        std::vector<float> v(static_cast<size_t>(n_in * n_out));
        for (size_t b = 0; b < v.size(); b += 256) {
            // k·2^-e with an 8-bit k is exact in BF16 and F16. (Not a bit mask of a random float:
            // GCC 12 at -O3 drops such a conditional bit_cast in this loop.)
            const float s = bf16_scales ? std::ldexp(static_cast<float>(mantissa(rng)), -exponent(rng)) : scale_dist(rng);
            for (size_t i = 0; i < 256; ++i) v[b + i] = static_cast<float>(trit(rng)) * s;
            v[b] = s;  // the block's largest magnitude is s itself
        }
        add(name, {n_in, n_out}, type, v);
    };
    auto norm = [&](const std::string& name) { add(name, {kEmbd}, GgmlType::F32, std::vector<float>(kEmbd, 1.0f)); };
    ternary("token_embd.weight", kEmbd, kVocab);
    norm("blk.0.attn_norm.weight");
    for (const char* m : {"attn_q", "attn_k", "attn_v", "attn_output"}) ternary(std::string("blk.0.") + m + ".weight", kEmbd, kEmbd);
    norm("blk.0.ffn_norm.weight");
    ternary("blk.0.ffn_gate.weight", kEmbd, kFf);
    ternary("blk.0.ffn_up.weight", kEmbd, kFf);
    ternary("blk.0.ffn_down.weight", kFf, kEmbd);
    norm("output_norm.weight");
    ternary("output.weight", kEmbd, kVocab);

    const std::string a = "llama";
    std::vector<gguf::KeyValue> kv = {
        {"general.architecture", gguf::Value::string(a)},      {"general.name", gguf::Value::string("ternary-synthetic")},
        {a + ".embedding_length", gguf::Value::u32(kEmbd)},    {a + ".block_count", gguf::Value::u32(1)},
        {a + ".feed_forward_length", gguf::Value::u32(kFf)},   {a + ".attention.head_count", gguf::Value::u32(4)},
        {a + ".attention.head_count_kv", gguf::Value::u32(4)}, {a + ".attention.layer_norm_rms_epsilon", gguf::Value::f32(1e-5f)},
        {a + ".rope.freq_base", gguf::Value::f32(10000.0f)},   {a + ".context_length", gguf::Value::u32(256)},
    };
    MemorySink sink;
    gguf::Writer writer(sink, kv, decls);
    for (const auto& d : data) writer.write_data(d);
    writer.finish();
    sink.finish();
    test::write_file(path, sink.bytes());
    return path;
}

bool warns_not_ternary(const json& j) {
    for (const auto& w : j["warnings"])
        if (w.get<std::string>().find("not ternary-trained") != std::string::npos) return true;
    return false;
}

struct LosslessCase {
    GgmlType source;
    bool bf16_scales;
    const char* level;
};

class TernaryLosslessTest : public ::testing::TestWithParam<LosslessCase> {};

TEST_P(TernaryLosslessTest, RoundTrip) {
    const auto& c = GetParam();
    const auto dir = test::temp_dir(std::string("ternary-") + c.level);
    Originals originals;
    const auto input = write_ternary_model(dir / "ternary.gguf", c.source, c.bf16_scales, originals);
    const auto out = dir / "out.gguf";
    const auto r = test::run_llmq({"quantize", input.string(), "-q", c.level, "-o", out.string(), "--format", "json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = json::parse(r.out);
    EXPECT_FALSE(warns_not_ternary(j)) << j["warnings"].dump();

    const ModelView model = open_gguf_model(std::make_shared<native::FileSource>(out));
    const GgmlType want = std::string(c.level) == "TQ1_0" ? GgmlType::TQ1_0 : GgmlType::TQ2_0;
    int ternary_tensors = 0;
    for (const auto& t : model.tensors) {
        if (t.type != want) continue;
        ++ternary_tensors;
        std::vector<uint8_t> bytes(t.nbytes());
        t.read_rows(0, t.n_rows(), bytes);
        std::vector<float> got(static_cast<size_t>(t.n_elements()));
        dequantize(t.type, bytes, got);
        const std::vector<float>& orig = originals.at(t.name);
        ASSERT_EQ(got.size(), orig.size());
        size_t differ = 0;
        for (size_t i = 0; i < got.size(); ++i) {
            const float s = std::fabs(orig[i - i % 256]);  // element 0 of each block is +s
            if (c.bf16_scales) {
                if (got[i] != orig[i] && differ++ == 0) ADD_FAILURE() << t.name << "[" << i << "]: " << got[i] << " != " << orig[i];
            } else {
                // Same trit; magnitude off by at most the F16 rounding of s.
                EXPECT_EQ(std::signbit(got[i]) && got[i] != 0.0f, std::signbit(orig[i]) && orig[i] != 0.0f);
                EXPECT_EQ(got[i] == 0.0f, orig[i] == 0.0f);
                EXPECT_LE(std::fabs(got[i] - orig[i]), s * 0x1p-11f) << t.name << " " << i;
            }
        }
        EXPECT_EQ(differ, 0u) << t.name;
    }
    // The layer's seven matrices (embedding and output get Q4_K / Q6_K, as in llama.cpp).
    EXPECT_EQ(ternary_tensors, 7);
    fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Synthetic, TernaryLosslessTest,
                         ::testing::Values(LosslessCase{GgmlType::BF16, true, "TQ1_0"}, LosslessCase{GgmlType::BF16, true, "TQ2_0"},
                                           LosslessCase{GgmlType::F32, false, "TQ1_0"}, LosslessCase{GgmlType::F32, false, "TQ2_0"}),
                         [](const auto& info) { return std::string(info.param.source == GgmlType::BF16 ? "Bf16" : "F32") + info.param.level; });

TEST(TernaryCheck, Blocks) {
    std::vector<float> b(256, 0.0f);
    EXPECT_TRUE(jobs::is_ternary_block(b));  // all zero
    for (size_t i = 0; i < b.size(); ++i) b[i] = i % 3 == 0 ? 0.25f : (i % 3 == 1 ? -0.25f : 0.0f);
    EXPECT_TRUE(jobs::is_ternary_block(b));
    b[17] = -0.25f * (1.0f + 0x1p-12f);  // float rounding of the scale
    EXPECT_TRUE(jobs::is_ternary_block(b));
    b[17] = 0.2f;  // a fourth value
    EXPECT_FALSE(jobs::is_ternary_block(b));
    b[17] = std::nanf("");
    EXPECT_FALSE(jobs::is_ternary_block(b));
}

TEST(TernaryCheck, FixtureModelIsNotTernary) {
    const ModelView model = open_gguf_model(std::make_shared<native::FileSource>(test::fixture("models/tinyllama-spm.bf16.gguf")));
    plan::PlanOptions o;
    o.preset = plan::find_preset("TERNARY");
    const auto sample = jobs::sample_ternary(model, plan::make_plan(model, o));
    ASSERT_TRUE(sample.has_value());
    EXPECT_GT(sample->blocks, 100);
    EXPECT_EQ(sample->ternary_blocks, 0);
    const auto warning = jobs::ternary_warning(model, plan::make_plan(model, o));
    ASSERT_TRUE(warning.has_value());
    EXPECT_NE(warning->find("dynamic profile"), std::string::npos);
    // Not asked for a ternary type: nothing to sample.
    o.preset = plan::find_preset("Q4_K_M");
    EXPECT_FALSE(jobs::sample_ternary(model, plan::make_plan(model, o)).has_value());
}

}  // namespace
}  // namespace llmq
