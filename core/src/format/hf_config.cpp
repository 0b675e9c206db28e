// config.json → architecture and GGUF hyperparameters. Which keys are written, their types and
// their order follow the GGUFs llama.cpp's converter produces for the same models (the
// fixtures' *.bf16.gguf): a key is written only when config.json states the value.
#include <array>
#include <cmath>
#include <numbers>

#include "format/hf_internal.hpp"
#include "llmq/error.hpp"

namespace llmq::hf {
namespace {

constexpr std::array<ArchInfo, 4> kArchitectures = {{
    {"LlamaForCausalLM", "llama", "llama", true, true, false},
    {"MistralForCausalLM", "mistral", "llama", true, true, false},
    {"Qwen2ForCausalLM", "qwen2", "qwen2", false, false, false},
    {"Qwen3ForCausalLM", "qwen3", "qwen3", false, false, true},
}};

// Bounds of config.json's counts, far above any released model (hundreds of layers, head
// dimensions of 256, vocabularies of a few hundred thousand tokens).
constexpr int64_t kMaxCount = int64_t{1} << 40;
constexpr int64_t kMaxLayers = 1 << 16;
constexpr int64_t kMaxWidth = 1 << 24;  // hidden_size, intermediate_size
constexpr int64_t kMaxHeads = 1 << 16;  // num_attention_heads, num_key_value_heads, head_dim
constexpr int64_t kMaxVocab = 1 << 22;

class ConfigReader {
public:
    ConfigReader(const json& raw, const std::string& who) : raw_(raw), who_(who) {}

    [[noreturn]] void bad(const std::string& key, const std::string& problem) const {
        fail(ExitCode::CorruptInput, who_ + ": \"" + key + "\" " + problem, "config.json is damaged or incomplete; download it again");
    }

    const json* find(const std::string& key) const {
        const auto it = raw_.find(key);
        return it == raw_.end() || it->is_null() ? nullptr : &*it;
    }

    // A positive integer up to max: the conversion allocates per layer, head dimension and
    // token, so a value no model has must not turn into that allocation.
    std::optional<int64_t> optional_count(const std::string& key, int64_t max = kMaxCount) const {
        const json* v = find(key);
        if (!v) return std::nullopt;
        if (!v->is_number_integer() || v->get<int64_t>() <= 0) bad(key, "is not a positive integer");
        if (v->get<int64_t>() > max) bad(key, "= " + v->dump() + " is larger than any model's (at most " + std::to_string(max) + ")");
        return v->get<int64_t>();
    }

    int64_t count(const std::string& key, int64_t max = kMaxCount) const {
        auto v = optional_count(key, max);
        if (!v) bad(key, "is missing");
        return *v;
    }

