// ModelConfig from GGUF metadata, cross-checked with the tensor shapes.
#include "llmq/runtime/config.hpp"

#include <array>
#include <cmath>
#include <optional>

#include "llmq/error.hpp"

namespace llmq {
namespace {

struct ArchInfo {
    const char* name;
    RopeStyle rope;
    bool qk_norm;
};

constexpr std::array<ArchInfo, 3> kArchs = {{
    {"llama", RopeStyle::Normal, false},  // also Mistral, which llama.cpp converts as "llama"
    {"qwen2", RopeStyle::NeoX, false},
    {"qwen3", RopeStyle::NeoX, true},
}};

class Keys {
public:
    Keys(const ModelView& model, std::string arch) : model_(model), arch_(std::move(arch)) {}

    const gguf::Value* find(const std::string& suffix) const { return model_.find(arch_ + "." + suffix); }

    std::optional<int64_t> integer(const std::string& suffix) const {
        const gguf::Value* v = find(suffix);
        if (!v) return std::nullopt;
        if (v->is_array()) {
            fail(ExitCode::Unsupported, model_.path + ": " + arch_ + "." + suffix + " varies per layer, which llmq's runtime does not support",
                 "only models with the same attention shape in every layer can be run");
        }
        auto i = v->as_int();
        if (!i) fail(ExitCode::CorruptInput, model_.path + ": metadata " + arch_ + "." + suffix + " is not an integer");
        return i;
    }
    int64_t required(const std::string& suffix) const {
        auto i = integer(suffix);
        if (!i) fail(ExitCode::CorruptInput, model_.path + ": metadata key " + arch_ + "." + suffix + " is missing");
        return *i;
    }
    std::optional<double> real(const std::string& suffix) const {
        const gguf::Value* v = find(suffix);
        if (!v) return std::nullopt;
        auto f = v->as_float();
        if (!f) fail(ExitCode::CorruptInput, model_.path + ": metadata " + arch_ + "." + suffix + " is not a number");
        return f;
    }
    const std::string* string(const std::string& suffix) const {
        const gguf::Value* v = find(suffix);
        return v ? v->as_string() : nullptr;
    }

private:
    const ModelView& model_;
    std::string arch_;
};

void check_range(const ModelView& model, const char* what, int64_t value, int64_t lo, int64_t hi) {
    if (value < lo || value > hi) {
        fail(ExitCode::CorruptInput,
             model.path + ": " + what + " = " + std::to_string(value) + " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    }
}

// A 2-D tensor of exactly [ne0, ne1] (ne0 = input width), or failure.
void expect_matrix(const ModelView& model, const std::string& name, int64_t ne0, int64_t ne1) {
    const ModelTensor* t = model.find_tensor(name);
    if (!t) fail(ExitCode::CorruptInput, model.path + ": tensor " + name + " is missing");
    if (t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != 1 || t->ne[3] != 1) {
        fail(ExitCode::CorruptInput, model.path + ": tensor " + name + " has shape [" + std::to_string(t->ne[0]) + ", " + std::to_string(t->ne[1]) +
                                         "], expected [" + std::to_string(ne0) + ", " + std::to_string(ne1) + "] from the metadata");
    }
}

}  // namespace

const char* rope_frequencies_name(RopeFrequencies f) {
    return f == RopeFrequencies::BFloat16 ? "bf16" : "exact";
}

std::optional<RopeFrequencies> rope_frequencies_from_name(std::string_view name) {
    if (name == "exact") return RopeFrequencies::Exact;
    if (name == "bf16") return RopeFrequencies::BFloat16;
    return std::nullopt;
}

const char* numerics_name(Numerics n) {
    return n == Numerics::Ggml ? "ggml" : "exact";
}

std::optional<Numerics> numerics_from_name(std::string_view name) {
    if (name == "exact") return Numerics::Exact;
    if (name == "ggml") return Numerics::Ggml;
    return std::nullopt;
}

std::string layer_tensor_name(int64_t layer, const char* what, const char* suffix) {
    return "blk." + std::to_string(layer) + "." + what + "." + suffix;
}

ModelConfig model_config(const ModelView& model) {
    ModelConfig c;
    c.arch = model.architecture();
    const ArchInfo* info = nullptr;
    for (const auto& a : kArchs)
        if (c.arch == a.name) info = &a;
    if (!info) {
        fail(ExitCode::Unsupported,
             model.path + ": architecture '" + (c.arch.empty() ? std::string("(none)") : c.arch) + "' is not supported by llmq's runtime",
             "perplexity, generation and calibration support llama, mistral, qwen2 and qwen3 "
             "models");
    }
    c.rope = info->rope;
    c.qk_norm = info->qk_norm;
    const Keys keys(model, c.arch);

    if (auto experts = keys.integer("expert_count"); experts && *experts > 0) {
        fail(ExitCode::Unsupported,
             model.path + ": mixture-of-experts models (" + std::to_string(*experts) + " experts) are not supported by llmq's runtime");
    }
    c.n_embd = keys.required("embedding_length");
    c.n_layer = keys.required("block_count");
    c.n_head = keys.required("attention.head_count");
    c.n_head_kv = keys.integer("attention.head_count_kv").value_or(c.n_head);
    check_range(model, "embedding_length", c.n_embd, 1, 1 << 20);
    check_range(model, "block_count", c.n_layer, 1, 4096);
    check_range(model, "attention.head_count", c.n_head, 1, 1 << 14);
    check_range(model, "attention.head_count_kv", c.n_head_kv, 1, c.n_head);
    if (c.n_head % c.n_head_kv != 0) {
        fail(ExitCode::CorruptInput,
             model.path + ": head_count " + std::to_string(c.n_head) + " is not a multiple of head_count_kv " + std::to_string(c.n_head_kv));
    }
    c.head_dim = keys.integer("attention.key_length").value_or(c.n_embd / c.n_head);
    c.head_dim_v = keys.integer("attention.value_length").value_or(c.head_dim);
    check_range(model, "attention.key_length", c.head_dim, 1, 1 << 14);
    check_range(model, "attention.value_length", c.head_dim_v, 1, 1 << 14);
    c.n_rot = keys.integer("rope.dimension_count").value_or(c.head_dim);
    check_range(model, "rope.dimension_count", c.n_rot, 0, c.head_dim);
    if (c.n_rot % 2 != 0) fail(ExitCode::CorruptInput, model.path + ": rope.dimension_count " + std::to_string(c.n_rot) + " is odd");
    c.n_ctx_train = keys.integer("context_length").value_or(0);
    c.rope_theta = keys.real("rope.freq_base").value_or(10000.0);
    if (!(c.rope_theta > 0.0) || !std::isfinite(c.rope_theta))
        fail(ExitCode::CorruptInput, model.path + ": rope.freq_base must be a positive number");
    c.rms_eps = static_cast<float>(keys.real("attention.layer_norm_rms_epsilon").value_or(1e-5));
    if (!(c.rms_eps >= 0.0f) || !std::isfinite(c.rms_eps))
        fail(ExitCode::CorruptInput, model.path + ": layer_norm_rms_epsilon must be a non-negative number");

    // RoPE scaling: only linear position interpolation changes what a forward pass computes at
    // the context lengths llmq evaluates; the others need formulas the runtime does not have.
    const std::string* scaling = keys.string("rope.scaling.type");
    if (scaling && *scaling != "none" && *scaling != "linear") {
        fail(ExitCode::Unsupported, model.path + ": RoPE scaling '" + *scaling + "' is not supported by llmq's runtime", "supported: none, linear");
    }
    double factor = 0.0;
    if (scaling && *scaling == "linear") {
        factor = keys.real("rope.scaling.factor").value_or(0.0);
    } else if (!scaling) {
        factor = keys.real("rope.scale_linear").value_or(0.0);  // older files' key
    }
    if (factor > 0.0 && factor != 1.0) c.rope_freq_scale = 1.0 / factor;

    const ModelTensor* embd = model.find_tensor("token_embd.weight");
    if (!embd) fail(ExitCode::CorruptInput, model.path + ": tensor token_embd.weight is missing");
    c.n_vocab = keys.integer("vocab_size").value_or(embd->ne[1]);
    check_range(model, "vocab_size", c.n_vocab, 1, 1 << 24);
    expect_matrix(model, "token_embd.weight", c.n_embd, c.n_vocab);
    c.tied_output = model.find_tensor("output.weight") == nullptr;
    if (!c.tied_output) expect_matrix(model, "output.weight", c.n_embd, c.n_vocab);
    if (const ModelTensor* f = model.find_tensor("rope_freqs.weight")) {
        if (f->n_elements() != c.n_rot / 2) {
            fail(ExitCode::CorruptInput,
                 model.path + ": rope_freqs.weight has " + std::to_string(f->n_elements()) + " elements, expected " + std::to_string(c.n_rot / 2));
        }
        c.rope_freq_factors = true;
    }

    c.n_ff = keys.integer("feed_forward_length").value_or(0);
    // Every layer's attention tensors must match the metadata; the FFN width is taken from the
    // tensors (checked per layer when loaded) since a few models vary it.
    for (int64_t l = 0; l < c.n_layer; ++l) {
        expect_matrix(model, layer_tensor_name(l, "attn_q"), c.n_embd, c.q_dim());
        expect_matrix(model, layer_tensor_name(l, "attn_k"), c.n_embd, c.kv_dim());
        expect_matrix(model, layer_tensor_name(l, "attn_v"), c.n_embd, c.v_dim());
        expect_matrix(model, layer_tensor_name(l, "attn_output"), c.n_head * c.head_dim_v, c.n_embd);
        const ModelTensor* gate = model.find_tensor(layer_tensor_name(l, "ffn_gate"));
        if (!gate) fail(ExitCode::CorruptInput, model.path + ": tensor " + layer_tensor_name(l, "ffn_gate") + " is missing");
        const int64_t n_ff = gate->ne[1];
        expect_matrix(model, layer_tensor_name(l, "ffn_gate"), c.n_embd, n_ff);
        expect_matrix(model, layer_tensor_name(l, "ffn_up"), c.n_embd, n_ff);
        expect_matrix(model, layer_tensor_name(l, "ffn_down"), n_ff, c.n_embd);
        if (c.n_ff == 0) c.n_ff = n_ff;
    }
    return c;
}

}  // namespace llmq
