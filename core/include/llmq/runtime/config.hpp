// The hyper-parameters of a llama-family model (llama, mistral, qwen2, qwen3), read from the
// GGUF metadata keys llama.cpp writes (`<arch>.embedding_length`, ...) and checked against the
// tensor shapes, so a forward pass never indexes past a weight.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "llmq/format/model.hpp"

namespace llmq {

// How RoPE pairs the dimensions of a head. llama.cpp's GGUF for "llama" has the Q/K rows
// permuted so that adjacent pairs (2i, 2i+1) rotate together; qwen2/qwen3 keep HF's layout,
// where dimension i pairs with i + n_rot/2 (GPT-NeoX style).
enum class RopeStyle { Normal, NeoX };

// How the RoPE frequencies base^(-2i/n_rot) are held. Exact: in double, angles in double (the
// model's definition; long contexts keep their precision). BFloat16: each frequency rounded to
// bfloat16, angles and their cos/sin in float32 — what transformers computes for a model that
// was cast to bfloat16 and back to float32 (its inv_freq buffer keeps the bf16 values). Only
// for reproducing such a run number for number; the difference is ~1e-3 of the logits.
enum class RopeFrequencies { Exact, BFloat16 };
// "exact" / "bf16", as the CLI's --rope-freqs and the JSON results spell them.
const char* rope_frequencies_name(RopeFrequencies f);
std::optional<RopeFrequencies> rope_frequencies_from_name(std::string_view name);

// How the forward pass rounds. Exact: float32 throughout, except that fp16 weights meet
// activations rounded to fp16 (the products are then exact, and llama.cpp does the same). Ggml:
// as llama.cpp's CPU backend computes (ggml-formats.md §1.5): every matmul's activations are
// rounded to the weight's dot-product type first (Q8_K for k- and i-quants, Q8_0 for the 32-blocks,
// Q8_1 for q4_1/q5_1, bf16 for bf16 weights) and K and V are kept in fp16, as its KV cache
// keeps them; for reproducing llama-perplexity's figures (its KL divergence in particular) number
// for number rather than within the noise that rounding adds.
enum class Numerics { Exact, Ggml };
// "exact" / "ggml", as the CLI's --numerics and the JSON results spell them.
const char* numerics_name(Numerics n);
std::optional<Numerics> numerics_from_name(std::string_view name);

struct ModelConfig {
    std::string arch;
    int64_t n_embd = 0;
    int64_t n_layer = 0;
    int64_t n_head = 0;
    int64_t n_head_kv = 0;
    int64_t head_dim = 0;    // key_length: width of one Q/K head
    int64_t head_dim_v = 0;  // value_length: width of one V head
    int64_t n_ff = 0;        // from metadata; each layer checks its own tensors
    int64_t n_vocab = 0;
    int64_t n_rot = 0;        // rotated dimensions of each head (<= head_dim, even)
    int64_t n_ctx_train = 0;  // 0 when unknown
    double rope_theta = 10000.0;
    double rope_freq_scale = 1.0;  // linear RoPE scaling: positions are multiplied by it
    float rms_eps = 1e-5f;
    RopeStyle rope = RopeStyle::Normal;
    bool tied_output = false;        // no output.weight: the token embedding is the output matrix
    bool qk_norm = false;            // qwen3: RMSNorm over each Q and K head before RoPE
    bool rope_freq_factors = false;  // rope_freqs.weight divides each frequency (Llama 3.1)
    // A run-time choice, not read from the file: the executors set it from their options, so
    // every kernel of the forward pass sees it with the shapes.
    Numerics numerics = Numerics::Exact;

    int64_t q_dim() const { return n_head * head_dim; }
    int64_t kv_dim() const { return n_head_kv * head_dim; }
    int64_t v_dim() const { return n_head_kv * head_dim_v; }
};

// Reads and validates the configuration. Failure(Unsupported) for other architectures
// (naming the supported ones) and for features the runtime lacks (experts, per-layer head
// counts, RoPE scaling other than linear); Failure(CorruptInput) for missing keys,
// inconsistent values or tensors whose shapes disagree with them.
ModelConfig model_config(const ModelView& model);

// "blk.<layer>.<what>.weight" and friends.
std::string layer_tensor_name(int64_t layer, const char* what, const char* suffix = "weight");

}  // namespace llmq
