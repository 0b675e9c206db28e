// Hand-made HuggingFace model directories for tests: safetensors files written byte by byte,
// config.json for each supported architecture, a tiny SentencePiece tokenizer.model (protobuf
// written by hand) or byte-level BPE tokenizer.json. Values are deterministic pseudo-random.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "llmq/io/memory.hpp"
#include "quant/scalar.hpp"
#include "support/fixtures.hpp"

namespace llmq::test {

struct StTensor {
    std::string name;
    std::string dtype;  // "F32", "F16", "BF16", "I64", ...
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
};

// A safetensors file: header JSON (padded with spaces to 8 bytes), tensors in the given order.
inline std::vector<uint8_t> safetensors_bytes(const std::vector<StTensor>& tensors, const nlohmann::json& metadata = {{"format", "pt"}}) {
    nlohmann::json header = nlohmann::json::object();
    if (!metadata.is_null()) header["__metadata__"] = metadata;
    uint64_t offset = 0;
    for (const auto& t : tensors) {
        header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes.size()}}};
        offset += t.bytes.size();
    }
    std::string text = header.dump();
    while (text.size() % 8 != 0) text.push_back(' ');
    // Assembled in a string: GCC 12 reports a false -Warray-bounds for vector range inserts here.
    std::string buf(8, '\0');
    const uint64_t n = text.size();
    std::memcpy(buf.data(), &n, 8);
    buf += text;
    for (const auto& t : tensors) buf.append(reinterpret_cast<const char*>(t.bytes.data()), t.bytes.size());
    return {buf.begin(), buf.end()};
}

inline uint32_t next_random(uint32_t& state) {
    state = state * 1664525u + 1013904223u;
    return state;
}

// Finite values around N(0, 0.05) of each float type, as raw little-endian bytes.
inline std::vector<uint8_t> random_tensor_bytes(const std::string& dtype, int64_t n, uint32_t seed) {
    std::vector<uint8_t> out;
    uint32_t s = seed * 2654435761u + 12345u;
    for (int64_t i = 0; i < n; ++i) {
        const float u = static_cast<float>(next_random(s) >> 8) / 16777216.0f;  // [0, 1)
        const float v = static_cast<float>(next_random(s) >> 8) / 16777216.0f;
        const float x = (u - 0.5f) * 0.2f + (v - 0.5f) * 0.05f + (i % 97 == 0 ? 3.0f : 0.0f);  // some outliers
        if (dtype == "F32") {
            uint32_t bits = std::bit_cast<uint32_t>(x);
            for (int b = 0; b < 4; ++b) out.push_back(static_cast<uint8_t>(bits >> (8 * b)));
        } else {
            const uint16_t h = dtype == "F16" ? quant::fp32_to_fp16(x) : quant::fp32_to_bf16(x);
            out.push_back(static_cast<uint8_t>(h));
            out.push_back(static_cast<uint8_t>(h >> 8));
        }
    }
    return out;
}

// ---- a tiny SentencePiece model ----------------------------------------------------------

inline void put_varint(std::vector<uint8_t>& out, uint64_t v) {
    while (v >= 0x80) {
        out.push_back(static_cast<uint8_t>(v | 0x80));
        v >>= 7;
    }
    out.push_back(static_cast<uint8_t>(v));
}

inline void put_bytes_field(std::vector<uint8_t>& out, uint32_t field, const std::vector<uint8_t>& bytes) {
    put_varint(out, (uint64_t{field} << 3) | 2);
    put_varint(out, bytes.size());
    out.insert(out.end(), bytes.begin(), bytes.end());
}

struct SpmPiece {
    std::string text;
    float score = 0.0f;
    int type = 1;  // 0: field omitted (NORMAL by default)
};

inline std::vector<uint8_t> sentencepiece_bytes(const std::vector<SpmPiece>& pieces) {
    std::vector<uint8_t> out;
    for (const auto& p : pieces) {
        std::vector<uint8_t> msg;
        put_bytes_field(msg, 1, std::vector<uint8_t>(p.text.begin(), p.text.end()));
        put_varint(msg, (2u << 3) | 5);
        const uint32_t bits = std::bit_cast<uint32_t>(p.score);
        for (int b = 0; b < 4; ++b) msg.push_back(static_cast<uint8_t>(bits >> (8 * b)));
        if (p.type != 0) {
            put_varint(msg, (3u << 3) | 0);
            put_varint(msg, static_cast<uint64_t>(p.type));
        }
        put_bytes_field(out, 1, msg);
    }
    // A trainer spec (field 2) with model_type BPE and byte_fallback, which the reader skips.
    std::vector<uint8_t> trainer;
    put_varint(trainer, (3u << 3) | 0);
    put_varint(trainer, 2);
    put_varint(trainer, (35u << 3) | 0);
    put_varint(trainer, 1);
    put_bytes_field(out, 2, trainer);
    return out;
}

