// The weights of one transformer layer (and of the embedding and output head) as the runtime
// holds them: matrices keep their stored type (any type llmq can decode) and are decoded a row
// block at a time inside the matmul; norms and biases are f32 vectors.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "llmq/format/model.hpp"
#include "llmq/runtime/config.hpp"

namespace llmq {

// A weight matrix of n_out rows of n_in elements (ggml ne = [n_in, n_out]) in its stored type.
struct Matrix {
    std::string name;  // GGUF tensor name, as observers report it
    GgmlType type = GgmlType::F32;
    int64_t n_in = 0;
    int64_t n_out = 0;
    std::vector<uint8_t> data;  // n_out rows of row_bytes()

    uint64_t row_bytes() const { return row_size(type, n_in); }
    const uint8_t* row(int64_t r) const { return data.data() + static_cast<uint64_t>(r) * row_bytes(); }
};

struct LayerWeights {
    int64_t index = 0;
    std::vector<float> attn_norm, ffn_norm;
    Matrix wq, wk, wv, wo, gate, up, down;
    std::vector<float> bq, bk, bv, bo;  // empty when the model has none
    std::vector<float> q_norm, k_norm;  // qwen3: per-head RMSNorm weights (head_dim)

    uint64_t bytes() const;
};

struct OutputWeights {
    std::vector<float> norm;
    Matrix output;  // output.weight, or token_embd.weight for tied embeddings
};

// Default bound on one read from the source while loading.
inline constexpr uint64_t kDefaultReadChunk = 16ull << 20;

// Reads a whole tensor as a matrix, in reads of at most chunk_bytes. Failure(Unsupported) when
// llmq cannot decode its type.
Matrix load_matrix(const ModelTensor& tensor, uint64_t chunk_bytes = kDefaultReadChunk);
// The same into an existing matrix, reusing its buffer (no fresh pages for every layer).
void load_matrix(const ModelTensor& tensor, Matrix& into, uint64_t chunk_bytes = kDefaultReadChunk);
// Reads a tensor of any decodable type as floats.
std::vector<float> load_vector(const ModelTensor& tensor);

LayerWeights load_layer(const ModelView& model, const ModelConfig& config, int64_t layer, uint64_t chunk_bytes = kDefaultReadChunk);
// Loads a layer into the buffers of a previous one (the layer streamer's working set).
void load_layer(const ModelView& model, const ModelConfig& config, int64_t layer, LayerWeights& into, uint64_t chunk_bytes = kDefaultReadChunk);
OutputWeights load_output(const ModelView& model, const ModelConfig& config, uint64_t chunk_bytes = kDefaultReadChunk);
// output_norm.weight alone (a resident model with tied embeddings shares the matrix).
std::vector<float> load_output_norm(const ModelView& model, const ModelConfig& config);

// rope_freqs.weight when the model has one (config.rope_freq_factors), else empty.
std::vector<float> load_rope_factors(const ModelView& model, const ModelConfig& config);

// Decodes row r of a matrix into out (n_in floats).
void decode_row(const Matrix& m, int64_t r, std::span<float> out);

// Embeds tokens by reading their rows of token_embd.weight from the source (each distinct id
// once); out holds tokens.size() * n_embd floats. Failure(Usage) for an id outside the vocabulary.
void embed_tokens(const ModelView& model, const ModelConfig& config, std::span<const int32_t> tokens, std::span<float> out);
// The same from a resident embedding matrix.
void embed_tokens(const Matrix& token_embd, std::span<const int32_t> tokens, std::span<float> out);

}  // namespace llmq
