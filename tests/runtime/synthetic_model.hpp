// Small random llama-family GGUF models built in memory (any architecture the runtime supports,
// any weight type), and an independent, plain double-precision forward pass to check the
// runtime against on them: written from the architecture descriptions, sharing no code with
// the runtime's kernels, layer or executors.
#pragma once

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "llmq/format/gguf.hpp"
#include "llmq/format/model.hpp"
#include "llmq/io/memory.hpp"
#include "llmq/quant/codec.hpp"
#include "quant/scalar.hpp"

namespace llmq::test {

struct SyntheticSpec {
    std::string arch = "llama";  // llama | qwen2 | qwen3
    int64_t n_embd = 64, n_layer = 2, n_head = 4, n_head_kv = 2, head_dim = 16, n_ff = 96, n_vocab = 128;
    bool biases = false;   // q/k/v biases (qwen2)
    bool qk_norm = false;  // qwen3
    bool tied = false;
    GgmlType type = GgmlType::F32;  // type of the weight matrices
    double theta = 10000.0;
    double rope_scale = 1.0;  // linear RoPE scaling factor (1: none)
    float eps = 1e-5f;
    uint32_t seed = 1;
};

namespace synthetic_detail {

struct Tensor {
    std::string name;
    std::vector<int64_t> ne;
    GgmlType type;
    std::vector<uint8_t> bytes;
};

inline std::vector<uint8_t> encode(GgmlType type, const std::vector<float>& v, int64_t n_per_row) {
    std::vector<uint8_t> out(row_size(type, n_per_row) * (v.size() / static_cast<size_t>(n_per_row)));
    quantize_rows(type, v, out, n_per_row);
    return out;
}

}  // namespace synthetic_detail

inline ModelView make_synthetic_model(const SyntheticSpec& s) {
    using synthetic_detail::Tensor;
    std::mt19937 rng(s.seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<Tensor> tensors;
    auto matrix = [&](const std::string& name, int64_t n_in, int64_t n_out, GgmlType type) {
        std::vector<float> v(static_cast<size_t>(n_in * n_out));
        const float scale = 1.0f / std::sqrt(static_cast<float>(n_in));
        for (auto& x : v) x = normal(rng) * scale;
        tensors.push_back({name, {n_in, n_out}, type, synthetic_detail::encode(type, v, n_in)});
    };
    auto vector = [&](const std::string& name, int64_t n, float mean, float spread) {
        std::vector<float> v(static_cast<size_t>(n));
        for (auto& x : v) x = mean + spread * normal(rng);
        tensors.push_back({name, {n}, GgmlType::F32, synthetic_detail::encode(GgmlType::F32, v, n)});
    };
    // The embedding rows need a larger scale: they are not normalised before the first layer.
    {
        std::vector<float> v(static_cast<size_t>(s.n_embd * s.n_vocab));
        for (auto& x : v) x = normal(rng);
        tensors.push_back({"token_embd.weight", {s.n_embd, s.n_vocab}, s.type, synthetic_detail::encode(s.type, v, s.n_embd)});
    }
    for (int64_t l = 0; l < s.n_layer; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        vector(p + "attn_norm.weight", s.n_embd, 1.0f, 0.2f);
        matrix(p + "attn_q.weight", s.n_embd, s.n_head * s.head_dim, s.type);
        matrix(p + "attn_k.weight", s.n_embd, s.n_head_kv * s.head_dim, s.type);
        matrix(p + "attn_v.weight", s.n_embd, s.n_head_kv * s.head_dim, s.type);
        if (s.biases) {
            vector(p + "attn_q.bias", s.n_head * s.head_dim, 0.0f, 0.3f);
            vector(p + "attn_k.bias", s.n_head_kv * s.head_dim, 0.0f, 0.3f);
            vector(p + "attn_v.bias", s.n_head_kv * s.head_dim, 0.0f, 0.3f);
        }
        if (s.qk_norm) {
            vector(p + "attn_q_norm.weight", s.head_dim, 1.0f, 0.3f);
            vector(p + "attn_k_norm.weight", s.head_dim, 1.0f, 0.3f);
        }
        matrix(p + "attn_output.weight", s.n_head * s.head_dim, s.n_embd, s.type);
        vector(p + "ffn_norm.weight", s.n_embd, 1.0f, 0.2f);
        matrix(p + "ffn_gate.weight", s.n_embd, s.n_ff, s.type);
        matrix(p + "ffn_up.weight", s.n_embd, s.n_ff, s.type);
        matrix(p + "ffn_down.weight", s.n_ff, s.n_embd, s.type);
    }
    vector("output_norm.weight", s.n_embd, 1.0f, 0.2f);
    if (!s.tied) matrix("output.weight", s.n_embd, s.n_vocab, s.type);

    const std::string a = s.arch;
    std::vector<gguf::KeyValue> kv = {
        {"general.architecture", gguf::Value::string(a)},
        {a + ".embedding_length", gguf::Value::u32(static_cast<uint32_t>(s.n_embd))},
        {a + ".block_count", gguf::Value::u32(static_cast<uint32_t>(s.n_layer))},
        {a + ".feed_forward_length", gguf::Value::u32(static_cast<uint32_t>(s.n_ff))},
        {a + ".attention.head_count", gguf::Value::u32(static_cast<uint32_t>(s.n_head))},
        {a + ".attention.head_count_kv", gguf::Value::u32(static_cast<uint32_t>(s.n_head_kv))},
        {a + ".attention.key_length", gguf::Value::u32(static_cast<uint32_t>(s.head_dim))},
        {a + ".attention.value_length", gguf::Value::u32(static_cast<uint32_t>(s.head_dim))},
        {a + ".attention.layer_norm_rms_epsilon", gguf::Value::f32(s.eps)},
        {a + ".rope.freq_base", gguf::Value::f32(static_cast<float>(s.theta))},
        {a + ".context_length", gguf::Value::u32(512)},
    };
    if (s.rope_scale != 1.0) {
        kv.push_back({a + ".rope.scaling.type", gguf::Value::string("linear")});
        kv.push_back({a + ".rope.scaling.factor", gguf::Value::f32(static_cast<float>(s.rope_scale))});
    }
    std::vector<gguf::TensorDecl> decls;
    for (const auto& t : tensors) {
        gguf::TensorDecl d;
        d.name = t.name;
        d.n_dims = static_cast<uint32_t>(t.ne.size());
        for (size_t i = 0; i < t.ne.size(); ++i) d.ne[i] = t.ne[i];
        d.type = t.type;
        decls.push_back(d);
    }
    MemorySink sink;
    gguf::Writer writer(sink, kv, decls);
    for (const auto& t : tensors) writer.write_data(t.bytes);
    writer.finish();
    sink.finish();
    return open_gguf_model(std::make_shared<MemorySource>(sink.bytes(), "synthetic-" + s.arch + ".gguf"));
}

// Plain forward pass in double over a whole sequence; returns the logits of every position.
inline std::vector<std::vector<double>> reference_forward(const ModelView& model, const SyntheticSpec& s, const std::vector<int32_t>& ids) {
    using V = std::vector<double>;
    auto read = [&](const std::string& name) {
        const ModelTensor* t = model.find_tensor(name);
        std::vector<uint8_t> bytes(t->nbytes());
        t->read_rows(0, t->n_rows(), bytes);
        std::vector<float> f(static_cast<size_t>(t->n_elements()));
        dequantize(t->type, bytes, f);
        return V(f.begin(), f.end());
    };
    auto has = [&](const std::string& name) { return model.find_tensor(name) != nullptr; };
    // w: n_out rows of x.size(). fp16 weights multiply the input rounded to fp16, as llama.cpp's
    // matmul (and llmq's, docs/runtime.md) does.
    auto linear = [&s](const V& w, const V& x_in, int64_t n_out) {
        V x = x_in;
        if (s.type == GgmlType::F16) {
            for (double& v : x) v = quant::fp16_to_fp32(quant::fp32_to_fp16(static_cast<float>(v)));
        }
        const size_t n_in = x.size();
        V y(static_cast<size_t>(n_out), 0.0);
        for (size_t o = 0; o < y.size(); ++o)
            for (size_t k = 0; k < n_in; ++k) y[o] += w[o * n_in + k] * x[k];
        return y;
    };
    auto rmsnorm = [&](const V& x, const V& w) {
        double ss = 0.0;
        for (double v : x) ss += v * v;
        const double r = 1.0 / std::sqrt(ss / static_cast<double>(x.size()) + s.eps);
        V y(x.size());
        for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * r * w[i];
        return y;
    };
    const bool neox = s.arch != "llama";
    const int64_t hd = s.head_dim, T = static_cast<int64_t>(ids.size());
    auto rope = [&](double* head, int64_t pos) {
        for (int64_t i = 0; i < hd / 2; ++i) {
            const double angle = static_cast<double>(pos) / s.rope_scale * std::pow(s.theta, -2.0 * static_cast<double>(i) / static_cast<double>(hd));
            const int64_t a = neox ? i : 2 * i, b = neox ? i + hd / 2 : 2 * i + 1;
            const double x0 = head[a], x1 = head[b];
            head[a] = x0 * std::cos(angle) - x1 * std::sin(angle);
            head[b] = x0 * std::sin(angle) + x1 * std::cos(angle);
        }
    };
    const V embd = read("token_embd.weight");
    std::vector<V> x(static_cast<size_t>(T));
    for (int64_t t = 0; t < T; ++t)
        x[static_cast<size_t>(t)].assign(embd.begin() + ids[static_cast<size_t>(t)] * s.n_embd,
                                         embd.begin() + (ids[static_cast<size_t>(t)] + 1) * s.n_embd);
    for (int64_t l = 0; l < s.n_layer; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        const V wq = read(p + "attn_q.weight"), wk = read(p + "attn_k.weight"), wv = read(p + "attn_v.weight"), wo = read(p + "attn_output.weight");
        std::vector<V> q(static_cast<size_t>(T)), k(static_cast<size_t>(T)), v(static_cast<size_t>(T));
        for (int64_t t = 0; t < T; ++t) {
            const size_t ti = static_cast<size_t>(t);
            const V xn = rmsnorm(x[ti], read(p + "attn_norm.weight"));
            q[ti] = linear(wq, xn, s.n_head * hd);
            k[ti] = linear(wk, xn, s.n_head_kv * hd);
            v[ti] = linear(wv, xn, s.n_head_kv * hd);
            if (has(p + "attn_q.bias")) {
                const V bq = read(p + "attn_q.bias"), bk = read(p + "attn_k.bias"), bv = read(p + "attn_v.bias");
                for (size_t i = 0; i < bq.size(); ++i) q[ti][i] += bq[i];
                for (size_t i = 0; i < bk.size(); ++i) k[ti][i] += bk[i];
                for (size_t i = 0; i < bv.size(); ++i) v[ti][i] += bv[i];
            }
            for (int64_t h = 0; h < s.n_head; ++h) {
                if (s.qk_norm) {
                    const V head(q[ti].begin() + h * hd, q[ti].begin() + (h + 1) * hd);
                    const V n = rmsnorm(head, read(p + "attn_q_norm.weight"));
                    std::copy(n.begin(), n.end(), q[ti].begin() + h * hd);
                }
                rope(q[ti].data() + h * hd, t);
            }
            for (int64_t h = 0; h < s.n_head_kv; ++h) {
                if (s.qk_norm) {
                    const V head(k[ti].begin() + h * hd, k[ti].begin() + (h + 1) * hd);
                    const V n = rmsnorm(head, read(p + "attn_k_norm.weight"));
                    std::copy(n.begin(), n.end(), k[ti].begin() + h * hd);
                }
                rope(k[ti].data() + h * hd, t);
            }
        }
        for (int64_t t = 0; t < T; ++t) {
            V att(static_cast<size_t>(s.n_head * hd), 0.0);
            for (int64_t h = 0; h < s.n_head; ++h) {
                const int64_t g = h / (s.n_head / s.n_head_kv);
                V score(static_cast<size_t>(t + 1));
                double m = -1e300;
                for (int64_t j = 0; j <= t; ++j) {
                    double d = 0.0;
                    for (int64_t i = 0; i < hd; ++i)
                        d += q[static_cast<size_t>(t)][static_cast<size_t>(h * hd + i)] * k[static_cast<size_t>(j)][static_cast<size_t>(g * hd + i)];
                    score[static_cast<size_t>(j)] = d / std::sqrt(static_cast<double>(hd));
                    m = std::max(m, score[static_cast<size_t>(j)]);
                }
                double sum = 0.0;
                for (auto& e : score) sum += (e = std::exp(e - m));
                for (int64_t j = 0; j <= t; ++j)
                    for (int64_t i = 0; i < hd; ++i)
                        att[static_cast<size_t>(h * hd + i)] +=
                            score[static_cast<size_t>(j)] / sum * v[static_cast<size_t>(j)][static_cast<size_t>(g * hd + i)];
            }
            const V o = linear(wo, att, s.n_embd);
            for (size_t i = 0; i < o.size(); ++i) x[static_cast<size_t>(t)][i] += o[i];
        }
        const V wg = read(p + "ffn_gate.weight"), wu = read(p + "ffn_up.weight"), wd = read(p + "ffn_down.weight");
        for (int64_t t = 0; t < T; ++t) {
            const V xn = rmsnorm(x[static_cast<size_t>(t)], read(p + "ffn_norm.weight"));
            V g = linear(wg, xn, s.n_ff);
            const V u = linear(wu, xn, s.n_ff);
            for (size_t i = 0; i < g.size(); ++i) g[i] = g[i] / (1.0 + std::exp(-g[i])) * u[i];
            const V d = linear(wd, g, s.n_embd);
            for (size_t i = 0; i < d.size(); ++i) x[static_cast<size_t>(t)][i] += d[i];
        }
    }
    const V out = read(s.tied ? "token_embd.weight" : "output.weight");
    std::vector<V> logits;
    for (int64_t t = 0; t < T; ++t) logits.push_back(linear(out, rmsnorm(x[static_cast<size_t>(t)], read("output_norm.weight")), s.n_vocab));
    return logits;
}

}  // namespace llmq::test
