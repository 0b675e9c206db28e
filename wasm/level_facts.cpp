#include "level_facts.hpp"

#include <string>

#include "llmq/error.hpp"

namespace llmq::wasm {
namespace {

// A 7B llama's metadata and tensor shapes (headers only; no data is ever read): the plan
// decides per tensor, so asking it about this shape answers for the usual models.
ModelView typical_model() {
    constexpr int64_t n_layer = 32, n_embd = 4096, n_ff = 11008, n_vocab = 32000;
    ModelView m;
    m.path = "llama-7b-shape";
    m.format = "gguf";
    m.metadata = {{"general.architecture", gguf::Value::string("llama")},
                  {"llama.block_count", gguf::Value::u32(n_layer)},
                  {"llama.attention.head_count", gguf::Value::u32(32)},
                  {"llama.attention.head_count_kv", gguf::Value::u32(32)}};
    auto add = [&](std::string name, int64_t ne0, int64_t ne1) {
        ModelTensor t;
        t.name = std::move(name);
        t.n_dims = ne1 > 1 ? 2 : 1;
        t.ne = {ne0, ne1, 1, 1};
        t.type = t.n_dims == 2 ? GgmlType::F16 : GgmlType::F32;
        m.tensors.push_back(std::move(t));
    };
    add("token_embd.weight", n_embd, n_vocab);
    for (int64_t i = 0; i < n_layer; ++i) {
        const std::string b = "blk." + std::to_string(i) + ".";
        add(b + "attn_norm.weight", n_embd, 1);
        add(b + "attn_q.weight", n_embd, n_embd);
        add(b + "attn_k.weight", n_embd, n_embd);
        add(b + "attn_v.weight", n_embd, n_embd);
        add(b + "attn_output.weight", n_embd, n_embd);
        add(b + "ffn_norm.weight", n_embd, 1);
        add(b + "ffn_gate.weight", n_embd, n_ff);
        add(b + "ffn_up.weight", n_embd, n_ff);
        add(b + "ffn_down.weight", n_ff, n_embd);
    }
    add("output_norm.weight", n_embd, 1);
    add("output.weight", n_embd, n_vocab);
    return m;
}

}  // namespace

bool level_needs_imatrix(const plan::Preset& preset) {
    static const ModelView model = typical_model();
    plan::PlanOptions options;
    options.preset = &preset;
    options.has_imatrix = true;  // plan every tensor, then look at what it asks for
    try {
        for (const auto& t : plan::make_plan(model, options).tensors) {
            if (t.needs_imatrix) return true;
        }
    } catch (const Failure&) {
        // A level this shape cannot take (none today) makes no claim.
    }
    return false;
}

}  // namespace llmq::wasm