// <unk> <s> </s>, the 256 byte pieces, then n_normal made-up pieces with falling scores.
inline std::vector<SpmPiece> llama_style_pieces(int n_normal) {
    std::vector<SpmPiece> p = {{"<unk>", 0.0f, 2}, {"<s>", 0.0f, 3}, {"</s>", 0.0f, 3}};
    char buf[8];
    for (int b = 0; b < 256; ++b) {
        std::snprintf(buf, sizeof buf, "<0x%02X>", b);
        p.push_back({buf, 0.0f, 6});
    }
    for (int i = 0; i < n_normal; ++i) p.push_back({"\xe2\x96\x81w" + std::to_string(i), -static_cast<float>(i), i % 3 == 0 ? 0 : 1});
    return p;
}

// ---- a byte-level BPE tokenizer.json --------------------------------------------------------

inline nlohmann::json bpe_tokenizer_json(int n_tokens, const std::string& split_regex) {
    nlohmann::json vocab = nlohmann::json::object();
    vocab["<|endoftext|>"] = 0;
    for (int i = 1; i < n_tokens; ++i) vocab["t" + std::to_string(i)] = i;
    nlohmann::json pre;
    if (split_regex.empty()) {
        pre = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
    } else {
        pre = {{"type", "Sequence"},
               {"pretokenizers",
                {{{"type", "Split"}, {"pattern", {{"Regex", split_regex}}}, {"behavior", "Isolated"}, {"invert", false}},
                 {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}}}}};
    }
    return {{"version", "1.0"},
            {"added_tokens",
             {{{"id", 0}, {"content", "<|endoftext|>"}, {"special", true}, {"normalized", false}},
              {{"id", n_tokens}, {"content", "<|im_start|>"}, {"special", true}, {"normalized", false}},
              {{"id", n_tokens + 1}, {"content", "<think>"}, {"special", false}, {"normalized", false}}}},
            {"pre_tokenizer", pre},
            {"decoder", {{"type", "ByteLevel"}}},
            {"model",
             {{"type", "BPE"},
              {"vocab", vocab},
              {"merges", nlohmann::json::array({nlohmann::json::array({"t", "1"}), nlohmann::json::array({"t1", "2"})})}}}};
}

// ---- whole models -------------------------------------------------------------------------

struct SyntheticModel {
    std::string architecture = "LlamaForCausalLM";
    std::string model_type = "llama";
    std::string dtype = "F16";
    int64_t hidden = 96;  // not a multiple of 256 (nor of 32 for some rows below)
    int64_t ffn = 160;
    int64_t layers = 2;
    int64_t heads = 3;
    int64_t kv_heads = 1;
    std::optional<int64_t> head_dim;  // written to config.json when set
    int64_t vocab = 300;
    bool tied = false;
    bool qkv_bias = false;
    bool qk_norm = false;
    int shards = 1;  // > 1: model-0000i-of-0000n.safetensors + index
    enum Tokenizer { None, Spm, Bpe } tokenizer = Spm;

    int64_t dim_head() const { return head_dim.value_or(hidden / heads); }

