// HuggingFace → GGUF tensor names for the llama family. Q and K projections of llama-style
// models are also marked for the row permutation llama.cpp's converter applies: HF stores each
// head's rotary pairs as two halves (NeoX layout), ggml's llama RoPE wants them interleaved.
#include <charconv>

#include "format/hf_internal.hpp"
#include "llmq/error.hpp"

namespace llmq::hf {
namespace {

struct LayerName {
    std::string_view hf;
    std::string_view gguf;
    enum Kind { Any, QkNorm } kind = Any;
    char permute = 0;  // 'q' or 'k'
};

// Per-layer tensors, without the "model.layers.N." prefix and the ".weight"/".bias" suffix.
constexpr LayerName kLayerNames[] = {
    {"input_layernorm", "attn_norm"},
    {"post_attention_layernorm", "ffn_norm"},
    {"self_attn.q_proj", "attn_q", LayerName::Any, 'q'},
    {"self_attn.k_proj", "attn_k", LayerName::Any, 'k'},
    {"self_attn.v_proj", "attn_v"},
    {"self_attn.o_proj", "attn_output"},
    {"self_attn.q_norm", "attn_q_norm", LayerName::QkNorm},
    {"self_attn.k_norm", "attn_k_norm", LayerName::QkNorm},
    {"mlp.gate_proj", "ffn_gate"},
    {"mlp.up_proj", "ffn_up"},
    {"mlp.down_proj", "ffn_down"},
};

[[noreturn]] void unknown(const HfConfig& c, const std::string& name) {
    fail(ExitCode::Unsupported, c.who + ": tensor '" + name + "' has no GGUF name for " + std::string(c.arch->hf_class),
         "the checkpoint has parts llmq does not convert (adapters, vision tower, extra heads?)");
}

bool strip_prefix(std::string_view& s, std::string_view prefix) {
    if (s.substr(0, prefix.size()) != prefix) return false;
    s.remove_prefix(prefix.size());
    return true;
}

}  // namespace

std::optional<TensorTarget> map_tensor_name(const HfConfig& c, const std::string& hf_name) {
    std::string_view s = hf_name;
    if (s.ends_with("rotary_emb.inv_freq")) return std::nullopt;  // a buffer RoPE recomputes
    if (s == "model.embed_tokens.weight") return TensorTarget{"token_embd.weight"};
    if (s == "model.norm.weight") return TensorTarget{"output_norm.weight"};
    if (s == "lm_head.weight") {
        if (c.tied_embeddings) return std::nullopt;  // the output reuses token_embd
        return TensorTarget{"output.weight"};
    }
    if (!strip_prefix(s, "model.layers.")) unknown(c, hf_name);
    int64_t layer = -1;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), layer);
    if (ec != std::errc() || end == s.data() || *end != '.' || layer < 0 || layer >= c.n_layer) unknown(c, hf_name);
    s.remove_prefix(static_cast<size_t>(end - s.data()) + 1);

    std::string_view suffix;
    if (s.ends_with(".weight")) {
        suffix = ".weight";
    } else if (s.ends_with(".bias")) {
        suffix = ".bias";
    } else {
        unknown(c, hf_name);
    }
    s.remove_suffix(suffix.size());
    for (const auto& entry : kLayerNames) {
        if (entry.hf != s) continue;
        if (entry.kind == LayerName::QkNorm && (!c.arch->qk_norm || suffix != ".weight")) unknown(c, hf_name);
        TensorTarget t;
        t.name = "blk." + std::to_string(layer) + "." + std::string(entry.gguf) + std::string(suffix);
        if (c.arch->rope_permute && entry.permute) t.permute_heads = entry.permute == 'q' ? c.n_head : c.n_head_kv;
        return t;
    }
    unknown(c, hf_name);
}

}  // namespace llmq::hf
