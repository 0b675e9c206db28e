// The llama-quantize presets: name, llama_ftype id, default type (reference §5.2) and the
// case-insensitive lookup with aliases.
#include <algorithm>
#include <cctype>
#include <charconv>

#include "llmq/plan/plan.hpp"

namespace llmq::plan {
namespace {

using T = GgmlType;

// Help-text order of llama-quantize; descriptions give the whole-file bpw measured on
// Llama-3.1-8B where the reference lists one.
constexpr Preset kPresets[] = {
    {"Q1_0", ftype::Q1_0, T::Q1_0, "1.125 bpw, 1-bit blocks of 128 (output Q6_K)"},
    {"Q2_0", ftype::Q2_0, T::Q2_0, "2.25 bpw, 2-bit blocks of 64 (token_embd Q4_K, output Q6_K)"},
    {"Q4_0", ftype::Q4_0, T::Q4_0, "4.5 bpw legacy 32-blocks (output Q6_K)"},
    {"Q4_1", ftype::Q4_1, T::Q4_1, "5.0 bpw legacy 32-blocks with offset (output Q6_K)"},
    {"MXFP4_MOE", ftype::MXFP4_MOE, T::MXFP4, "MXFP4 for merged expert tensors, Q8_0 for the rest"},
    {"Q5_0", ftype::Q5_0, T::Q5_0, "5.5 bpw legacy 32-blocks (output Q6_K)"},
    {"Q5_1", ftype::Q5_1, T::Q5_1, "6.0 bpw legacy 32-blocks with offset (output Q6_K)"},
    {"IQ2_XXS", ftype::IQ2_XXS, T::IQ2_XXS, "2.38 bpw mix, needs an imatrix"},
    {"IQ2_XS", ftype::IQ2_XS, T::IQ2_XS, "2.59 bpw mix, needs an imatrix"},
    {"IQ2_S", ftype::IQ2_S, T::IQ2_XS, "2.74 bpw mix, needs an imatrix"},
    {"IQ2_M", ftype::IQ2_M, T::IQ2_S, "2.93 bpw mix, needs an imatrix"},
    {"IQ1_S", ftype::IQ1_S, T::IQ1_S, "2.00 bpw mix, needs an imatrix"},
    {"IQ1_M", ftype::IQ1_M, T::IQ1_M, "2.15 bpw mix, needs an imatrix"},
    {"TQ1_0", ftype::TQ1_0, T::TQ1_0, "1.69 bpw ternary (for ternary-trained models)"},
    {"TQ2_0", ftype::TQ2_0, T::TQ2_0, "2.06 bpw ternary (for ternary-trained models)"},
    {"Q2_K", ftype::Q2_K, T::Q2_K, "3.16 bpw mix: Q2_K, attn_v/attn_output/ffn_down Q3_K"},
    {"Q2_K_S", ftype::Q2_K_S, T::Q2_K, "2.97 bpw mix: mostly Q2_K, needs an imatrix"},
    {"IQ3_XXS", ftype::IQ3_XXS, T::IQ3_XXS, "3.25 bpw mix, needs an imatrix"},
    {"IQ3_S", ftype::IQ3_S, T::IQ3_S, "3.66 bpw"},
    {"IQ3_M", ftype::IQ3_M, T::IQ3_S, "3.76 bpw mix: IQ3_S, attn_v/attn_output Q4_K"},
    {"IQ3_XS", ftype::IQ3_XS, T::IQ3_S, "3.50 bpw mix of IQ3_S and IQ3_XXS"},
    {"Q3_K_S", ftype::Q3_K_S, T::Q3_K, "3.64 bpw, Q3_K almost everywhere"},
    {"Q3_K_M", ftype::Q3_K_M, T::Q3_K, "3.91 bpw mix: Q3_K, attn_v Q5_K/Q4_K, attn_output/ffn_down Q4_K"},
    {"Q3_K_L", ftype::Q3_K_L, T::Q3_K, "4.30 bpw mix: Q3_K, attn_v/attn_output/ffn_down Q5_K"},
    {"IQ4_NL", ftype::IQ4_NL, T::IQ4_NL, "4.68 bpw, non-linear 32-blocks"},
    {"IQ4_XS", ftype::IQ4_XS, T::IQ4_XS, "4.46 bpw, non-linear 256-blocks"},
    {"Q4_K_S", ftype::Q4_K_S, T::Q4_K, "4.67 bpw mix: Q4_K, first 4 attn_v and first eighth of ffn_down Q5_K"},
    {"Q4_K_M", ftype::Q4_K_M, T::Q4_K, "4.89 bpw mix: Q4_K, half of attn_v/ffn_down Q6_K (recommended)"},
    {"Q5_K_S", ftype::Q5_K_S, T::Q5_K, "5.57 bpw, Q5_K almost everywhere"},
    {"Q5_K_M", ftype::Q5_K_M, T::Q5_K, "5.70 bpw mix: Q5_K, half of attn_v/ffn_down Q6_K"},
    {"Q6_K", ftype::Q6_K, T::Q6_K, "6.56 bpw, Q6_K everywhere"},
    {"Q8_0", ftype::Q8_0, T::Q8_0, "8.50 bpw, almost lossless"},
    {"F16", ftype::F16, T::F16, "16 bpw half precision, no quantization"},
    {"BF16", ftype::BF16, T::BF16, "16 bpw bfloat16, no quantization"},
    {"F32", ftype::F32, T::F32, "32 bpw, no quantization"},
};

struct Alias {
    std::string_view alias;
    std::string_view target;
};
constexpr Alias kAliases[] = {{"Q3_K", "Q3_K_M"}, {"Q4_K", "Q4_K_M"}, {"Q5_K", "Q5_K_M"}, {"TERNARY", "TQ1_0"}};

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::toupper(static_cast<unsigned char>(x)) == std::toupper(static_cast<unsigned char>(y));
           });
}

const Preset* by_name(std::string_view name) {
    for (const auto& p : kPresets)
        if (iequals(p.name, name)) return &p;
    return nullptr;
}

}  // namespace

std::span<const Preset> presets() {
    return kPresets;
}

const Preset* find_preset(std::string_view name) {
    if (const Preset* p = by_name(name)) return p;
    for (const auto& a : kAliases)
        if (iequals(a.alias, name)) return by_name(a.target);
    // llama-quantize also takes the llama_ftype number.
    uint32_t id = 0;
    const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), id);
    if (ec == std::errc{} && end == name.data() + name.size() && !name.empty()) {
        for (const auto& p : kPresets)
            if (p.ftype == id) return &p;
    }
    return nullptr;
}

std::string preset_names() {
    std::string out;
    for (const auto& p : kPresets) {
        if (!out.empty()) out += ", ";
        out += p.name;
    }
    return out + " (aliases Q3_K, Q4_K, Q5_K, TERNARY)";
}

std::string display_name(GgmlType type) {
    std::string name(type_name(type));
    for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return name;
}

}  // namespace llmq::plan
