// The quantization plan: which ggml type every tensor of a model gets, and why.
// Reproduces llama-quantize (llama.cpp 80fb11ac): presets (llama_ftype), the per-tensor mixture
// rules, user overrides, shape fallbacks and the imatrix requirement
// (reference/ggml-formats.md §5.1–§5.5).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llmq/format/model.hpp"
#include "llmq/quant/types.hpp"

namespace llmq::plan {

// llama_ftype ids (llama.h), the value written to general.file_type.
namespace ftype {
inline constexpr uint32_t F32 = 0;
inline constexpr uint32_t F16 = 1;
inline constexpr uint32_t Q4_0 = 2;
inline constexpr uint32_t Q4_1 = 3;
inline constexpr uint32_t Q8_0 = 7;
inline constexpr uint32_t Q5_0 = 8;
inline constexpr uint32_t Q5_1 = 9;
inline constexpr uint32_t Q2_K = 10;
inline constexpr uint32_t Q3_K_S = 11;
inline constexpr uint32_t Q3_K_M = 12;
inline constexpr uint32_t Q3_K_L = 13;
inline constexpr uint32_t Q4_K_S = 14;
inline constexpr uint32_t Q4_K_M = 15;
inline constexpr uint32_t Q5_K_S = 16;
inline constexpr uint32_t Q5_K_M = 17;
inline constexpr uint32_t Q6_K = 18;
inline constexpr uint32_t IQ2_XXS = 19;
inline constexpr uint32_t IQ2_XS = 20;
inline constexpr uint32_t Q2_K_S = 21;
inline constexpr uint32_t IQ3_XS = 22;
inline constexpr uint32_t IQ3_XXS = 23;
inline constexpr uint32_t IQ1_S = 24;
inline constexpr uint32_t IQ4_NL = 25;
inline constexpr uint32_t IQ3_S = 26;
inline constexpr uint32_t IQ3_M = 27;
inline constexpr uint32_t IQ2_S = 28;
inline constexpr uint32_t IQ2_M = 29;
inline constexpr uint32_t IQ4_XS = 30;
inline constexpr uint32_t IQ1_M = 31;
inline constexpr uint32_t BF16 = 32;
inline constexpr uint32_t TQ1_0 = 36;
inline constexpr uint32_t TQ2_0 = 37;
inline constexpr uint32_t MXFP4_MOE = 38;
inline constexpr uint32_t Q1_0 = 40;
inline constexpr uint32_t Q2_0 = 41;
}  // namespace ftype

struct Preset {
    std::string_view name;         // canonical upper-case name, e.g. "Q4_K_M"
    uint32_t ftype;                // llama_ftype id
    GgmlType default_type;         // type of every tensor no rule singles out
    std::string_view description;  // one line for help texts
};

// Every preset, in llama-quantize's help order (aliases not repeated).
std::span<const Preset> presets();
// Case-insensitive; accepts the aliases Q3_K/Q4_K/Q5_K (→ _M), TERNARY (→ TQ1_0) and a
// llama_ftype number. nullptr when unknown.
const Preset* find_preset(std::string_view name);
// "Q1_0, Q2_0, Q4_0, ..." for error messages.
std::string preset_names();

struct PlanOptions {
    const Preset* preset = nullptr;
    bool pure = false;
    bool leave_output_tensor = false;
    bool allow_requantize = false;
    std::optional<GgmlType> output_tensor_type;
    std::optional<GgmlType> token_embedding_type;
    // --tensor-type REGEX=TYPE in command-line order; the first matching pattern wins.
    std::vector<std::pair<std::string, GgmlType>> tensor_types;
    bool has_imatrix = false;  // an imatrix with at least one usable entry is supplied
    // Dynamic quantization: the type (and reason) the solver chose for each quantizable tensor,
    // by name. An assigned tensor skips the mixture rules, overrides and fallbacks (the solver
    // only offers types that fit its rows); the preset then only names general.file_type.
    std::map<std::string, std::pair<GgmlType, std::string>> assigned;
};

// What the mixture rules need to know about the model (from its metadata).
struct ModelFacts {
    std::string arch;       // general.architecture
    int64_t n_layer = 0;    // <arch>.block_count
    int64_t n_head = 0;     // <arch>.attention.head_count (layer 0 if per layer)
    int64_t n_head_kv = 0;  // <arch>.attention.head_count_kv (defaults to n_head)
    int64_t n_expert = 0;   // <arch>.expert_count
    bool is_70b = false;    // llama.cpp's "70B" model type (extra bits for attn_v)

    int64_t n_gqa() const { return n_head_kv > 0 ? n_head / n_head_kv : 0; }
};

// Throws Failure(CorruptInput) when general.architecture or <arch>.block_count is missing.
ModelFacts model_facts(const ModelView& model);

struct TensorPlan {
    std::string name;
    size_t source_index = 0;  // index of the tensor in ModelView::tensors
    GgmlType source_type = GgmlType::F32;
    GgmlType target_type = GgmlType::F32;
    bool quantize = false;       // false: the bytes are copied as they are
    bool needs_imatrix = false;  // the target type requires an importance matrix (§5.5)
    bool fallback = false;       // the row length forced a different type than the rules chose
    std::string reason;          // short, human-readable
};

struct QuantPlan {
    uint32_t ftype = 0;
    std::vector<TensorPlan> tensors;  // in output order
    int n_fallback = 0;
    std::vector<std::string> warnings;
};

// Decides every tensor's type. Throws Failure: Usage (no/unknown preset, bad --tensor-type
// pattern or type, override incompatible with a row length, quantized input without
// allow_requantize), Imatrix (a tensor needs an imatrix and none is supplied), Unsupported (a
// row length no type can hold), CorruptInput (metadata missing).
QuantPlan make_plan(const ModelView& model, const PlanOptions& options);

// Upper-case display name of a type ("Q4_K", "IQ2_XXS", "BF16").
std::string display_name(GgmlType type);

}  // namespace llmq::plan
