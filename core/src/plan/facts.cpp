// ModelFacts from GGUF metadata: the hyper-parameters the mixture rules look at.
#include "llmq/error.hpp"
#include "plan/internal.hpp"

namespace llmq::plan {
namespace {

const gguf::Value* find_key(const ModelView& model, std::string_view key) {
    for (const auto& kv : model.metadata)
        if (kv.key == key) return &kv.value;
    return nullptr;
}

// Scalar, or the first element of a per-layer array (layer 0 is what llama.cpp uses for n_gqa).
std::optional<int64_t> int_value(const gguf::Value* v) {
    if (!v) return std::nullopt;
    if (v->is_array()) return v->array_size() > 0 ? v->int_at(0) : std::nullopt;
    return v->as_int();
}

std::string describe(const ModelView& model) {
    return model.path.empty() ? std::string("model") : model.path;
}

}  // namespace

ModelFacts model_facts(const ModelView& model) {
    ModelFacts facts;
    const gguf::Value* arch = find_key(model, "general.architecture");
    if (!arch || !arch->as_string() || arch->as_string()->empty()) {
        fail(ExitCode::CorruptInput, describe(model) + ": metadata has no general.architecture", "the file is not a complete GGUF model");
    }
    facts.arch = *arch->as_string();
    const std::string prefix = facts.arch + ".";
    const auto blocks = int_value(find_key(model, prefix + "block_count"));
    if (!blocks || *blocks < 0) {
        fail(ExitCode::CorruptInput, describe(model) + ": metadata has no valid " + prefix + "block_count", "the file is not a complete GGUF model");
    }
    facts.n_layer = *blocks;
    facts.n_head = int_value(find_key(model, prefix + "attention.head_count")).value_or(0);
    // llama.cpp assumes one KV head per query head when the key is absent.
    facts.n_head_kv = int_value(find_key(model, prefix + "attention.head_count_kv")).value_or(facts.n_head);
    facts.n_expert = int_value(find_key(model, prefix + "expert_count")).value_or(0);

    // llama.cpp's "70B" model type, which gets more bits for attn_v.
    const std::string& a = facts.arch;
    if (a == "llama") {
        facts.is_70b = facts.n_layer == 80 && facts.n_head != facts.n_head_kv;
    } else if (a == "qwen2" || a == "deci" || a == "olmo") {
        facts.is_70b = facts.n_layer == 80;
    } else if (a == "jais2") {
        facts.is_70b = facts.n_layer == 68;
    }
    return facts;
}

}  // namespace llmq::plan
