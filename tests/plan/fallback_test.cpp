// Shape fallbacks (llama.cpp 80fb11ac table, reference §5.4) on synthetic models whose widths are
// not multiples of 256 (n_embd 320, n_ff 864) or not even of 32 (n_embd 100, n_ff 200).
#include <gtest/gtest.h>

#include "llmq/error.hpp"
#include "plan/internal.hpp"
#include "plan/plan_models.hpp"

namespace llmq {
namespace {

using T = GgmlType;

// Expected final types of one block-layer tensor kind; {2,3} = use_more_bits blocks of 4.
struct Expect {
    T output, token_embd, attn_qk, attn_v_more, attn_v_rest, attn_output, ffn_gate_up, ffn_down_more, ffn_down_rest;
    int n_fallback;
};

void check(const char* preset, const ModelView& model, const Expect& e, bool output_falls_back) {
    SCOPED_TRACE(std::string(preset) + " on " + std::to_string(model.tensors[0].ne[0]) + "-wide model");
    const auto p = plan::make_plan(model, test::options_for(preset));
    const auto t = test::by_name(p);
    auto is = [&](const std::string& name, T type) {
        EXPECT_EQ(plan::display_name(t.at(name).target_type), plan::display_name(type)) << name << ": " << t.at(name).reason;
    };
    is("output.weight", e.output);
    EXPECT_EQ(t.at("output.weight").fallback, output_falls_back) << t.at("output.weight").reason;
    is("token_embd.weight", e.token_embd);
    for (int b = 0; b < 4; ++b) {
        const std::string blk = "blk." + std::to_string(b) + ".";
        const bool more = b >= 2;
        is(blk + "attn_q.weight", e.attn_qk);
        is(blk + "attn_k.weight", e.attn_qk);
        is(blk + "attn_v.weight", more ? e.attn_v_more : e.attn_v_rest);
        is(blk + "attn_output.weight", e.attn_output);
        is(blk + "ffn_gate.weight", e.ffn_gate_up);
        is(blk + "ffn_up.weight", e.ffn_gate_up);
        is(blk + "ffn_down.weight", more ? e.ffn_down_more : e.ffn_down_rest);
    }
    EXPECT_EQ(p.n_fallback, e.n_fallback);
    int flagged = 0;
    for (const auto& tp : p.tensors) {
        flagged += tp.fallback;
        if (tp.fallback) {
            EXPECT_NE(tp.reason.find("fallback: "), std::string::npos) << tp.reason;
        }
    }
    EXPECT_EQ(flagged, p.n_fallback);
    if (p.n_fallback > 0) {
        ASSERT_FALSE(p.warnings.empty());
        EXPECT_EQ(p.warnings.back(),
                  std::to_string(p.n_fallback) + " of " + std::to_string(p.tensors.size()) + " tensor(s) required fallback quantization");
    } else {
        EXPECT_TRUE(p.warnings.empty());
    }
}

// 4 blocks: 2 + 4 * 7 quantizable tensors; the output is typed Q8_0 directly by the output
// rule (not a fallback) when the preset's block does not divide 320.
constexpr int kAllButOutput = 1 + 4 * 7;

TEST(ShapeFallback, Width320And864) {
    const auto m = test::synthetic(320, 864, 4);
    check("Q2_K", m, {T::Q8_0, T::Q4_0, T::Q4_0, T::Q4_0, T::Q4_0, T::Q4_0, T::Q4_0, T::Q4_0, T::Q4_0, kAllButOutput}, false);
    check("Q3_K_M", m, {T::Q8_0, T::Q4_0, T::Q4_0, T::Q5_0, T::Q5_1, T::Q5_0, T::Q4_0, T::Q5_0, T::Q5_0, kAllButOutput}, false);
    check("Q4_K_M", m, {T::Q8_0, T::Q5_0, T::Q5_0, T::Q8_0, T::Q5_0, T::Q5_0, T::Q5_0, T::Q8_0, T::Q5_0, kAllButOutput}, false);
    check("Q5_K_M", m, {T::Q8_0, T::Q5_1, T::Q5_1, T::Q8_0, T::Q5_1, T::Q5_1, T::Q5_1, T::Q8_0, T::Q5_1, kAllButOutput}, false);
    check("Q6_K", m, {T::Q8_0, T::Q8_0, T::Q8_0, T::Q8_0, T::Q8_0, T::Q8_0, T::Q8_0, T::Q8_0, T::Q8_0, kAllButOutput}, false);
    // 32-block presets fit; but the output rule picks Q6_K (320 is a multiple of 32), which then
    // falls back to Q8_0 and is counted.
    check("Q4_0", m, {T::Q8_0, T::Q4_0, T::Q4_0, T::Q4_0, T::Q4_0, T::Q4_0, T::Q4_0, T::Q4_0, T::Q4_0, 1}, true);
    check("Q8_0", m, {T::Q8_0, T::Q8_0, T::Q8_0, T::Q8_0, T::Q8_0, T::Q8_0, T::Q8_0, T::Q8_0, T::Q8_0, 0}, false);
}

TEST(ShapeFallback, RowsNotAMultipleOf32BecomeF16) {
    const auto m = test::synthetic(100, 200, 4);
    const Expect all_f16{T::F16, T::F16, T::F16, T::F16, T::F16, T::F16, T::F16, T::F16, T::F16, 2 + 4 * 7};
    for (const char* preset : {"Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K", "Q4_0", "Q8_0"}) check(preset, m, all_f16, true);
}

TEST(ShapeFallback, ReasonsNameTheRowLengthAndTheSteps) {
    const auto t = test::by_name(plan::make_plan(test::synthetic(320, 864, 4), test::options_for("Q4_K_M")));
    EXPECT_EQ(t.at("blk.0.ffn_down.weight").reason, "preset Q4_K_M: default Q4_K; fallback: 864 not a multiple of 256 → Q5_0");
    EXPECT_EQ(t.at("output.weight").reason, "preset Q4_K_M: output rule, 320 not a multiple of 256 → Q8_0");
    EXPECT_EQ(t.at("blk.2.attn_v.weight").reason,
              "preset Q4_K_M: use_more_bits(layer 2 of 4) for attn_v → Q6_K; fallback: 320 not a "
              "multiple of 256 → "
              "Q8_0");

    const auto small = test::by_name(plan::make_plan(test::synthetic(100, 200, 4), test::options_for("Q4_K_M")));
    EXPECT_EQ(small.at("blk.0.attn_q.weight").reason,
              "preset Q4_K_M: default Q4_K; fallback: 100 not a multiple of 256 → Q5_0, not a "
              "multiple of 32 → F16");
    EXPECT_EQ(small.at("output.weight").reason,
              "preset Q4_K_M: output rule, 100 not a multiple of 256 → Q8_0; fallback: 100 not a "
              "multiple of 32 → F16");
}

TEST(ShapeFallback, TiedEmbeddingWith32BlockPresetFallsBackFromQ6K) {
    const auto p = plan::make_plan(test::synthetic(320, 864, 4, /*tied=*/true), test::options_for("Q4_0"));
    const auto emb = test::by_name(p).at("token_embd.weight");
    EXPECT_EQ(emb.target_type, T::Q8_0);
    EXPECT_TRUE(emb.fallback);
    EXPECT_EQ(p.n_fallback, 1);
}

TEST(ShapeFallback, IQuantsFallToIQ4NLSoNoImatrixIsNeeded) {
    // Without an imatrix the IQ3_XXS preset only works when every IQ tensor fell back.
    const auto p = plan::make_plan(test::synthetic(320, 864, 4), test::options_for("IQ3_XXS"));
    const auto t = test::by_name(p);
    EXPECT_EQ(t.at("blk.0.attn_k.weight").target_type, T::IQ4_NL);    // IQ2_S
    EXPECT_EQ(t.at("blk.0.attn_v.weight").target_type, T::IQ4_NL);    // IQ3_S (no imatrix)
    EXPECT_EQ(t.at("blk.0.ffn_gate.weight").target_type, T::IQ4_NL);  // IQ3_XXS
    EXPECT_EQ(t.at("blk.0.ffn_down.weight").target_type, T::Q4_0);    // Q3_K (no imatrix)
    EXPECT_EQ(t.at("token_embd.weight").target_type, T::IQ4_NL);      // IQ3_S
    EXPECT_EQ(t.at("output.weight").target_type, T::Q8_0);            // 320 % 256: output rule
    for (const auto& tp : p.tensors) EXPECT_FALSE(tp.needs_imatrix) << tp.name;
}

TEST(ShapeFallback, TypesWithoutFallbackAreUnsupported) {
    try {
        plan::make_plan(test::synthetic(320, 864, 4), test::options_for("Q1_0"));  // 128-blocks
        FAIL() << "no error";
    } catch (const Failure& f) {
        EXPECT_EQ(f.error().code, ExitCode::Unsupported);
        EXPECT_NE(f.error().message.find("no fallback"), std::string::npos);
    }
}

TEST(ShapeFallback, TableOfTheFallbackFunction) {
    using plan::detail::shape_fallback;
    EXPECT_FALSE(shape_fallback(T::Q4_K, 512, "x", "m"));
    EXPECT_FALSE(shape_fallback(T::F16, 7, "x", "m"));
    const std::pair<T, T> table[] = {
        {T::IQ1_S, T::IQ4_NL},   {T::IQ1_M, T::IQ4_NL}, {T::IQ2_XXS, T::IQ4_NL}, {T::IQ2_XS, T::IQ4_NL}, {T::IQ2_S, T::IQ4_NL},
        {T::IQ3_XXS, T::IQ4_NL}, {T::IQ3_S, T::IQ4_NL}, {T::IQ4_XS, T::IQ4_NL},  {T::Q2_K, T::Q4_0},     {T::Q3_K, T::Q4_0},
        {T::TQ1_0, T::Q4_0},     {T::TQ2_0, T::Q4_0},   {T::Q4_K, T::Q5_0},      {T::Q5_K, T::Q5_1},     {T::Q6_K, T::Q8_0},
    };
    for (const auto& [from, to] : table) EXPECT_EQ(shape_fallback(from, 320, "x", "m")->type, to) << plan::display_name(from);
    EXPECT_EQ(shape_fallback(T::Q2_0, 96, "x", "m")->type, T::Q4_0);
    for (T small : {T::Q4_0, T::Q4_1, T::Q5_0, T::Q5_1, T::Q8_0, T::IQ4_NL, T::MXFP4})
        EXPECT_EQ(shape_fallback(small, 100, "x", "m")->type, T::F16) << plan::display_name(small);
    EXPECT_THROW(shape_fallback(T::NVFP4, 96, "x", "m"), Failure);
}

}  // namespace
}  // namespace llmq