    // HF tensors in name order.
    std::vector<StTensor> tensors() const {
        std::vector<StTensor> t;
        uint32_t seed = 1;
        auto add = [&](const std::string& name, std::vector<int64_t> shape, bool one_d_f32 = false) {
            int64_t n = 1;
            for (auto d : shape) n *= d;
            const std::string dt = one_d_f32 ? "F32" : dtype;
            t.push_back({name, dt, shape, random_tensor_bytes(dt, n, seed++)});
        };
        add("model.embed_tokens.weight", {vocab, hidden});
        for (int64_t l = 0; l < layers; ++l) {
            const std::string p = "model.layers." + std::to_string(l) + ".";
            add(p + "input_layernorm.weight", {hidden});
            add(p + "mlp.down_proj.weight", {hidden, ffn});
            add(p + "mlp.gate_proj.weight", {ffn, hidden});
            add(p + "mlp.up_proj.weight", {ffn, hidden});
            add(p + "post_attention_layernorm.weight", {hidden});
            if (qkv_bias) add(p + "self_attn.k_proj.bias", {kv_heads * dim_head()});
            add(p + "self_attn.k_proj.weight", {kv_heads * dim_head(), hidden});
            if (qk_norm) add(p + "self_attn.k_norm.weight", {dim_head()});
            add(p + "self_attn.o_proj.weight", {hidden, heads * dim_head()});
            if (qkv_bias) add(p + "self_attn.q_proj.bias", {heads * dim_head()});
            add(p + "self_attn.q_proj.weight", {heads * dim_head(), hidden});
            if (qk_norm) add(p + "self_attn.q_norm.weight", {dim_head()});
            if (qkv_bias) add(p + "self_attn.v_proj.bias", {kv_heads * dim_head()});
            add(p + "self_attn.v_proj.weight", {kv_heads * dim_head(), hidden});
        }
        if (!tied) add("lm_head.weight", {vocab, hidden});
        add("model.norm.weight", {hidden});
        std::sort(t.begin(), t.end(), [](const StTensor& a, const StTensor& b) { return a.name < b.name; });
        return t;
    }

    nlohmann::json config() const {
        nlohmann::json c = {{"architectures", {architecture}},
                            {"model_type", model_type},
                            {"hidden_size", hidden},
                            {"intermediate_size", ffn},
                            {"num_hidden_layers", layers},
                            {"num_attention_heads", heads},
                            {"num_key_value_heads", kv_heads},
                            {"vocab_size", vocab},
                            {"max_position_embeddings", 2048},
                            {"rms_norm_eps", 1e-6},
                            {"rope_theta", 500000.0},
                            {"tie_word_embeddings", tied},
                            {"bos_token_id", 1},
                            {"eos_token_id", 2},
                            {"torch_dtype", dtype == "F16"    ? "float16"
                                            : dtype == "BF16" ? "bfloat16"
                                                              : "float32"}};
        if (head_dim) c["head_dim"] = *head_dim;
        return c;
    }

    // Every file of the directory by name.
    std::map<std::string, std::vector<uint8_t>> files() const {
        std::map<std::string, std::vector<uint8_t>> out;
        out["config.json"] = text(config().dump(2));
        const auto all = tensors();
        if (shards <= 1) {
            out["model.safetensors"] = safetensors_bytes(all);
        } else {
            nlohmann::json map = nlohmann::json::object();
            const size_t per = (all.size() + static_cast<size_t>(shards) - 1) / static_cast<size_t>(shards);
            for (int s = 0; s < shards; ++s) {
                char file[64];
                std::snprintf(file, sizeof file, "model-%05d-of-%05d.safetensors", s + 1, shards);
                std::vector<StTensor> part;
                for (size_t i = static_cast<size_t>(s) * per; i < std::min(all.size(), static_cast<size_t>(s + 1) * per); ++i) {
                    part.push_back(all[i]);
                    map[all[i].name] = file;
                }
                out[file] = safetensors_bytes(part);
            }
            out["model.safetensors.index.json"] = text(nlohmann::json{{"metadata", {{"total_size", 0}}}, {"weight_map", map}}.dump(2));
        }
        if (tokenizer == Spm) {
            out["tokenizer.model"] = sentencepiece_bytes(llama_style_pieces(static_cast<int>(vocab) - 259 - 5));
            out["tokenizer_config.json"] =
                text(R"({"add_bos_token": true, "add_eos_token": false, "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"})");
        } else if (tokenizer == Bpe) {
            out["tokenizer.json"] = text(bpe_tokenizer_json(static_cast<int>(vocab) - 4, kQwen2Regex).dump());
            out["tokenizer_config.json"] = text(R"({"eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "bos_token": null})");
        }
        return out;
    }

    // Writes the directory under the temp dir; returns its path.
    std::filesystem::path write(const std::string& name) const {
        const auto dir = temp_dir(name);
        for (const auto& [file, bytes] : files()) write_file(dir / file, bytes);
        return dir;
    }

    std::shared_ptr<MemoryFileSet> memory(const std::string& name = "synthetic-model") const {
        auto set = std::make_shared<MemoryFileSet>(name);
        for (auto& [file, bytes] : files()) set->add(file, bytes);
        return set;
    }

    static constexpr const char* kQwen2Regex =
        R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

    static std::vector<uint8_t> text(const std::string& s) { return {s.begin(), s.end()}; }
};

}  // namespace llmq::test