    std::optional<double> optional_number(const json& object, const std::string& key) const {
        const auto it = object.find(key);
        if (it == object.end() || it->is_null()) return std::nullopt;
        if (!it->is_number() || !std::isfinite(it->get<double>())) bad(key, "is not a number");
        return it->get<double>();
    }

private:
    const json& raw_;
    const std::string& who_;
};

const ArchInfo* find_architecture(const json& raw, const std::string& who) {
    std::string name;
    if (auto it = raw.find("architectures"); it != raw.end() && it->is_array() && !it->empty() && (*it)[0].is_string()) {
        name = (*it)[0].get<std::string>();
        for (const auto& a : kArchitectures)
            if (a.hf_class == name) return &a;
    } else if (auto mt = raw.find("model_type"); mt != raw.end() && mt->is_string()) {
        name = "model_type " + mt->get<std::string>();
        for (const auto& a : kArchitectures)
            if (a.model_type == mt->get<std::string>()) return &a;
    } else {
        fail(ExitCode::Unsupported, who + ": names no architecture (no \"architectures\" or \"model_type\")",
             "llmq converts " + supported_architectures());
    }
    fail(ExitCode::Unsupported, who + ": architecture " + name + " is not supported; llmq converts " + supported_architectures(),
         "convert the model with llama.cpp's convert_hf_to_gguf.py and quantize the GGUF with llmq");
}

// rope_scaling (transformers 4) or rope_parameters (transformers 5), when it scales.
const json* rope_scaling(const json& raw) {
    for (const char* key : {"rope_scaling", "rope_parameters"}) {
        const auto it = raw.find(key);
        if (it == raw.end() || !it->is_object()) continue;
        const auto type = it->find("rope_type") != it->end() ? it->find("rope_type") : it->find("type");
        if (type == it->end() || !type->is_string() || type->get<std::string>() == "default") continue;
        return &*it;
    }
    return nullptr;
}

std::string rope_type(const json& s) {
    return s.contains("rope_type") ? s["rope_type"].get<std::string>() : s["type"].get<std::string>();
}

std::optional<double> rope_theta(const json& raw, const ConfigReader& r) {
    if (auto v = r.optional_number(raw, "rope_theta")) return v;
    if (auto it = raw.find("rope_parameters"); it != raw.end() && it->is_object()) return r.optional_number(*it, "rope_theta");
    return std::nullopt;
}

gguf::KeyValue u32(const HfConfig& c, const std::string& key, int64_t v) {
    if (v < 0 || v > UINT32_MAX) fail(ExitCode::Unsupported, c.who + ": " + key + " = " + std::to_string(v) + " does not fit GGUF's u32");
    return {std::string(c.arch->gguf_arch) + "." + key, gguf::Value::u32(static_cast<uint32_t>(v))};
}

gguf::KeyValue f32(const HfConfig& c, const std::string& key, double v) {
    return {std::string(c.arch->gguf_arch) + "." + key, gguf::Value::f32(static_cast<float>(v))};
}

}  // namespace

std::string supported_architectures() {
    std::string s;
    for (const auto& a : kArchitectures) s += (s.empty() ? "" : ", ") + std::string(a.hf_class);
    return s;
}

HfConfig parse_config(json raw, std::string who) {
    if (!raw.is_object()) fail(ExitCode::CorruptInput, who + ": not a JSON object", "config.json is damaged; download it again");
    HfConfig c;
    c.who = std::move(who);
    c.arch = find_architecture(raw, c.who);
    if (auto q = raw.find("quantization_config"); q != raw.end() && !q->is_null()) {
        std::string method =
            q->is_object() && q->contains("quant_method") && (*q)["quant_method"].is_string() ? (*q)["quant_method"].get<std::string>() : "unknown";
        fail(ExitCode::Unsupported, c.who + ": the checkpoint is already quantized (" + method + ")",
             "convert the original F32/F16/BF16 model instead");
    }
    const ConfigReader r(raw, c.who);
    c.n_layer = r.count("num_hidden_layers", kMaxLayers);
    c.n_embd = r.count("hidden_size", kMaxWidth);
    c.n_ff = r.count("intermediate_size", kMaxWidth);
    c.n_head = r.count("num_attention_heads", kMaxHeads);
    c.n_head_kv = r.optional_count("num_key_value_heads", kMaxHeads).value_or(c.n_head);
    c.vocab_size = r.count("vocab_size", kMaxVocab);
    c.n_ctx = r.optional_count("max_position_embeddings");
    c.head_dim = r.optional_count("head_dim", kMaxHeads);
    if (const json* tie = r.find("tie_word_embeddings")) {
        if (!tie->is_boolean()) r.bad("tie_word_embeddings", "is not true or false");
        c.tied_embeddings = tie->get<bool>();
    }
    rope_theta(raw, r);
    r.optional_number(raw, "rms_norm_eps");
    if (const json* s = rope_scaling(raw)) {
        const std::string type = rope_type(*s);
        if (type != "linear" && type != "yarn" && !(type == "llama3" && c.arch->llama_keys)) {
            fail(ExitCode::Unsupported, c.who + ": RoPE scaling \"" + type + "\" is not supported for " + std::string(c.arch->hf_class),
                 "llmq converts models without RoPE scaling, with linear or yarn scaling, and llama3 scaling for llama");
        }
        if (!r.optional_number(*s, "factor")) r.bad("rope_scaling.factor", "is missing");
        if (const auto orig = r.optional_number(*s, "original_max_position_embeddings"); orig && !(*orig >= 0 && *orig <= UINT32_MAX)) {
            r.bad("rope_scaling.original_max_position_embeddings", "is not a context length");
        }
    }
    c.raw = std::move(raw);
    return c;
}

std::vector<gguf::KeyValue> hyperparameters(const HfConfig& c) {
    const ConfigReader r(c.raw, c.who);
    std::vector<gguf::KeyValue> kv;
    kv.push_back(u32(c, "block_count", c.n_layer));
    if (c.n_ctx) kv.push_back(u32(c, "context_length", *c.n_ctx));
    kv.push_back(u32(c, "embedding_length", c.n_embd));
    kv.push_back(u32(c, "feed_forward_length", c.n_ff));
    kv.push_back(u32(c, "attention.head_count", c.n_head));
    if (r.find("num_key_value_heads")) kv.push_back(u32(c, "attention.head_count_kv", c.n_head_kv));
    if (auto theta = rope_theta(c.raw, r)) kv.push_back(f32(c, "rope.freq_base", *theta));
    if (auto eps = r.optional_number(c.raw, "rms_norm_eps")) kv.push_back(f32(c, "attention.layer_norm_rms_epsilon", *eps));
    if (c.head_dim) {
        kv.push_back(u32(c, "attention.key_length", *c.head_dim));
        kv.push_back(u32(c, "attention.value_length", *c.head_dim));
    }
    return kv;
}

std::vector<gguf::KeyValue> architecture_tail(const HfConfig& c) {
    const ConfigReader r(c.raw, c.who);
    std::vector<gguf::KeyValue> kv;
    if (c.arch->llama_keys) {
        kv.push_back(u32(c, "vocab_size", c.vocab_size));
        kv.push_back(u32(c, "rope.dimension_count", c.head_dim.value_or(c.n_embd / c.n_head)));
    }
    if (const json* s = rope_scaling(c.raw); s && rope_type(*s) != "llama3") {  // llama3: rope_freqs tensor instead
        const std::string type = rope_type(*s);
        const std::string arch(c.arch->gguf_arch);
        kv.push_back({arch + ".rope.scaling.type", gguf::Value::string(type)});
        kv.push_back(f32(c, "rope.scaling.factor", *r.optional_number(*s, "factor")));
        if (type == "yarn") {
            if (auto orig = r.optional_number(*s, "original_max_position_embeddings")) {
                kv.push_back(u32(c, "rope.scaling.original_context_length", static_cast<int64_t>(*orig)));
            }
        }
    }
    return kv;
}

std::vector<float> llama3_rope_factors(const HfConfig& c) {
    const json* s = rope_scaling(c.raw);
    if (!s || rope_type(*s) != "llama3") return {};
    const ConfigReader r(c.raw, c.who);
    // Float32 throughout, as the reference converter computes these with torch float32 tensors.
    const auto number = [&](const char* key, double fallback) {
        if (auto v = r.optional_number(*s, key)) return *v;
        if (auto v = r.optional_number(c.raw, key)) return *v;
        return fallback;
    };
    const float base = static_cast<float>(rope_theta(c.raw, r).value_or(10000.0));
    const int64_t dim = c.head_dim.value_or(c.n_embd / c.n_head);
    const float factor = static_cast<float>(number("factor", 8.0));
    const float low = static_cast<float>(number("low_freq_factor", 1.0));
    const float high = static_cast<float>(number("high_freq_factor", 4.0));
    const float old_context = static_cast<float>(number("original_max_position_embeddings", 8192.0));
    const float low_wavelen = old_context / low;
    const float high_wavelen = old_context / high;
    std::vector<float> factors;
    for (int64_t i = 0; i < dim; i += 2) {
        const float freq = 1.0f / std::pow(base, static_cast<float>(i) / static_cast<float>(dim));
        const float wavelen = static_cast<float>(2.0 * std::numbers::pi) / freq;
        if (wavelen < high_wavelen) {
            factors.push_back(1.0f);
        } else if (wavelen > low_wavelen) {
            factors.push_back(factor);
        } else {
            const float smooth = (old_context / wavelen - low) / (high - low);
            factors.push_back(1.0f / ((1.0f - smooth) / factor + smooth));
        }
    }
    return factors;
}

}  // namespace llmq::hf
