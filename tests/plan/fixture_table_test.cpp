// The per-tensor types llama-quantize 80fb11ac chose for the two fixture models (the verified
// table at the end of reference §5.4), for every preset row, on hand-built headers and on the
// real GGUF files; and the output order of §5.3.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "llmq/io/memory.hpp"
#include "plan/plan_models.hpp"
#include "support/fixtures.hpp"

namespace llmq {
namespace {

using T = GgmlType;

// A type for some blocks and another for the rest; the block sets differ per model.
struct LayerTypes {
    T special;
    std::vector<int> llama_blocks, qwen_blocks;
    T rest;
    T at(bool qwen, int block) const {
        const auto& blocks = qwen ? qwen_blocks : llama_blocks;
        return std::find(blocks.begin(), blocks.end(), block) != blocks.end() ? special : rest;
    }
};
LayerTypes all(T t) {
    return {t, {}, {}, t};
}

struct Row {
    const char* preset;
    bool imatrix;
    T token_embd_llama, token_embd_qwen, output, attn_qk;
    LayerTypes attn_v;
    T attn_output, ffn_gate_up;
    LayerTypes ffn_down;
    friend void PrintTo(const Row& r, std::ostream* os) { *os << r.preset << (r.imatrix ? "+imatrix" : ""); }
};

const std::vector<Row>& table() {
    static const std::vector<Row> rows = {
        {"Q2_K", false, T::Q2_K, T::Q6_K, T::Q6_K, T::Q2_K, all(T::Q3_K), T::Q3_K, T::Q2_K, all(T::Q3_K)},
        {"Q3_K_S", false, T::Q3_K, T::Q6_K, T::Q6_K, T::Q3_K, all(T::Q3_K), T::Q3_K, T::Q3_K, all(T::Q3_K)},
        {"Q3_K_M", false, T::Q3_K, T::Q6_K, T::Q6_K, T::Q3_K, {T::Q5_K, {0, 1}, {0, 1}, T::Q4_K}, T::Q4_K, T::Q3_K, all(T::Q4_K)},
        {"Q3_K_L", false, T::Q3_K, T::Q6_K, T::Q6_K, T::Q3_K, all(T::Q5_K), T::Q5_K, T::Q3_K, all(T::Q5_K)},
        {"Q4_K_S", false, T::Q4_K, T::Q6_K, T::Q6_K, T::Q4_K, {T::Q5_K, {0, 1, 2, 3}, {0, 1, 2, 3}, T::Q4_K}, T::Q4_K, T::Q4_K, all(T::Q4_K)},
        {"Q4_K_M",
         false,
         T::Q4_K,
         T::Q6_K,
         T::Q6_K,
         T::Q4_K,
         {T::Q6_K, {2, 5}, {2, 3}, T::Q4_K},
         T::Q4_K,
         T::Q4_K,
         {T::Q6_K, {2, 5}, {2, 3}, T::Q4_K}},
        {"Q5_K_S", false, T::Q5_K, T::Q6_K, T::Q6_K, T::Q5_K, all(T::Q5_K), T::Q5_K, T::Q5_K, all(T::Q5_K)},
        {"Q5_K_M",
         false,
         T::Q5_K,
         T::Q6_K,
         T::Q6_K,
         T::Q5_K,
         {T::Q6_K, {2, 5}, {2, 3}, T::Q5_K},
         T::Q5_K,
         T::Q5_K,
         {T::Q6_K, {2, 5}, {2, 3}, T::Q5_K}},
        {"Q6_K", false, T::Q6_K, T::Q6_K, T::Q6_K, T::Q6_K, all(T::Q6_K), T::Q6_K, T::Q6_K, all(T::Q6_K)},
        {"Q4_0", false, T::Q4_0, T::Q6_K, T::Q6_K, T::Q4_0, all(T::Q4_0), T::Q4_0, T::Q4_0, all(T::Q4_0)},
        {"Q4_0", true, T::Q4_0, T::Q6_K, T::Q6_K, T::Q4_0, all(T::Q4_0), T::Q4_0, T::Q4_0, all(T::Q4_0)},
        {"Q8_0", false, T::Q8_0, T::Q8_0, T::Q8_0, T::Q8_0, all(T::Q8_0), T::Q8_0, T::Q8_0, all(T::Q8_0)},
        {"IQ2_XXS", true, T::Q2_K, T::Q5_K, T::Q5_K, T::IQ2_XXS, all(T::Q2_K), T::IQ2_XXS, T::IQ2_XXS, all(T::IQ2_XXS)},
        {"IQ3_XXS", true, T::IQ3_S, T::Q5_K, T::Q5_K, T::IQ2_S, all(T::IQ3_XXS), T::IQ3_S, T::IQ3_XXS, all(T::IQ3_XXS)},
        {"IQ4_XS", false, T::IQ4_XS, T::Q6_K, T::Q6_K, T::IQ4_XS, all(T::IQ4_XS), T::IQ4_XS, T::IQ4_XS, all(T::IQ4_XS)},
        {"IQ4_XS", true, T::IQ4_XS, T::Q6_K, T::Q6_K, T::IQ4_XS, all(T::IQ4_XS), T::IQ4_XS, T::IQ4_XS, all(T::IQ4_XS)},
        {"IQ1_S", true, T::Q2_K, T::Q5_K, T::Q5_K, T::IQ1_S, all(T::Q2_K), T::IQ2_XXS, T::IQ1_S, all(T::IQ1_S)},
    };
    return rows;
}

T expected_type(const Row& row, bool qwen, const std::string& name) {
    if (name == "token_embd.weight") return qwen ? row.token_embd_qwen : row.token_embd_llama;
    if (name == "output.weight") return row.output;
    const int block = std::stoi(name.substr(4));
    const std::string kind = name.substr(name.find('.', 4) + 1);
    if (kind == "attn_q.weight" || kind == "attn_k.weight") return row.attn_qk;
    if (kind == "attn_v.weight") return row.attn_v.at(qwen, block);
    if (kind == "attn_output.weight") return row.attn_output;
    if (kind == "ffn_gate.weight" || kind == "ffn_up.weight") return row.ffn_gate_up;
    if (kind == "ffn_down.weight") return row.ffn_down.at(qwen, block);
    ADD_FAILURE() << "unexpected weight " << name;
    return T::F32;
}

void check_row(const Row& row, const ModelView& model, bool qwen) {
    SCOPED_TRACE(std::string(row.preset) + (row.imatrix ? " with imatrix on " : " on ") + model.path);
    const auto opts = test::options_for(row.preset, row.imatrix);
    const plan::QuantPlan p = plan::make_plan(model, opts);
    EXPECT_EQ(p.ftype, opts.preset->ftype);
    EXPECT_EQ(p.n_fallback, 0);
    ASSERT_EQ(p.tensors.size(), model.tensors.size());
    int weights = 0;
    for (const auto& t : p.tensors) {
        SCOPED_TRACE(t.name);
        EXPECT_EQ(t.name, model.tensors[t.source_index].name);
        EXPECT_FALSE(t.fallback);
        const bool one_d = t.name.ends_with("_norm.weight") || t.name.ends_with(".bias");
        if (one_d) {
            EXPECT_EQ(t.target_type, T::F32);
            EXPECT_FALSE(t.quantize);
            EXPECT_FALSE(t.needs_imatrix);
            EXPECT_TRUE(t.reason.starts_with("not quantizable: ")) << t.reason;
            continue;
        }
        ++weights;
        EXPECT_EQ(plan::display_name(t.target_type), plan::display_name(expected_type(row, qwen, t.name))) << t.reason;
        EXPECT_EQ(t.source_type, T::BF16);
        EXPECT_TRUE(t.quantize);
        EXPECT_FALSE(t.reason.empty());
    }
    EXPECT_EQ(weights, qwen ? 1 + 4 * 7 : 2 + 6 * 7);
}

class FixtureTable : public ::testing::TestWithParam<Row> {};

TEST_P(FixtureTable, TinyllamaHandBuilt) {
    check_row(GetParam(), test::tinyllama(), false);
}
TEST_P(FixtureTable, TinyqwenHandBuilt) {
    check_row(GetParam(), test::tinyqwen(), true);
}

ModelView open_fixture(const std::string& file) {
    auto bytes = test::read_file(test::fixture("models/" + file));
    return open_gguf_model(std::make_shared<MemorySource>(std::move(bytes), file));
}

// The same table from the headers of the real files (read by the GGUF reader).
TEST_P(FixtureTable, RealFixtureFiles) {
    check_row(GetParam(), open_fixture("tinyllama-spm.bf16.gguf"), false);
    check_row(GetParam(), open_fixture("tinyqwen-bpe.bf16.gguf"), true);
}

INSTANTIATE_TEST_SUITE_P(Verified, FixtureTable, ::testing::ValuesIn(table()), [](const ::testing::TestParamInfo<Row>& info) {
    return std::string(info.param.preset) + (info.param.imatrix ? "_imatrix" : "");
});

TEST(PlanOrder, NonBlockTensorsFirstThenBlocksByNumberThenName) {
    const auto p = plan::make_plan(test::tinyllama(), test::options_for("Q4_K_M"));
    std::vector<std::string> expected = {"output.weight", "output_norm.weight", "token_embd.weight"};
    for (int b = 0; b < 6; ++b) {
        for (const char* n : {"attn_k", "attn_norm", "attn_output", "attn_q", "attn_v", "ffn_down", "ffn_gate", "ffn_norm", "ffn_up"})
            expected.push_back("blk." + std::to_string(b) + "." + n + ".weight");
    }
    std::vector<std::string> got;
    for (const auto& t : p.tensors) got.push_back(t.name);
    EXPECT_EQ(got, expected);
}

TEST(PlanOrder, BiasesSortBeforeWeightsAndTiedModelHasNoOutput) {
    const auto p = plan::make_plan(test::tinyqwen(), test::options_for("Q4_K_M"));
    ASSERT_GE(p.tensors.size(), 5u);
    EXPECT_EQ(p.tensors[0].name, "output_norm.weight");
    EXPECT_EQ(p.tensors[1].name, "token_embd.weight");
    EXPECT_EQ(p.tensors[2].name, "blk.0.attn_k.bias");
    EXPECT_EQ(p.tensors[3].name, "blk.0.attn_k.weight");
    EXPECT_EQ(p.tensors[4].name, "blk.0.attn_norm.weight");
    EXPECT_EQ(p.tensors.back().name, "blk.3.ffn_up.weight");
}

TEST(PlanOrder, BlockNumbersCompareNumerically) {
    const auto p = plan::make_plan(test::synthetic(256, 768, 12), test::options_for("Q4_K_M"));
    std::vector<int> blocks;
    for (const auto& t : p.tensors)
        if (t.name.ends_with(".attn_q.weight")) blocks.push_back(std::stoi(t.name.substr(4)));
    EXPECT_EQ(blocks, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}));
}

}  // namespace
}  // namespace llmq
