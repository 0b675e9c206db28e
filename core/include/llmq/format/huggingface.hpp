// HuggingFace model directories as a ModelView: config.json gives the architecture and the GGUF
// hyperparameters, the safetensors shards the tensors (renamed to GGUF names, Q/K rows permuted
// for llama-style RoPE), tokenizer.model or tokenizer.json the vocabulary. The result is what
// llama.cpp's converter would write, but nothing is converted up front: each tensor reads its
// rows from the shards on demand, in the GGUF type the conversion gives it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llmq/format/model.hpp"

namespace llmq {

// Type of the tensors with two or more dimensions (1-D tensors, norms and biases, are F32
// whatever the choice, as in llama.cpp's converter).
enum class HfOuttype {
    Source,  // each tensor keeps the float type it is stored in (quantize reads this losslessly)
    F32,
    F16,
    BF16,
    Auto,  // llama.cpp's "auto": BF16 when the first weight is BF16, else F16
};

struct HfOptions {
    HfOuttype outtype = HfOuttype::Source;
    bool vocab = true;  // false: write no vocabulary (tokenizer.ggml.model = "none")
};

// Parses an --outtype word (f32, f16, bf16, auto; case-insensitive).
std::optional<HfOuttype> parse_outtype(std::string_view text);
std::string_view outtype_name(HfOuttype outtype);
// The type a float tensor stored as `current` gets: F32/F16/BF16 as asked; Source and Auto keep it.
GgmlType outtype_type(HfOuttype outtype, GgmlType current);

// Opens a HuggingFace model directory (headers, config and tokenizer files only). Supported:
// LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM with F32/F16/BF16
// weights. Problems that do not stop the conversion (no tokenizer, an unknown pre-tokenizer)
// are appended to *warnings. Throws Failure: no config.json or a missing shard (ModelNotFound),
// unsupported architecture, dtype or tensor (Unsupported), damaged files (CorruptInput).
ModelView open_hf_model(std::shared_ptr<const FileSet> files, const HfOptions& options = {}, std::vector<std::string>* warnings = nullptr);

}  // namespace llmq
