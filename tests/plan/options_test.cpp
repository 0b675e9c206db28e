// User overrides (reference §5.1, decision steps of §5.4): --tensor-type, --pure,
// --leave-output-tensor, --output-tensor-type, --token-embedding-type, tied embeddings.
#include <gtest/gtest.h>

#include "llmq/error.hpp"
#include "plan/plan_models.hpp"

namespace llmq {
namespace {

using T = GgmlType;
using test::by_name;
using test::layers_with;
using test::options_for;

ExitCode code_of(const ModelView& model, const plan::PlanOptions& o) {
    try {
        plan::make_plan(model, o);
    } catch (const Failure& f) {
        return f.error().code;
    }
    return ExitCode::Success;
}

TEST(TensorType, ForcedTensorsDoNotAdvanceTheCountersSoQ6KLayersMove) {
    const auto model = test::tinyllama();
    const auto plain = plan::make_plan(model, options_for("Q4_K_M"));
    EXPECT_EQ(layers_with(plain, "attn_v.weight", T::Q6_K), (std::vector<int>{2, 5}));
    EXPECT_EQ(layers_with(plain, "ffn_down.weight", T::Q6_K), (std::vector<int>{2, 5}));

    auto o = options_for("Q4_K_M");
    o.tensor_types = {{"blk\\.0\\.attn_v", T::Q8_0}, {"blk\\.0\\.ffn_down", T::Q8_0}};
    const auto p = plan::make_plan(model, o);
    EXPECT_EQ(layers_with(p, "attn_v.weight", T::Q6_K), (std::vector<int>{3}));
    EXPECT_EQ(layers_with(p, "ffn_down.weight", T::Q6_K), (std::vector<int>{3}));
    const auto t = by_name(p);
    EXPECT_EQ(t.at("blk.0.attn_v.weight").target_type, T::Q8_0);
    EXPECT_EQ(t.at("blk.0.attn_v.weight").reason, "--tensor-type blk\\.0\\.attn_v=q8_0");
    EXPECT_EQ(t.at("blk.0.ffn_down.weight").target_type, T::Q8_0);
    EXPECT_EQ(t.at("blk.1.attn_v.weight").target_type, T::Q4_K);
    EXPECT_TRUE(p.warnings.empty());
}

TEST(TensorType, PatternIsLowerCasedSearchedAnywhereAndFirstMatchWins) {
    auto o = options_for("Q4_K_M");
    o.tensor_types = {{"ATTN_V", T::Q8_0}, {"blk\\.1\\.attn_v", T::Q5_K}, {"ffn_(up|gate)", T::Q5_K}};
    const auto p = plan::make_plan(test::tinyllama(), o);
    const auto t = by_name(p);
    for (int b = 0; b < 6; ++b) {
        const std::string blk = "blk." + std::to_string(b) + ".";
        EXPECT_EQ(t.at(blk + "attn_v.weight").target_type, T::Q8_0);
        EXPECT_EQ(t.at(blk + "ffn_up.weight").target_type, T::Q5_K);
        EXPECT_EQ(t.at(blk + "ffn_gate.weight").target_type, T::Q5_K);
    }
    EXPECT_EQ(t.at("blk.1.attn_v.weight").reason, "--tensor-type attn_v=q8_0");
    ASSERT_EQ(p.warnings.size(), 1u);
    EXPECT_NE(p.warnings[0].find("blk\\.1\\.attn_v"), std::string::npos);
}

TEST(TensorType, OverridesOutputAndEmbeddingRulesButNotExplicitOptions) {
    auto o = options_for("Q4_K_M");
    o.tensor_types = {{"^output\\.weight$", T::Q5_K}, {"token_embd", T::Q8_0}};
    auto t = by_name(plan::make_plan(test::tinyllama(), o));
    EXPECT_EQ(t.at("output.weight").target_type, T::Q5_K);
    EXPECT_EQ(t.at("token_embd.weight").target_type, T::Q8_0);
    o.output_tensor_type = T::Q4_K;
    t = by_name(plan::make_plan(test::tinyllama(), o));
    EXPECT_EQ(t.at("output.weight").target_type, T::Q4_K);
}

TEST(TensorType, IgnoredByUnquantizedPresets) {
    auto o = options_for("F16");
    o.tensor_types = {{"attn_v", T::Q8_0}};
    const auto p = plan::make_plan(test::tinyllama(), o);
    EXPECT_EQ(by_name(p).at("blk.0.attn_v.weight").target_type, T::F16);
    ASSERT_EQ(p.warnings.size(), 1u);
    EXPECT_NE(p.warnings[0].find("ignored"), std::string::npos);
}

TEST(TensorType, ShapeFallbackStillApplies) {
    auto o = options_for("Q8_0");
    o.tensor_types = {{"attn_q", T::Q4_K}};
    const auto p = plan::make_plan(test::synthetic(320, 864, 2), o);
    const auto q = by_name(p).at("blk.0.attn_q.weight");
    EXPECT_EQ(q.target_type, T::Q5_0);
    EXPECT_TRUE(q.fallback);
    EXPECT_EQ(q.reason, "--tensor-type attn_q=q4_K; fallback: 320 not a multiple of 256 → Q5_0");
    EXPECT_EQ(p.n_fallback, 2);
}

TEST(TensorType, InvalidPatternOrTypeIsAUsageError) {
    auto o = options_for("Q4_K_M");
    o.tensor_types = {{"attn_([", T::Q8_0}};
    EXPECT_EQ(code_of(test::tinyllama(), o), ExitCode::Usage);
    o.tensor_types = {{"", T::Q8_0}};
    EXPECT_EQ(code_of(test::tinyllama(), o), ExitCode::Usage);
    o.tensor_types = {{"attn_v", T::Q8_K}};
    EXPECT_EQ(code_of(test::tinyllama(), o), ExitCode::Usage);
    o.tensor_types = {{"attn_v", T::I32}};
    EXPECT_EQ(code_of(test::tinyllama(), o), ExitCode::Usage);
    o.tensor_types = {{"attn_v", static_cast<T>(4)}};  // removed Q4_2
    EXPECT_EQ(code_of(test::tinyllama(), o), ExitCode::Usage);
    o.tensor_types.clear();
    o.output_tensor_type = T::Q8_1;
    EXPECT_EQ(code_of(test::tinyllama(), o), ExitCode::Usage);
}

TEST(Pure, EveryQuantizableTensorGetsTheDefaultTypeIncludingOutputAndEmbedding) {
    auto o = options_for("Q4_K_M");
    o.pure = true;
    for (const auto& model : {test::tinyllama(), test::tinyqwen()}) {
        const auto p = plan::make_plan(model, o);
        for (const auto& t : p.tensors) {
            if (!t.quantize) continue;
            EXPECT_EQ(t.target_type, T::Q4_K) << t.name;
            EXPECT_EQ(t.reason, "--pure: preset Q4_K_M default Q4_K");
        }
        EXPECT_EQ(by_name(p).at("token_embd.weight").target_type, T::Q4_K);
    }
}

TEST(Pure, ExplicitTypesAndShapeFallbackStillApply) {
    auto o = options_for("Q4_K_M");
    o.pure = true;
    o.output_tensor_type = T::Q8_0;
    o.token_embedding_type = T::Q6_K;
    o.tensor_types = {{"blk\\.0\\.attn_v", T::Q5_K}};
    auto t = by_name(plan::make_plan(test::tinyllama(), o));
    EXPECT_EQ(t.at("output.weight").target_type, T::Q8_0);
    EXPECT_EQ(t.at("token_embd.weight").target_type, T::Q6_K);
    EXPECT_EQ(t.at("blk.0.attn_v.weight").target_type, T::Q5_K);
    EXPECT_EQ(t.at("blk.2.attn_v.weight").target_type, T::Q4_K);

    auto pure = options_for("Q4_K_M");
    pure.pure = true;
    const auto p = plan::make_plan(test::synthetic(320, 864, 2), pure);
    EXPECT_EQ(by_name(p).at("output.weight").target_type, T::Q5_0);  // not the output rule's Q8_0
    EXPECT_EQ(p.n_fallback, 2 + 2 * 7);
}

TEST(LeaveOutputTensor, OutputIsCopiedAsIs) {
    auto o = options_for("Q4_K_M");
    o.leave_output_tensor = true;
    const auto t = by_name(plan::make_plan(test::tinyllama(), o));
    const auto& out = t.at("output.weight");
    EXPECT_EQ(out.target_type, T::BF16);
    EXPECT_FALSE(out.quantize);
    EXPECT_EQ(out.reason, "not quantizable: --leave-output-tensor");
    EXPECT_EQ(t.at("token_embd.weight").target_type, T::Q4_K);
    // It also beats --output-tensor-type.
    o.output_tensor_type = T::Q8_0;
    EXPECT_EQ(by_name(plan::make_plan(test::tinyllama(), o)).at("output.weight").target_type, T::BF16);
}

TEST(LeaveOutputTensor, TiedEmbeddingStillFollowsTheOutputRule) {
    auto o = options_for("Q4_K_M");
    o.leave_output_tensor = true;
    const auto t = by_name(plan::make_plan(test::tinyqwen(), o));
    EXPECT_EQ(t.at("token_embd.weight").target_type, T::Q6_K);
}

TEST(OutputTensorType, AppliesEvenToUnquantizedPresetsWithoutFallback) {
    auto o = options_for("F16");
    o.output_tensor_type = T::Q8_0;
    auto t = by_name(plan::make_plan(test::tinyllama(), o));
    EXPECT_EQ(t.at("output.weight").target_type, T::Q8_0);
    EXPECT_EQ(t.at("output.weight").reason, "--output-tensor-type q8_0");
    EXPECT_EQ(t.at("token_embd.weight").target_type, T::F16);

    auto q = options_for("Q4_0");
    q.output_tensor_type = T::Q4_K;  // 320 is not a multiple of 256 and there is no fallback
    try {
        plan::make_plan(test::synthetic(320, 864, 2), q);
        FAIL() << "no error";
    } catch (const Failure& f) {
        EXPECT_EQ(f.error().code, ExitCode::Usage);
        EXPECT_NE(f.error().message.find("output.weight"), std::string::npos);
    }
}

TEST(OutputTensorType, TiedEmbeddingGetsItThroughTheOutputRuleOnly) {
    auto o = options_for("Q4_K_M");
    o.output_tensor_type = T::Q8_0;
    auto t = by_name(plan::make_plan(test::tinyqwen(), o));
    EXPECT_EQ(t.at("token_embd.weight").target_type, T::Q8_0);
    EXPECT_NE(t.at("token_embd.weight").reason.find("--output-tensor-type q8_0"), std::string::npos);

    o.pure = true;  // no rules, so no output rule
    EXPECT_EQ(by_name(plan::make_plan(test::tinyqwen(), o)).at("token_embd.weight").target_type, T::Q4_K);

    auto f16 = options_for("F16");
    f16.output_tensor_type = T::Q8_0;
    EXPECT_EQ(by_name(plan::make_plan(test::tinyqwen(), f16)).at("token_embd.weight").target_type, T::F16);

    // Through the rules the shape fallback applies (Q4_K → Q5_0 for rows of 320).
    auto fb = options_for("Q4_K_M");
    fb.output_tensor_type = T::Q4_K;
    const auto p = plan::make_plan(test::synthetic(320, 864, 2, /*tied=*/true), fb);
    const auto emb = by_name(p).at("token_embd.weight");
    EXPECT_EQ(emb.target_type, T::Q5_0);
    EXPECT_TRUE(emb.fallback);
}

TEST(TokenEmbeddingType, BeatsRulesTiedLogicAndUnquantizedPresets) {
    auto o = options_for("Q4_K_M");
    o.token_embedding_type = T::Q8_0;
    EXPECT_EQ(by_name(plan::make_plan(test::tinyllama(), o)).at("token_embd.weight").target_type, T::Q8_0);
    const auto tied = by_name(plan::make_plan(test::tinyqwen(), o)).at("token_embd.weight");
    EXPECT_EQ(tied.target_type, T::Q8_0);
    EXPECT_EQ(tied.reason, "--token-embedding-type q8_0");

    auto f16 = options_for("BF16");
    f16.token_embedding_type = T::Q6_K;
    EXPECT_EQ(by_name(plan::make_plan(test::tinyllama(), f16)).at("token_embd.weight").target_type, T::Q6_K);

    auto bad = options_for("Q8_0");
    bad.token_embedding_type = T::Q6_K;  // rows of 320: no fallback for explicit types
    EXPECT_EQ(code_of(test::synthetic(320, 864, 2), bad), ExitCode::Usage);
}

TEST(TokenEmbeddingType, PerLayerEmbeddingYieldsToAMatchingTensorType) {
    auto model = test::tinyllama();
    model.tensors.push_back(test::make_tensor("per_layer_token_embd.weight", {256, 2048}, T::BF16));
    auto o = options_for("Q4_K_M");
    o.token_embedding_type = T::Q8_0;
    auto t = by_name(plan::make_plan(model, o));
    EXPECT_EQ(t.at("per_layer_token_embd.weight").target_type, T::Q8_0);
    o.tensor_types = {{"per_layer", T::Q5_0}};
    t = by_name(plan::make_plan(model, o));
    EXPECT_EQ(t.at("per_layer_token_embd.weight").target_type, T::Q5_0);
    EXPECT_EQ(t.at("token_embd.weight").target_type, T::Q8_0);
}

TEST(NotQuantizable, RoutersConvolutionsAndPositionTablesKeepTheirType) {
    auto model = test::tinyllama();
    model.tensors.push_back(test::make_tensor("blk.0.ffn_gate_inp.weight", {256, 8}, T::F32));
    model.tensors.push_back(test::make_tensor("position_embd.weight", {256, 1024}, T::F32));
    model.tensors.push_back(test::make_tensor("blk.0.ssm_conv1d.weight", {4, 256}, T::F32));
    model.tensors.push_back(test::make_tensor("rope_freqs.weight", {32}, T::F32));
    model.tensors.push_back(test::make_tensor("blk.0.flat.weight", {256, 1, 1}, T::F32));
    const auto t = by_name(plan::make_plan(model, options_for("Q4_K_M")));
    EXPECT_EQ(t.at("blk.0.ffn_gate_inp.weight").reason, "not quantizable: ffn_gate_inp.weight");
    EXPECT_EQ(t.at("position_embd.weight").reason, "not quantizable: position embedding");
    EXPECT_EQ(t.at("blk.0.ssm_conv1d.weight").reason, "not quantizable: ssm_conv1d");
    EXPECT_EQ(t.at("rope_freqs.weight").reason, "not quantizable: 1-D");
    EXPECT_EQ(t.at("blk.0.flat.weight").reason,
              "not quantizable: 1-D");  // ggml ignores trailing 1s
    EXPECT_EQ(t.at("blk.0.attn_norm.weight").reason, "not quantizable: norm");
    for (const char* n : {"blk.0.ffn_gate_inp.weight", "position_embd.weight", "blk.0.ssm_conv1d.weight"}) {
        EXPECT_EQ(t.at(n).target_type, T::F32);
        EXPECT_FALSE(t.at(n).quantize);
    }
    const auto qwen = by_name(plan::make_plan(test::tinyqwen(), options_for("Q4_K_M")));
    EXPECT_EQ(qwen.at("blk.0.attn_q.bias").reason, "not quantizable: not a weight");
}

}  // namespace
}  // namespace llmq
