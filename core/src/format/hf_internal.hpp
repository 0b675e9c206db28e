// Pieces of the HuggingFace → GGUF mapping, one file each: small JSON files (hf_json.cpp),
// config.json (hf_config.cpp), tensor names (hf_names.cpp), streamed rows with the Q/K
// permutation (hf_rows.cpp), SentencePiece (hf_spm.cpp), byte-level BPE (hf_bpe.cpp), special
// tokens (hf_special.cpp), and the ModelView that joins them (hf_model.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llmq/format/gguf.hpp"
#include "llmq/format/safetensors.hpp"
#include "llmq/io/io.hpp"

namespace llmq::hf {

using nlohmann::json;

// ---- files -------------------------------------------------------------------------------

// Parses a JSON file of the model directory; nullopt when the file is absent. Fails with
// CorruptInput naming the file when it is larger than max_bytes or not valid JSON.
std::optional<json> read_json(const FileSet& files, std::string_view name, uint64_t max_bytes);

// object[key] when the object has it as a string, else fallback. (json::value(key, fallback)
// throws json::type_error when the key holds another type: untrusted files must not reach it.)
inline std::string string_or(const json& object, const char* key, std::string_view fallback = {}) {
    if (!object.is_object()) return std::string(fallback);
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string(fallback);
}

// ---- config.json ----------------------------------------------------------------------------

struct ArchInfo {
    std::string_view hf_class;    // "LlamaForCausalLM"
    std::string_view model_type;  // config.json "model_type" ("llama")
    std::string_view gguf_arch;   // general.architecture
    bool rope_permute = false;    // Q/K rows reordered for ggml's RoPE layout (llama family)
    bool llama_keys = false;      // vocab_size and rope.dimension_count keys (llama.cpp's LlamaModel)
    bool qk_norm = false;         // per-head q_norm / k_norm weights (Qwen3)
};

// "Qwen2ForCausalLM, ..." for messages.
std::string supported_architectures();

struct HfConfig {
    const ArchInfo* arch = nullptr;
    json raw;
    std::string who;  // config.json path for messages
    int64_t n_layer = 0;
    int64_t n_embd = 0;
    int64_t n_ff = 0;
    int64_t n_head = 0;
    int64_t n_head_kv = 0;  // = n_head when the config has no num_key_value_heads
    int64_t vocab_size = 0;
    std::optional<int64_t> n_ctx;
    std::optional<int64_t> head_dim;  // only when config.json states it
    bool tied_embeddings = false;
};

// Reads the architecture and hyperparameters. Unsupported (6) for an architecture outside
// the list or a quantized checkpoint; CorruptInput (8) for a missing or malformed value.
HfConfig parse_config(json config, std::string who);

// GGUF hyperparameter keys in llama.cpp's order: the block from block_count to value_length
// (before general.file_type), and the architecture's keys after it.
std::vector<gguf::KeyValue> hyperparameters(const HfConfig& config);
std::vector<gguf::KeyValue> architecture_tail(const HfConfig& config);

// Llama 3.1-style RoPE ("rope_type": "llama3"): the per-dimension frequency factors that
// llama.cpp stores as a rope_freqs.weight tensor (F32, head_dim / 2). Empty for other models.
std::vector<float> llama3_rope_factors(const HfConfig& config);

// ---- tensor names ---------------------------------------------------------------------------

struct TensorTarget {
    std::string name;           // GGUF name
    int64_t permute_heads = 0;  // > 0: rows regrouped per head for ggml's RoPE
};

// GGUF name of a HuggingFace tensor; nullopt for tensors the conversion drops (rotary
// inv_freq buffers, lm_head of tied models). Unsupported (6) for a name the architecture does
// not have.
std::optional<TensorTarget> map_tensor_name(const HfConfig& config, const std::string& hf_name);

// ---- rows -------------------------------------------------------------------------------------

// Where one tensor's bytes are and how they become GGUF rows.
struct RowSource {
    std::shared_ptr<const ByteSource> file;
    uint64_t offset = 0;              // absolute offset of the first byte
    GgmlType stored = GgmlType::F32;  // F32, F16 or BF16 in the file
    GgmlType target = GgmlType::F32;  // type delivered to the reader
    int64_t row_length = 0;           // ne[0]
    int64_t rows = 0;                 // ne[1] * ne[2] * ne[3]
    int64_t permute_heads = 0;
    std::string name;  // GGUF name for messages
};

// Reads rows [row0, row0 + nrows) in the target type into out. With permute_heads, output row
// h*d + 2i + j is stored row h*d + j*d/2 + i (d = rows per head); a 1-D tensor (a bias) is
// permuted element-wise the same way. Memory: the requested rows plus at most two heads.
void read_rows(const RowSource& src, int64_t row0, int64_t nrows, std::span<uint8_t> out);

// ---- tokenizers -------------------------------------------------------------------------------

// GGUF token types (llama.cpp's llama_token_type, the same numbers as SentencePiece's).
enum TokenType : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

struct Vocab {
    std::string model;  // tokenizer.ggml.model: "llama" or "gpt2"
    std::string pre;    // tokenizer.ggml.pre
    std::vector<std::string> tokens;
    std::vector<float> scores;  // "llama" only
    std::vector<int32_t> types;
    std::vector<std::string> merges;  // "gpt2" only
};

// tokenizer.model: a SentencePiece ModelProto. Pieces, scores and types go to slots
// [0, pieces); the rest up to vocab_size are "[PAD<i>]" placeholders (pieces beyond it are
// dropped with a warning). CorruptInput for a malformed protobuf.
Vocab read_sentencepiece(std::span<const uint8_t> bytes, const std::string& who, int64_t vocab_size, std::vector<std::string>& warnings);

// llama.cpp's test for added tokens that are control tokens whatever their "special" flag
// says: <|...|>, <｜...｜>, <unused...>, <pad>, <mask>, <2mass>, [@BOS@].
bool looks_special(std::string_view token);

// Applies tokenizer_config.json's added_tokens_decoder and added_tokens.json to a SentencePiece
// vocabulary (control or user-defined tokens at fixed ids).
void apply_added_tokens(Vocab& vocab, const json* tokenizer_config, const json* added_tokens, std::vector<std::string>& warnings);

// tokenizer.json with a byte-level BPE model → "gpt2" tokens, types and merges, the
// pre-tokenizer name chosen from its regex. Unsupported (6) for other tokenizer models.
Vocab read_bpe_tokenizer(const json& tokenizer, const std::string& who, int64_t vocab_size, std::vector<std::string>& warnings);

// tokenizer.ggml.pre for a tokenizer.json pre_tokenizer; nullopt when the regex is not one
// llmq recognises.
std::optional<std::string> pre_tokenizer_name(const json& pre_tokenizer);

struct SpecialTokens {
    std::vector<std::pair<std::string, uint32_t>> ids;  // GGUF key, token id (in discovery order)
    std::vector<std::pair<std::string, bool>> flags;    // tokenizer.ggml.add_*_token
    std::optional<std::string> chat_template;
};

// Special token ids from tokenizer_config.json (names resolved against tokenizer.json's added
// tokens and the vocabulary), then config.json and generation_config.json ids for the kinds
// still missing; add_bos/add_eos; the chat template (tokenizer_config.json or
// chat_template.jinja).
SpecialTokens read_special_tokens(const FileSet& files, const Vocab& vocab, const json* tokenizer_json, const json* tokenizer_config,
                                  const json& config, std::vector<std::string>& warnings);

// The tokenizer.* keys in llama.cpp's order.
std::vector<gguf::KeyValue> tokenizer_metadata(const Vocab& vocab, const SpecialTokens& special);

}  // namespace llmq::hf
