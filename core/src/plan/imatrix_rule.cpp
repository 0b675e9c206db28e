// Which tensors need an importance matrix (llama.cpp 80fb11ac, reference §5.5). Judged on the
// final type, after the shape fallback.
#include "plan/internal.hpp"

namespace llmq::plan::detail {

bool requires_imatrix(std::string_view name, GgmlType type, uint32_t preset_ftype) {
    // Embeddings and the output are always exempt.
    if (name == "token_embd.weight" || name == "per_layer_token_embd.weight" || name == "output.weight") return false;
    switch (type) {
        case GgmlType::IQ3_XXS:
        case GgmlType::IQ2_XXS:
        case GgmlType::IQ2_XS:
        case GgmlType::IQ2_S:
        case GgmlType::IQ1_M:
        case GgmlType::IQ1_S:
            return true;
        case GgmlType::Q2_K:
            return preset_ftype == ftype::Q2_K_S;
        default:
            return false;
    }
}

}  // namespace llmq::plan::detail
