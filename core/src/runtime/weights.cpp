// Loading layer weights from a ModelView in bounded reads, and token embedding lookups.
#include "llmq/runtime/weights.hpp"

#include <algorithm>
#include <map>

#include "llmq/error.hpp"
#include "llmq/quant/codec.hpp"

namespace llmq {
namespace {

void check_decodable(const ModelTensor& t) {
    if (!traits(t.type).dequantize) {
        fail(ExitCode::Unsupported, "tensor " + t.name + " has type " + std::string(type_name(t.type)) + ", which llmq cannot decode yet",
             "supported weight types: f32 f16 bf16 q4_0 q4_1 q5_0 q5_1 q8_0 q2_K q3_K q4_K q5_K q6_K");
    }
}

const ModelTensor& require(const ModelView& model, const std::string& name) {
    const ModelTensor* t = model.find_tensor(name);
    if (!t) fail(ExitCode::CorruptInput, model.path + ": tensor " + name + " is missing");
    return *t;
}

std::vector<float> optional_vector(const ModelView& model, const std::string& name, int64_t expected) {
    const ModelTensor* t = model.find_tensor(name);
    if (!t) return {};
    if (t->n_elements() != expected) {
        fail(ExitCode::CorruptInput,
             model.path + ": tensor " + name + " has " + std::to_string(t->n_elements()) + " elements, expected " + std::to_string(expected));
    }
    return load_vector(*t);
}

std::vector<float> required_vector(const ModelView& model, const std::string& name, int64_t expected) {
    require(model, name);
    return optional_vector(model, name, expected);
}

void check_token(int32_t id, int64_t n_vocab) {
    if (id < 0 || id >= n_vocab) {
        fail(ExitCode::Usage, "token id " + std::to_string(id) + " is outside the vocabulary (0.." + std::to_string(n_vocab - 1) + ")");
    }
}

}  // namespace

uint64_t LayerWeights::bytes() const {
    uint64_t n = 0;
    for (const Matrix* m : {&wq, &wk, &wv, &wo, &gate, &up, &down}) n += m->data.size();
    for (const auto* v : {&attn_norm, &ffn_norm, &bq, &bk, &bv, &bo, &q_norm, &k_norm}) n += v->size() * sizeof(float);
    return n;
}

Matrix load_matrix(const ModelTensor& tensor, uint64_t chunk_bytes) {
    Matrix m;
    load_matrix(tensor, m, chunk_bytes);
    return m;
}

void load_matrix(const ModelTensor& tensor, Matrix& m, uint64_t chunk_bytes) {
    check_decodable(tensor);
    m.name = tensor.name;
    m.type = tensor.type;
    m.n_in = tensor.ne[0];
    m.n_out = tensor.n_rows();
    const uint64_t row_bytes = m.row_bytes();
    m.data.resize(row_bytes * static_cast<uint64_t>(m.n_out));
    const int64_t rows_per_read = std::max<int64_t>(1, static_cast<int64_t>(chunk_bytes / std::max<uint64_t>(1, row_bytes)));
    for (int64_t r = 0; r < m.n_out; r += rows_per_read) {
        const int64_t n = std::min(rows_per_read, m.n_out - r);
        tensor.read_rows(r, n, std::span<uint8_t>(m.data.data() + static_cast<uint64_t>(r) * row_bytes, static_cast<uint64_t>(n) * row_bytes));
    }
}

std::vector<float> load_vector(const ModelTensor& tensor) {
    check_decodable(tensor);
    std::vector<uint8_t> bytes(tensor.nbytes());
    tensor.read_rows(0, tensor.n_rows(), bytes);
    std::vector<float> out(static_cast<size_t>(tensor.n_elements()));
    dequantize(tensor.type, bytes, out);
    return out;
}

void decode_row(const Matrix& m, int64_t r, std::span<float> out) {
    dequantize(m.type, std::span<const uint8_t>(m.row(r), m.row_bytes()), out.first(static_cast<size_t>(m.n_in)));
}

LayerWeights load_layer(const ModelView& model, const ModelConfig& c, int64_t layer, uint64_t chunk_bytes) {
    LayerWeights w;
    load_layer(model, c, layer, w, chunk_bytes);
    return w;
}

void load_layer(const ModelView& model, const ModelConfig& c, int64_t layer, LayerWeights& w, uint64_t chunk_bytes) {
    auto name = [layer](const char* what, const char* suffix = "weight") { return layer_tensor_name(layer, what, suffix); };
    w.index = layer;
    w.attn_norm = required_vector(model, name("attn_norm"), c.n_embd);
    w.ffn_norm = required_vector(model, name("ffn_norm"), c.n_embd);
    load_matrix(require(model, name("attn_q")), w.wq, chunk_bytes);
    load_matrix(require(model, name("attn_k")), w.wk, chunk_bytes);
    load_matrix(require(model, name("attn_v")), w.wv, chunk_bytes);
    load_matrix(require(model, name("attn_output")), w.wo, chunk_bytes);
    load_matrix(require(model, name("ffn_gate")), w.gate, chunk_bytes);
    load_matrix(require(model, name("ffn_up")), w.up, chunk_bytes);
    load_matrix(require(model, name("ffn_down")), w.down, chunk_bytes);
    w.bq = optional_vector(model, name("attn_q", "bias"), c.q_dim());
    w.bk = optional_vector(model, name("attn_k", "bias"), c.kv_dim());
    w.bv = optional_vector(model, name("attn_v", "bias"), c.v_dim());
    w.bo = optional_vector(model, name("attn_output", "bias"), c.n_embd);
    if (c.qk_norm) {
        w.q_norm = required_vector(model, name("attn_q_norm"), c.head_dim);
        w.k_norm = required_vector(model, name("attn_k_norm"), c.head_dim);
    }
}

std::vector<float> load_output_norm(const ModelView& model, const ModelConfig& c) {
    return required_vector(model, "output_norm.weight", c.n_embd);
}

OutputWeights load_output(const ModelView& model, const ModelConfig& c, uint64_t chunk_bytes) {
    OutputWeights o;
    o.norm = load_output_norm(model, c);
    o.output = load_matrix(require(model, c.tied_output ? "token_embd.weight" : "output.weight"), chunk_bytes);
    return o;
}

std::vector<float> load_rope_factors(const ModelView& model, const ModelConfig& c) {
    if (!c.rope_freq_factors) return {};
    return load_vector(require(model, "rope_freqs.weight"));
}

void embed_tokens(const ModelView& model, const ModelConfig& c, std::span<const int32_t> tokens, std::span<float> out) {
    const ModelTensor& embd = require(model, "token_embd.weight");
    check_decodable(embd);
    const size_t n_embd = static_cast<size_t>(c.n_embd);
    // Each distinct id is read and decoded once, then copied to every position using it.
    std::map<int32_t, std::vector<size_t>> positions;
    for (size_t i = 0; i < tokens.size(); ++i) {
        check_token(tokens[i], c.n_vocab);
        positions[tokens[i]].push_back(i);
    }
    std::vector<uint8_t> bytes(row_size(embd.type, embd.ne[0]));
    std::vector<float> row(n_embd);
    for (const auto& [id, where] : positions) {
        embd.read_rows(id, 1, bytes);
        dequantize(embd.type, bytes, row);
        for (size_t i : where) std::copy(row.begin(), row.end(), out.begin() + static_cast<std::ptrdiff_t>(i * n_embd));
    }
}

void embed_tokens(const Matrix& token_embd, std::span<const int32_t> tokens, std::span<float> out) {
    const size_t n_embd = static_cast<size_t>(token_embd.n_in);
    for (size_t i = 0; i < tokens.size(); ++i) {
        check_token(tokens[i], token_embd.n_out);
        decode_row(token_embd, tokens[i], out.subspan(i * n_embd, n_embd));
    }
}

}  // namespace llmq
