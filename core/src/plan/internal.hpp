// Building blocks of make_plan, shared by core/src/plan/*.cpp and the plan tests.
#pragma once

#include <cstdint>
#include <optional>
#include <regex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llmq/plan/plan.hpp"

namespace llmq::plan::detail {

// Tensor categories of the mixture rules (reference §5.4), tested in this order.
enum class Category {
    Output,      // exactly output.weight
    TokenEmbd,   // exactly token_embd.weight or per_layer_token_embd.weight
    AttnQkv,     // *attn_qkv.weight*
    AttnKvB,     // *attn_kv_b.weight*
    AttnV,       // *attn_v.weight*
    AttnK,       // *attn_k.weight*
    AttnQ,       // *attn_q.weight*
    AttnOutput,  // *attn_output.weight*
    FfnUp,       // *ffn_up*
    FfnGate,     // *ffn_gate*
    FfnDown,     // *ffn_down*
    Other,
};

Category categorize(std::string_view name);
// attn_v, attn_qkv and attn_kv_b share one counter and one rule.
inline bool is_attn_v_like(Category c) {
    return c == Category::AttnV || c == Category::AttnQkv || c == Category::AttnKvB;
}
std::string_view category_label(Category c);  // "attn_v", "ffn_down", ...

// Why llama-quantize leaves a tensor as it is (§5.3), or nullopt when it is quantizable.
std::optional<std::string> not_quantizable_reason(const ModelTensor& tensor, bool leave_output_tensor);

// N of a "blk.N." name prefix, or nullopt.
std::optional<int64_t> block_index(std::string_view name);

// Indices into tensors in llama.cpp's processing (= output) order: non-block tensors first by
// byte-wise name, then blk.0, blk.1, ... by number, by name within a block.
std::vector<size_t> processing_order(std::span<const ModelTensor> tensors);

// i < n/8, or i >= 7n/8, or every third layer in between (integer division).
bool use_more_bits(int64_t i, int64_t n);

// Positional counters of the rules. Only tensors typed by the rules advance them.
struct Counters {
    int64_t n_attention_wv = 0, i_attention_wv = 0;
    int64_t n_ffn_down = 0, i_ffn_down = 0;
    int64_t n_ffn_gate = 0, i_ffn_gate = 0;
    int64_t n_ffn_up = 0, i_ffn_up = 0;
};

struct RuleContext {
    const Preset& preset;
    const ModelFacts& facts;
    bool tied = false;  // no output.weight: token_embd takes the output rule
    bool has_imatrix = false;
    std::optional<GgmlType> output_tensor_type;
    std::string_view model_path;  // for error messages
};

struct Choice {
    GgmlType type;
    std::string reason;
};

// The mixture rules of one preset for one quantizable tensor (step 5 of §5.4 without overrides).
Choice mixture_type(const RuleContext& ctx, Counters& counters, const ModelTensor& tensor, Category category);

struct Fallback {
    GgmlType type;
    std::string reason;  // "fallback: 320 not a multiple of 256 → Q5_0"
};

// The shape fallback for a row length ne0 (80fb11ac table), or nullopt when `chosen` fits.
// Throws Failure(Unsupported) for types without a fallback (NVFP4, Q1_0, ...).
std::optional<Fallback> shape_fallback(GgmlType chosen, int64_t ne0, std::string_view tensor_name, std::string_view model_path);

// Whether a quantizable tensor with this final type needs an importance matrix (§5.5,
// llama.cpp 80fb11ac): IQ1_S/IQ1_M/IQ2_XXS/IQ2_XS/IQ2_S/IQ3_XXS, or Q2_K under Q2_K_S;
// token_embd, per_layer_token_embd and output are exempt.
bool requires_imatrix(std::string_view name, GgmlType type, uint32_t preset_ftype);

// One --tensor-type item, compiled.
struct TypeOverride {
    std::string pattern;  // lower-cased, as matched
    std::regex regex;
    GgmlType type;
};

// Lower-cases and compiles the patterns (ECMAScript); Failure(Usage) for an invalid pattern or
// a type that cannot be stored in a GGUF tensor.
std::vector<TypeOverride> compile_overrides(const std::vector<std::pair<std::string, GgmlType>>& items);
// The first override whose pattern occurs anywhere in name, or nullptr.
const TypeOverride* match_override(std::span<const TypeOverride> overrides, const std::string& name);
// Failure(Usage) unless type is a float or block type a tensor can be written as.
void check_storage_type(GgmlType type, std::string_view option);

}  // namespace llmq::plan::detail
