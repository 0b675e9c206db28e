// Errors of the preliminary pass: the imatrix requirement (reference §5.5, llama.cpp 80fb11ac)
// and requantization of already quantized inputs (§5.1 --allow-requantize).
#include <gtest/gtest.h>

#include "llmq/error.hpp"
#include "plan/plan_models.hpp"

namespace llmq {
namespace {

using T = GgmlType;
using test::by_name;
using test::options_for;

Error error_of(const ModelView& model, const plan::PlanOptions& o) {
    try {
        plan::make_plan(model, o);
    } catch (const Failure& f) {
        return f.error();
    }
    return Error{ExitCode::Success, "", ""};
}

TEST(ImatrixRequirement, IQ3XXSAndIQ1SWithoutImatrixNameTheFirstTensor) {
    const std::pair<const char*, const char*> cases[] = {{"IQ3_XXS", "IQ2_S"}, {"IQ1_S", "IQ1_S"}};
    for (const auto& model : {test::tinyllama(), test::tinyqwen()}) {
        for (const auto& [preset, type] : cases) {
            SCOPED_TRACE(std::string(preset) + " on " + model.path);
            const Error e = error_of(model, options_for(preset));
            EXPECT_EQ(e.code, ExitCode::Imatrix);
            EXPECT_NE(e.message.find("blk.0.attn_k.weight"), std::string::npos) << e.message;
            EXPECT_NE(e.message.find(std::string("type ") + type), std::string::npos) << e.message;
            EXPECT_NE(e.message.find(model.path), std::string::npos) << e.message;
            EXPECT_EQ(e.suggestion, "run `llmq analyze " + model.path + " -o model.imatrix` and pass --imatrix");
        }
    }
}

TEST(ImatrixRequirement, EveryLowBitIQuantPresetNeedsIt) {
    for (const char* preset : {"IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ3_XXS", "IQ3_XS", "Q2_K_S"}) {
        EXPECT_EQ(error_of(test::tinyllama(), options_for(preset)).code, ExitCode::Imatrix) << preset;
        EXPECT_NO_THROW(plan::make_plan(test::tinyllama(), options_for(preset, true))) << preset;
    }
    for (const char* preset : {"Q2_K", "IQ3_S", "IQ3_M", "IQ4_XS", "IQ4_NL", "TQ1_0", "Q4_K_M", "Q1_0"})
        EXPECT_EQ(error_of(test::tinyllama(), options_for(preset)).code, ExitCode::Success) << preset;
}

TEST(ImatrixRequirement, Q2KSNeedsItForQ2KTensorsExceptEmbeddingAndOutput) {
    const Error e = error_of(test::tinyllama(), options_for("Q2_K_S"));
    EXPECT_NE(e.message.find("blk.0.attn_k.weight"), std::string::npos) << e.message;
    EXPECT_NE(e.message.find("Q2_K"), std::string::npos) << e.message;

    const auto p = plan::make_plan(test::tinyllama(), options_for("Q2_K_S", true));
    for (const auto& t : p.tensors) {
        SCOPED_TRACE(t.name);
        const bool exempt = t.name == "token_embd.weight" || t.name == "output.weight";
        EXPECT_EQ(t.needs_imatrix, t.quantize && t.target_type == T::Q2_K && !exempt);
    }
    const auto t = by_name(p);
    EXPECT_EQ(t.at("token_embd.weight").target_type, T::Q2_K);
    EXPECT_FALSE(t.at("token_embd.weight").needs_imatrix);
    EXPECT_TRUE(t.at("blk.3.ffn_up.weight").needs_imatrix);

    // Under plain Q2_K the same type needs nothing.
    for (const auto& tp : plan::make_plan(test::tinyllama(), options_for("Q2_K")).tensors) EXPECT_FALSE(tp.needs_imatrix) << tp.name;
}

TEST(ImatrixRequirement, FlagsFollowTheFinalType) {
    const auto t = by_name(plan::make_plan(test::tinyllama(), options_for("IQ1_S", true)));
    EXPECT_FALSE(t.at("token_embd.weight").needs_imatrix);        // Q2_K, not under Q2_K_S
    EXPECT_FALSE(t.at("output.weight").needs_imatrix);            // Q5_K
    EXPECT_FALSE(t.at("blk.0.attn_v.weight").needs_imatrix);      // Q2_K
    EXPECT_TRUE(t.at("blk.0.attn_output.weight").needs_imatrix);  // IQ2_XXS
    EXPECT_TRUE(t.at("blk.0.ffn_down.weight").needs_imatrix);     // IQ1_S
    EXPECT_FALSE(t.at("blk.0.attn_norm.weight").needs_imatrix);   // not quantizable

    // An embedding forced to an i-quant stays exempt; a block tensor does not.
    auto o = options_for("Q4_K_M");
    o.token_embedding_type = T::IQ2_XXS;
    EXPECT_EQ(error_of(test::tinyllama(), o).code, ExitCode::Success);
    o.tensor_types = {{"blk\\.4\\.ffn_up", T::IQ2_XS}};
    const Error e = error_of(test::tinyllama(), o);
    EXPECT_EQ(e.code, ExitCode::Imatrix);
    EXPECT_NE(e.message.find("blk.4.ffn_up.weight"), std::string::npos) << e.message;
}

TEST(Requantize, QuantizedInputIsAUsageErrorWithoutAllowRequantize) {
    const auto model = test::tinyllama(T::Q8_0);
    const Error e = error_of(model, options_for("Q4_K_M"));
    EXPECT_EQ(e.code, ExitCode::Usage);
    EXPECT_NE(e.message.find("q8_0"), std::string::npos) << e.message;
    EXPECT_NE(e.message.find("output.weight"), std::string::npos) << e.message;  // first in output order
    EXPECT_NE(e.suggestion.find("--allow-requantize"), std::string::npos);
}

TEST(Requantize, AllowedWithOneWarningPerSourceType) {
    auto model = test::tinyllama(T::Q8_0);
    model.tensors[0].type = T::Q4_K;  // token_embd
    auto o = options_for("Q4_K_M");
    o.allow_requantize = true;
    const auto p = plan::make_plan(model, o);
    EXPECT_EQ(p.warnings, (std::vector<std::string>{"input already quantized (q8_0): requantizing through f32 loses quality"}));
    const auto t = by_name(p);
    EXPECT_TRUE(t.at("blk.0.attn_q.weight").quantize);
    EXPECT_EQ(t.at("blk.0.attn_q.weight").source_type, T::Q8_0);
    // token_embd is already Q4_K, the preset's choice: copied, no warning for q4_K.
    EXPECT_FALSE(t.at("token_embd.weight").quantize);
    EXPECT_EQ(t.at("token_embd.weight").reason, "preset Q4_K_M: default Q4_K; already Q4_K, copied");
}

TEST(Requantize, SameTypeIsACopyAndNeedsNoPermission) {
    const auto p = plan::make_plan(test::tinyllama(T::Q8_0), options_for("Q8_0"));
    for (const auto& t : p.tensors) {
        EXPECT_FALSE(t.quantize) << t.name;
        EXPECT_EQ(t.target_type, t.source_type) << t.name;
    }
    EXPECT_TRUE(p.warnings.empty());
}

TEST(Requantize, MissingImatrixIsReportedFirst) {
    EXPECT_EQ(error_of(test::tinyllama(T::Q8_0), options_for("IQ2_XXS")).code, ExitCode::Imatrix);
}

TEST(Requantize, IntegerWeightsCannotBeConverted) {
    auto model = test::tinyllama();
    model.tensors.push_back(test::make_tensor("blk.0.ids.weight", {256, 4}, T::I32));
    EXPECT_EQ(error_of(model, options_for("Q4_K_M")).code, ExitCode::Unsupported);
}

}  // namespace
}  // namespace llmq
