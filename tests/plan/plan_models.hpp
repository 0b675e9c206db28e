// Model headers for the plan tests: the two fixture models as their GGUF files describe them
// (tensor names, shapes and file order copied from tests/fixtures/models/*.bf16.gguf), built
// by hand, plus synthetic llama-style models with chosen widths.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "llmq/format/model.hpp"
#include "llmq/plan/plan.hpp"

namespace llmq::test {

struct TensorSpec {
    std::string name;
    std::vector<int64_t> ne;
};

inline ModelTensor make_tensor(const std::string& name, const std::vector<int64_t>& ne, GgmlType type) {
    ModelTensor t;
    t.name = name;
    t.n_dims = static_cast<uint32_t>(ne.size());
    for (size_t i = 0; i < ne.size(); ++i) t.ne[i] = ne[i];
    t.type = type;
    return t;
}

// Metadata of a llama-family model: architecture, block count, heads, optional experts.
inline std::vector<gguf::KeyValue> llm_metadata(const std::string& arch, uint32_t blocks, uint32_t heads, uint32_t kv_heads, uint32_t experts = 0) {
    std::vector<gguf::KeyValue> kv = {
        {"general.architecture", gguf::Value::string(arch)},
        {arch + ".block_count", gguf::Value::u32(blocks)},
        {arch + ".attention.head_count", gguf::Value::u32(heads)},
        {arch + ".attention.head_count_kv", gguf::Value::u32(kv_heads)},
    };
    if (experts > 0) kv.push_back({arch + ".expert_count", gguf::Value::u32(experts)});
    return kv;
}

// 1-D tensors (norms, biases) are F32 in the fixtures, everything else BF16.
inline ModelView make_view(const std::string& path, std::vector<gguf::KeyValue> metadata, const std::vector<TensorSpec>& specs,
                           GgmlType weight_type = GgmlType::BF16) {
    ModelView view;
    view.path = path;
    view.format = "gguf";
    view.metadata = std::move(metadata);
    for (const auto& s : specs) view.tensors.push_back(make_tensor(s.name, s.ne, s.ne.size() == 1 ? GgmlType::F32 : weight_type));
    return view;
}

// tinyllama-spm.bf16.gguf: llama, 6 blocks, 4 heads / 2 KV heads, untied output, in file order.
inline ModelView tinyllama(GgmlType weight_type = GgmlType::BF16) {
    const std::vector<TensorSpec> specs = {
        {"token_embd.weight", {256, 2048}},       {"blk.0.attn_norm.weight", {256}},        {"blk.0.ffn_down.weight", {768, 256}},
        {"blk.0.ffn_gate.weight", {256, 768}},    {"blk.0.ffn_up.weight", {256, 768}},      {"blk.0.ffn_norm.weight", {256}},
        {"blk.0.attn_k.weight", {256, 128}},      {"blk.0.attn_output.weight", {256, 256}}, {"blk.0.attn_q.weight", {256, 256}},
        {"blk.0.attn_v.weight", {256, 128}},      {"blk.1.attn_norm.weight", {256}},        {"blk.1.ffn_down.weight", {768, 256}},
        {"blk.1.ffn_gate.weight", {256, 768}},    {"blk.1.ffn_up.weight", {256, 768}},      {"blk.1.ffn_norm.weight", {256}},
        {"blk.1.attn_k.weight", {256, 128}},      {"blk.1.attn_output.weight", {256, 256}}, {"blk.1.attn_q.weight", {256, 256}},
        {"blk.1.attn_v.weight", {256, 128}},      {"blk.2.attn_norm.weight", {256}},        {"blk.2.ffn_down.weight", {768, 256}},
        {"blk.2.ffn_gate.weight", {256, 768}},    {"blk.2.ffn_up.weight", {256, 768}},      {"blk.2.ffn_norm.weight", {256}},
        {"blk.2.attn_k.weight", {256, 128}},      {"blk.2.attn_output.weight", {256, 256}}, {"blk.2.attn_q.weight", {256, 256}},
        {"blk.2.attn_v.weight", {256, 128}},      {"blk.3.attn_k.weight", {256, 128}},      {"blk.3.attn_q.weight", {256, 256}},
        {"output.weight", {256, 2048}},           {"blk.3.attn_norm.weight", {256}},        {"blk.3.ffn_down.weight", {768, 256}},
        {"blk.3.ffn_gate.weight", {256, 768}},    {"blk.3.ffn_up.weight", {256, 768}},      {"blk.3.ffn_norm.weight", {256}},
        {"blk.3.attn_output.weight", {256, 256}}, {"blk.3.attn_v.weight", {256, 128}},      {"blk.4.attn_norm.weight", {256}},
        {"blk.4.ffn_down.weight", {768, 256}},    {"blk.4.ffn_gate.weight", {256, 768}},    {"blk.4.ffn_up.weight", {256, 768}},
        {"blk.4.ffn_norm.weight", {256}},         {"blk.4.attn_k.weight", {256, 128}},      {"blk.4.attn_output.weight", {256, 256}},
        {"blk.4.attn_q.weight", {256, 256}},      {"blk.4.attn_v.weight", {256, 128}},      {"blk.5.attn_norm.weight", {256}},
        {"blk.5.ffn_down.weight", {768, 256}},    {"blk.5.ffn_gate.weight", {256, 768}},    {"blk.5.ffn_up.weight", {256, 768}},
        {"blk.5.ffn_norm.weight", {256}},         {"blk.5.attn_k.weight", {256, 128}},      {"blk.5.attn_output.weight", {256, 256}},
        {"blk.5.attn_q.weight", {256, 256}},      {"blk.5.attn_v.weight", {256, 128}},      {"output_norm.weight", {256}},
    };
    return make_view("tinyllama-spm.bf16.gguf", llm_metadata("llama", 6, 4, 2), specs, weight_type);
}

// tinyqwen-bpe.bf16.gguf: qwen2, 4 blocks, q/k/v biases, tied embeddings (no output.weight).
inline ModelView tinyqwen() {
    std::vector<TensorSpec> specs = {{"token_embd.weight", {256, 4096}}};
    for (int b = 0; b < 4; ++b) {
        const std::string p = "blk." + std::to_string(b) + ".";
        const std::vector<TensorSpec> block = {
            {p + "attn_norm.weight", {256}},     {p + "ffn_down.weight", {768, 256}},
            {p + "ffn_gate.weight", {256, 768}}, {p + "ffn_up.weight", {256, 768}},
            {p + "ffn_norm.weight", {256}},      {p + "attn_k.bias", {128}},
            {p + "attn_k.weight", {256, 128}},   {p + "attn_output.weight", {256, 256}},
            {p + "attn_q.bias", {256}},          {p + "attn_q.weight", {256, 256}},
            {p + "attn_v.bias", {128}},          {p + "attn_v.weight", {256, 128}},
        };
        specs.insert(specs.end(), block.begin(), block.end());
    }
    specs.push_back({"output_norm.weight", {256}});
    return make_view("tinyqwen-bpe.bf16.gguf", llm_metadata("qwen2", 4, 4, 2), specs);
}

// A llama-style model with chosen widths (n_embd, n_ff, vocab), n_head 4 / n_kv 2.
inline ModelView synthetic(int64_t n_embd, int64_t n_ff, int blocks, bool tied = false, int64_t vocab = 1000, const std::string& arch = "llama") {
    std::vector<TensorSpec> specs = {{"token_embd.weight", {n_embd, vocab}}, {"output_norm.weight", {n_embd}}};
    if (!tied) specs.push_back({"output.weight", {n_embd, vocab}});
    for (int b = 0; b < blocks; ++b) {
        const std::string p = "blk." + std::to_string(b) + ".";
        const std::vector<TensorSpec> block = {
            {p + "attn_norm.weight", {n_embd}},          {p + "attn_q.weight", {n_embd, n_embd}},      {p + "attn_k.weight", {n_embd, n_embd / 2}},
            {p + "attn_v.weight", {n_embd, n_embd / 2}}, {p + "attn_output.weight", {n_embd, n_embd}}, {p + "ffn_norm.weight", {n_embd}},
            {p + "ffn_gate.weight", {n_embd, n_ff}},     {p + "ffn_up.weight", {n_embd, n_ff}},        {p + "ffn_down.weight", {n_ff, n_embd}},
        };
        specs.insert(specs.end(), block.begin(), block.end());
    }
    return make_view("synthetic.gguf", llm_metadata(arch, static_cast<uint32_t>(blocks), 4, 2), specs);
}

inline plan::PlanOptions options_for(std::string_view preset, bool imatrix = false) {
    plan::PlanOptions o;
    o.preset = plan::find_preset(preset);
    EXPECT_NE(o.preset, nullptr) << preset;
    o.has_imatrix = imatrix;
    return o;
}

// name → planned tensor.
inline std::map<std::string, plan::TensorPlan> by_name(const plan::QuantPlan& p) {
    std::map<std::string, plan::TensorPlan> m;
    for (const auto& t : p.tensors) m[t.name] = t;
    return m;
}

// Blocks whose tensor `suffix` (e.g. "attn_v.weight") got `type`.
inline std::vector<int> layers_with(const plan::QuantPlan& p, const std::string& suffix, GgmlType type) {
    std::vector<int> out;
    for (const auto& t : p.tensors) {
        if (!t.name.starts_with("blk.") || !t.name.ends_with("." + suffix) || t.target_type != type) continue;
        out.push_back(std::stoi(t.name.substr(4)));
    }
    return out;
}

}  // namespace llmq::test
