// Mixture rules beyond the fixture table (reference §5.4): use_more_bits, positional rules on
// deeper models, GQA, 70B, Falcon, MoE, ternary and i-quant presets; and ModelFacts.
#include <gtest/gtest.h>

#include "llmq/error.hpp"
#include "plan/internal.hpp"
#include "plan/plan_models.hpp"

namespace llmq {
namespace {

using T = GgmlType;
using plan::detail::use_more_bits;
using test::by_name;
using test::layers_with;
using test::options_for;

std::vector<int> more_bits_set(int n) {
    std::vector<int> out;
    for (int i = 0; i < n; ++i)
        if (use_more_bits(i, n)) out.push_back(i);
    return out;
}

std::vector<int> range(int from, int to, int step = 1) {
    std::vector<int> out;
    for (int i = from; i < to; i += step) out.push_back(i);
    return out;
}

std::vector<int> concat(std::initializer_list<std::vector<int>> parts) {
    std::vector<int> out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

TEST(UseMoreBits, ListedSets) {
    EXPECT_EQ(more_bits_set(4), (std::vector<int>{2, 3}));
    EXPECT_EQ(more_bits_set(6), (std::vector<int>{2, 5}));
    EXPECT_EQ(more_bits_set(32), (std::vector<int>{0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31}));
    EXPECT_EQ(more_bits_set(80), concat({range(0, 10), range(12, 70, 3), range(70, 80)}));
}

TEST(UseMoreBits, Q4KMOn32BlocksPicksQ6KForExactlyThatSet) {
    const auto p = plan::make_plan(test::synthetic(256, 768, 32), options_for("Q4_K_M"));
    EXPECT_EQ(layers_with(p, "attn_v.weight", T::Q6_K), more_bits_set(32));
    EXPECT_EQ(layers_with(p, "ffn_down.weight", T::Q6_K), more_bits_set(32));
    EXPECT_EQ(by_name(p).at("blk.6.attn_v.weight").reason, "preset Q4_K_M: use_more_bits(layer 6 of 32) for attn_v → Q6_K");
}

TEST(UseMoreBits, SeventyBillionLlamaGetsQ5KForTheOtherAttnV) {
    // llama with 80 blocks and GQA is llama.cpp's 70B type: attn_v Q4_K/Q3_K become Q5_K.
    const auto p = plan::make_plan(test::synthetic(256, 768, 80), options_for("Q4_K_M"));
    EXPECT_EQ(layers_with(p, "attn_v.weight", T::Q6_K), more_bits_set(80));
    EXPECT_EQ(layers_with(p, "attn_v.weight", T::Q4_K), std::vector<int>{});
    EXPECT_EQ(layers_with(p, "ffn_down.weight", T::Q6_K), more_bits_set(80));
    EXPECT_EQ(layers_with(p, "ffn_down.weight", T::Q4_K).size(), 80u - more_bits_set(80).size());
    // Same depth, not a 70B architecture: plain Q4_K.
    const auto g = plan::make_plan(test::synthetic(256, 768, 80, false, 1000, "gemma"), options_for("Q4_K_M"));
    EXPECT_EQ(layers_with(g, "attn_v.weight", T::Q4_K).size(), 80u - more_bits_set(80).size());
}

TEST(PositionalRules, FirstEighthAndSixteenthOn32Blocks) {
    const auto m = test::synthetic(256, 768, 32);
    // Q3_K_M: ffn_down first n/16 → Q5_K, rest Q4_K; attn_v first 2 → Q5_K.
    auto p = plan::make_plan(m, options_for("Q3_K_M"));
    EXPECT_EQ(layers_with(p, "ffn_down.weight", T::Q5_K), (std::vector<int>{0, 1}));
    EXPECT_EQ(layers_with(p, "attn_v.weight", T::Q5_K), (std::vector<int>{0, 1}));
    // Q4_K_S: ffn_down first n/8 → Q5_K; attn_v first 4 → Q5_K.
    p = plan::make_plan(m, options_for("Q4_K_S"));
    EXPECT_EQ(layers_with(p, "ffn_down.weight", T::Q5_K), (std::vector<int>{0, 1, 2, 3}));
    EXPECT_EQ(layers_with(p, "attn_v.weight", T::Q5_K), (std::vector<int>{0, 1, 2, 3}));
    // Q2_K_S: ffn_down first n/8 → Q4_K.
    p = plan::make_plan(m, options_for("Q2_K_S", true));
    EXPECT_EQ(layers_with(p, "ffn_down.weight", T::Q4_K), (std::vector<int>{0, 1, 2, 3}));
    // Q4_0/Q5_0 with imatrix: first n/8 ffn_down → Q4_1/Q5_1; without: nothing.
    EXPECT_EQ(layers_with(plan::make_plan(m, options_for("Q4_0", true)), "ffn_down.weight", T::Q4_1), (std::vector<int>{0, 1, 2, 3}));
    EXPECT_EQ(layers_with(plan::make_plan(m, options_for("Q5_0", true)), "ffn_down.weight", T::Q5_1), (std::vector<int>{0, 1, 2, 3}));
    EXPECT_TRUE(layers_with(plan::make_plan(m, options_for("Q4_0")), "ffn_down.weight", T::Q4_1).empty());
    // IQ4_XS without imatrix: first n/8 ffn_down → Q5_K.
    EXPECT_EQ(layers_with(plan::make_plan(m, options_for("IQ4_XS")), "ffn_down.weight", T::Q5_K), (std::vector<int>{0, 1, 2, 3}));
    // IQ3_M: first n/8 ffn_down → Q4_K; attn_v and attn_output Q4_K.
    p = plan::make_plan(m, options_for("IQ3_M"));
    EXPECT_EQ(layers_with(p, "ffn_down.weight", T::Q4_K), (std::vector<int>{0, 1, 2, 3}));
    EXPECT_EQ(layers_with(p, "attn_v.weight", T::Q4_K).size(), 32u);
    EXPECT_EQ(layers_with(p, "attn_output.weight", T::Q4_K).size(), 32u);
    // IQ3_XS: ffn_gate/up in [n/8, 7n/8) → IQ3_XXS; attn_q/attn_k IQ3_XXS.
    p = plan::make_plan(m, options_for("IQ3_XS", true));
    EXPECT_EQ(layers_with(p, "ffn_gate.weight", T::IQ3_XXS), range(4, 28));
    EXPECT_EQ(layers_with(p, "ffn_up.weight", T::IQ3_XXS), range(4, 28));
    EXPECT_EQ(layers_with(p, "attn_k.weight", T::IQ3_XXS).size(), 32u);
    EXPECT_EQ(layers_with(p, "attn_q.weight", T::IQ3_XXS).size(), 32u);
    // IQ2_XXS / IQ2_M: first n/8 ffn_down → Q2_K / IQ3_S.
    p = plan::make_plan(m, options_for("IQ2_XXS", true));
    EXPECT_EQ(layers_with(p, "ffn_down.weight", T::Q2_K), (std::vector<int>{0, 1, 2, 3}));
    p = plan::make_plan(m, options_for("IQ2_M", true));
    EXPECT_EQ(layers_with(p, "ffn_down.weight", T::IQ3_S), (std::vector<int>{0, 1, 2, 3}));
    EXPECT_EQ(layers_with(p, "attn_v.weight", T::IQ3_S).size(), 32u);
    EXPECT_EQ(layers_with(p, "attn_output.weight", T::IQ3_S).size(), 32u);
}

ModelView with_heads(uint32_t heads, uint32_t kv_heads) {
    auto m = test::tinyllama();
    m.metadata = test::llm_metadata("llama", 6, heads, kv_heads);
    return m;
}

TEST(GqaRules, FourOrMoreQueryHeadsPerKvHeadRaiseAttnV) {
    const auto gqa8 = with_heads(32, 8);  // n_gqa 4
    EXPECT_EQ(layers_with(plan::make_plan(gqa8, options_for("Q2_K")), "attn_v.weight", T::Q4_K).size(), 6u);
    EXPECT_EQ(layers_with(plan::make_plan(gqa8, options_for("IQ4_XS")), "attn_v.weight", T::Q5_K).size(), 6u);
    EXPECT_EQ(layers_with(plan::make_plan(gqa8, options_for("IQ3_S")), "attn_v.weight", T::Q4_K).size(), 6u);
    EXPECT_EQ(layers_with(plan::make_plan(gqa8, options_for("IQ1_S", true)), "attn_v.weight", T::Q4_K).size(), 6u);
    EXPECT_EQ(layers_with(plan::make_plan(gqa8, options_for("IQ3_XXS", true)), "attn_v.weight", T::Q4_K).size(), 6u);
    const auto mha = with_heads(4, 4);  // n_gqa 1
    EXPECT_EQ(layers_with(plan::make_plan(mha, options_for("Q2_K")), "attn_v.weight", T::Q3_K).size(), 6u);
    EXPECT_EQ(layers_with(plan::make_plan(mha, options_for("IQ4_XS")), "attn_v.weight", T::IQ4_XS).size(), 6u);
}

TEST(ArchRules, FalconOutputIsQ8_0AndFfnDownDiffers) {
    auto m = test::synthetic(256, 768, 16, false, 1000, "falcon");
    auto p = plan::make_plan(m, options_for("Q4_K_M"));
    const auto t = by_name(p);
    EXPECT_EQ(t.at("output.weight").target_type, T::Q8_0);
    // Falcon Q4_K_M ffn_down: first n/16 Q6_K, then use_more_bits Q5_K, else Q4_K.
    EXPECT_EQ(layers_with(p, "ffn_down.weight", T::Q6_K), (std::vector<int>{0}));
    EXPECT_EQ(layers_with(p, "ffn_down.weight", T::Q5_K), (std::vector<int>{1, 4, 7, 10, 13, 14, 15}));
    p = plan::make_plan(m, options_for("Q3_K_L"));
    EXPECT_EQ(layers_with(p, "ffn_down.weight", T::Q4_K).size(), 16u);
    EXPECT_EQ(layers_with(p, "attn_output.weight", T::Q4_K).size(), 16u);
}

TEST(ArchRules, TernaryAndSmallBlockPresets) {
    for (const char* preset : {"TQ1_0", "TQ2_0", "Q2_0", "TERNARY"}) {
        const auto t = by_name(plan::make_plan(test::tinyllama(), options_for(preset)));
        EXPECT_EQ(t.at("token_embd.weight").target_type, T::Q4_K) << preset;
        EXPECT_EQ(t.at("output.weight").target_type, T::Q6_K) << preset;
    }
    const auto t = by_name(plan::make_plan(test::tinyllama(), options_for("Q1_0")));
    EXPECT_EQ(t.at("token_embd.weight").target_type, T::Q1_0);
    EXPECT_EQ(t.at("output.weight").target_type, T::Q6_K);
    EXPECT_EQ(t.at("blk.0.attn_v.weight").target_type, T::Q1_0);
    const auto iq2s = by_name(plan::make_plan(test::tinyllama(), options_for("IQ2_S", true)));
    EXPECT_EQ(iq2s.at("token_embd.weight").target_type, T::IQ3_S);
    EXPECT_EQ(iq2s.at("output.weight").target_type, T::Q5_K);
    EXPECT_EQ(iq2s.at("blk.0.attn_q.weight").target_type, T::IQ2_XS);
}

ModelView moe_model(uint32_t experts, const std::string& arch = "qwen3moe") {
    std::vector<test::TensorSpec> specs = {{"token_embd.weight", {256, 1000}}, {"output.weight", {256, 1000}}};
    for (int b = 0; b < 16; ++b) {
        const std::string p = "blk." + std::to_string(b) + ".";
        const std::vector<test::TensorSpec> block = {
            {p + "attn_q.weight", {256, 256}},
            {p + "attn_k.weight", {256, 128}},
            {p + "attn_v.weight", {256, 128}},
            {p + "attn_output.weight", {256, 256}},
            {p + "ffn_gate_inp.weight", {256, experts}},
            {p + "ffn_gate_exps.weight", {256, 512, experts}},
            {p + "ffn_up_exps.weight", {256, 512, experts}},
            {p + "ffn_down_exps.weight", {512, 256, experts}},
            {p + "ffn_down_shexp.weight", {512, 256}},
        };
        specs.insert(specs.end(), block.begin(), block.end());
    }
    return test::make_view("moe.gguf", test::llm_metadata(arch, 16, 4, 2, experts), specs);
}

TEST(MoeRules, EightExpertsAndLayerFromName) {
    const auto p = plan::make_plan(moe_model(8), options_for("Q4_K_M"));
    const auto t = by_name(p);
    EXPECT_EQ(t.at("blk.0.attn_v.weight").target_type, T::Q8_0);
    EXPECT_EQ(t.at("blk.0.attn_k.weight").target_type, T::Q8_0);
    EXPECT_EQ(t.at("blk.0.attn_output.weight").target_type, T::Q5_K);
    EXPECT_EQ(t.at("blk.0.ffn_gate_inp.weight").target_type, T::BF16);  // router: kept
    // Both ffn_down tensors of a block take the rule of their block number.
    std::vector<int> down_exps = layers_with(p, "ffn_down_exps.weight", T::Q6_K);
    EXPECT_EQ(down_exps, more_bits_set(16));
    EXPECT_EQ(layers_with(p, "ffn_down_shexp.weight", T::Q6_K), more_bits_set(16));
}

TEST(MoeRules, Mxfp4MoePresetTypesExpertsMxfp4AndTheRestQ8_0) {
    const auto t = by_name(plan::make_plan(moe_model(4), options_for("MXFP4_MOE")));
    EXPECT_EQ(t.at("blk.3.ffn_up_exps.weight").target_type, T::MXFP4);
    EXPECT_EQ(t.at("blk.3.ffn_down_exps.weight").target_type, T::MXFP4);
    EXPECT_EQ(t.at("blk.3.ffn_down_shexp.weight").target_type, T::Q8_0);
    EXPECT_EQ(t.at("blk.3.attn_q.weight").target_type, T::Q8_0);
    EXPECT_EQ(t.at("token_embd.weight").target_type, T::Q8_0);
    EXPECT_EQ(t.at("output.weight").target_type, T::Q8_0);
}

TEST(MoeRules, FfnTensorWithoutBlockNumberIsAnError) {
    auto m = moe_model(4);
    m.tensors.push_back(test::make_tensor("mtp.ffn_down.weight", {512, 256}, T::BF16));
    EXPECT_THROW(plan::make_plan(m, options_for("Q4_K_M")), Failure);
}

TEST(ModelFacts, FromMetadata) {
    auto m = test::tinyllama();
    auto f = plan::model_facts(m);
    EXPECT_EQ(f.arch, "llama");
    EXPECT_EQ(f.n_layer, 6);
    EXPECT_EQ(f.n_head, 4);
    EXPECT_EQ(f.n_head_kv, 2);
    EXPECT_EQ(f.n_expert, 0);
    EXPECT_EQ(f.n_gqa(), 2);
    EXPECT_FALSE(f.is_70b);

    // Missing head_count_kv means one per head; per-layer arrays use layer 0.
    m.metadata = {{"general.architecture", gguf::Value::string("llama")},
                  {"llama.block_count", gguf::Value::u32(80)},
                  {"llama.attention.head_count", gguf::Value::u32(64)}};
    f = plan::model_facts(m);
    EXPECT_EQ(f.n_head_kv, 64);
    EXPECT_FALSE(f.is_70b);  // 80-block llama without GQA is the 65B type
    const int32_t kv[] = {8, 8};
    m.metadata.push_back({"llama.attention.head_count_kv", gguf::Value::array_of<int32_t>(gguf::ValueType::INT32, std::span<const int32_t>(kv))});
    f = plan::model_facts(m);
    EXPECT_EQ(f.n_head_kv, 8);
    EXPECT_TRUE(f.is_70b);

    m.metadata = {{"general.architecture", gguf::Value::string("llama")}};
    EXPECT_THROW(plan::model_facts(m), Failure);
    m.metadata.clear();
    try {
        plan::model_facts(m);
        FAIL() << "no error";
    } catch (const Failure& e) {
        EXPECT_EQ(e.error().code, ExitCode::CorruptInput);
    }
}

}  // namespace
}  // namespace llmq
