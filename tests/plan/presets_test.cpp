// Presets: llama_ftype ids and default types (reference §5.2), lookup rules, unquantized presets.
#include <gtest/gtest.h>

#include "llmq/error.hpp"
#include "plan/plan_models.hpp"

namespace llmq {
namespace {

using T = GgmlType;

struct Expected {
    const char* name;
    uint32_t ftype;
    T type;
};

TEST(Presets, EveryPresetHasTheReferenceFtypeAndDefaultType) {
    const Expected expected[] = {
        {"F32", 0, T::F32},          {"F16", 1, T::F16},          {"Q4_0", 2, T::Q4_0},        {"Q4_1", 3, T::Q4_1},    {"Q8_0", 7, T::Q8_0},
        {"Q5_0", 8, T::Q5_0},        {"Q5_1", 9, T::Q5_1},        {"Q2_K", 10, T::Q2_K},       {"Q3_K_S", 11, T::Q3_K}, {"Q3_K_M", 12, T::Q3_K},
        {"Q3_K_L", 13, T::Q3_K},     {"Q4_K_S", 14, T::Q4_K},     {"Q4_K_M", 15, T::Q4_K},     {"Q5_K_S", 16, T::Q5_K}, {"Q5_K_M", 17, T::Q5_K},
        {"Q6_K", 18, T::Q6_K},       {"IQ2_XXS", 19, T::IQ2_XXS}, {"IQ2_XS", 20, T::IQ2_XS},   {"Q2_K_S", 21, T::Q2_K}, {"IQ3_XS", 22, T::IQ3_S},
        {"IQ3_XXS", 23, T::IQ3_XXS}, {"IQ1_S", 24, T::IQ1_S},     {"IQ4_NL", 25, T::IQ4_NL},   {"IQ3_S", 26, T::IQ3_S}, {"IQ3_M", 27, T::IQ3_S},
        {"IQ2_S", 28, T::IQ2_XS},    {"IQ2_M", 29, T::IQ2_S},     {"IQ4_XS", 30, T::IQ4_XS},   {"IQ1_M", 31, T::IQ1_M}, {"BF16", 32, T::BF16},
        {"TQ1_0", 36, T::TQ1_0},     {"TQ2_0", 37, T::TQ2_0},     {"MXFP4_MOE", 38, T::MXFP4}, {"Q1_0", 40, T::Q1_0},   {"Q2_0", 41, T::Q2_0},
    };
    EXPECT_EQ(plan::presets().size(), std::size(expected));
    for (const auto& e : expected) {
        const plan::Preset* p = plan::find_preset(e.name);
        ASSERT_NE(p, nullptr) << e.name;
        EXPECT_EQ(p->name, e.name);
        EXPECT_EQ(p->ftype, e.ftype) << e.name;
        EXPECT_EQ(p->default_type, e.type) << e.name;
        EXPECT_FALSE(p->description.empty()) << e.name;
    }
}

TEST(Presets, HelpOrderStartsWithQ1_0AndEndsWithF32) {
    const auto all = plan::presets();
    EXPECT_EQ(all.front().name, "Q1_0");
    EXPECT_EQ(all[4].name, "MXFP4_MOE");
    EXPECT_EQ(all.back().name, "F32");
}

TEST(Presets, LookupIsCaseInsensitiveWithAliasesTernaryAndNumbers) {
    EXPECT_EQ(plan::find_preset("q4_k_m"), plan::find_preset("Q4_K_M"));
    EXPECT_EQ(plan::find_preset("Iq2_Xxs")->ftype, 19u);
    EXPECT_EQ(plan::find_preset("Q3_K")->name, "Q3_K_M");
    EXPECT_EQ(plan::find_preset("q4_k")->name, "Q4_K_M");
    EXPECT_EQ(plan::find_preset("Q5_K")->name, "Q5_K_M");
    EXPECT_EQ(plan::find_preset("TERNARY")->name, "TQ1_0");
    EXPECT_EQ(plan::find_preset("ternary")->default_type, T::TQ1_0);
    EXPECT_EQ(plan::find_preset("15")->name, "Q4_K_M");
    EXPECT_EQ(plan::find_preset("0")->name, "F32");
    EXPECT_EQ(plan::find_preset("Q4_K_X"), nullptr);
    EXPECT_EQ(plan::find_preset("NVFP4"), nullptr);  // no preset as of llama.cpp 80fb11ac
    EXPECT_EQ(plan::find_preset("39"), nullptr);
    EXPECT_EQ(plan::find_preset("COPY"), nullptr);
    EXPECT_EQ(plan::find_preset(""), nullptr);
    EXPECT_EQ(plan::find_preset("15x"), nullptr);
}

TEST(Presets, MissingPresetIsAUsageErrorListingThePresets) {
    plan::PlanOptions o;
    try {
        plan::make_plan(test::tinyllama(), o);
        FAIL() << "no error";
    } catch (const Failure& f) {
        EXPECT_EQ(f.error().code, ExitCode::Usage);
        EXPECT_NE(f.error().suggestion.find("Q4_K_M"), std::string::npos);
        EXPECT_NE(f.error().suggestion.find("TERNARY"), std::string::npos);
    }
}

TEST(Presets, UnquantizedPresetsConvertEveryWeightAndKeepNorms) {
    for (const auto& [name, type] : {std::pair{"F16", T::F16}, std::pair{"BF16", T::BF16}, std::pair{"F32", T::F32}}) {
        const auto p = plan::make_plan(test::tinyllama(), test::options_for(name));
        for (const auto& t : p.tensors) {
            SCOPED_TRACE(std::string(name) + " " + t.name);
            if (t.name.ends_with("_norm.weight")) {
                EXPECT_EQ(t.target_type, T::F32);
                continue;
            }
            EXPECT_EQ(t.target_type, type);
            // BF16 → BF16 is a plain copy.
            EXPECT_EQ(t.quantize, type != T::BF16);
        }
        EXPECT_EQ(p.ftype, plan::find_preset(name)->ftype);
    }
}

TEST(Presets, TiedEmbeddingWithUnquantizedPresetStaysAtThePresetType) {
    const auto p = test::by_name(plan::make_plan(test::tinyqwen(), test::options_for("F16")));
    EXPECT_EQ(p.at("token_embd.weight").target_type, T::F16);
}

TEST(Presets, DisplayNamesAreUpperCase) {
    EXPECT_EQ(plan::display_name(T::Q4_K), "Q4_K");
    EXPECT_EQ(plan::display_name(T::IQ2_XXS), "IQ2_XXS");
    EXPECT_EQ(plan::display_name(T::BF16), "BF16");
}

}  // namespace
}  // namespace llmq
