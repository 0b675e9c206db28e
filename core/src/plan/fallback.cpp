// Shape fallback: a type whose block does not divide the row length is replaced
// (llama.cpp 80fb11ac table, reference §5.4).
#include "llmq/error.hpp"
#include "plan/internal.hpp"

namespace llmq::plan::detail {
namespace {

using T = GgmlType;

// The first replacement for a type that does not fit; nullopt: no replacement exists.
std::optional<GgmlType> replacement(GgmlType chosen) {
    switch (chosen) {
        case T::IQ1_S:
        case T::IQ1_M:
        case T::IQ2_XXS:
        case T::IQ2_XS:
        case T::IQ2_S:
        case T::IQ3_XXS:
        case T::IQ3_S:
        case T::IQ4_XS:
            return T::IQ4_NL;
        case T::Q2_K:
        case T::Q3_K:
        case T::TQ1_0:
        case T::TQ2_0:
        case T::Q2_0:
            return T::Q4_0;
        case T::Q4_K:
            return T::Q5_0;
        case T::Q5_K:
            return T::Q5_1;
        case T::Q6_K:
            return T::Q8_0;
        default:
            break;
    }
    // 32-element (or smaller) blocks have nothing smaller to go to: kept here, F16 below.
    if (traits(chosen).block_size <= 32) return chosen;
    return std::nullopt;
}

}  // namespace

std::optional<Fallback> shape_fallback(GgmlType chosen, int64_t ne0, std::string_view tensor_name, std::string_view model_path) {
    const int64_t block = traits(chosen).block_size;
    if (ne0 % block == 0) return std::nullopt;
    const auto next = replacement(chosen);
    if (!next) {
        fail(ExitCode::Unsupported,
             std::string(model_path) + ": tensor " + std::string(tensor_name) + " has rows of " + std::to_string(ne0) +
                 " elements, not a multiple of the " + display_name(chosen) + " block size " + std::to_string(block) + ", and " +
                 display_name(chosen) + " has no fallback type",
             "choose another type for it with --tensor-type");
    }
    std::string reason = "fallback: " + std::to_string(ne0) + " not a multiple of " + std::to_string(block);
    GgmlType type = *next;
    if (type != chosen) reason += " → " + display_name(type);
    const int64_t next_block = traits(type).block_size;
    if (ne0 % next_block != 0) {
        if (type != chosen) reason += ", not a multiple of " + std::to_string(next_block);
        type = T::F16;
        reason += " → F16";
    }
    return Fallback{type, std::move(reason)};
}

}  // namespace llmq::plan::detail
