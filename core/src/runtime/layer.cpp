// The llama-family block: RMSNorm → Q/K/V (+bias) → [Q/K norm] → RoPE → causal grouped-query
// attention → output projection + residual → RMSNorm → SwiGLU FFN + residual.
#include "runtime/layer.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "runtime/activations.hpp"
#include "runtime/kernels.hpp"

namespace llmq::runtime {
namespace {

void observe(MatmulObserver* observer, const Matrix& m, int64_t layer, const std::vector<float>& x, int64_t n_tokens) {
    if (!observer) return;
    observer->on_matmul({m.name, layer, m.n_in, m.n_out, n_tokens, std::span<const float>(x.data(), static_cast<size_t>(n_tokens * m.n_in))});
}

void project(const Matrix& m, const std::vector<float>& bias, const std::vector<float>& x, int64_t n_tokens, std::vector<float>& y, int64_t layer,
             Numerics numerics, ParallelFor& parallel, MatmulObserver* observer) {
    observe(observer, m, layer, x, n_tokens);
    y.resize(static_cast<size_t>(n_tokens * m.n_out));
    matmul(m, std::span<const float>(x.data(), static_cast<size_t>(n_tokens * m.n_in)), n_tokens, y, parallel, numerics);
    if (!bias.empty()) {
        for (int64_t t = 0; t < n_tokens; ++t) add_to(y.data() + t * m.n_out, bias.data(), m.n_out);
    }
    if (observer && observer->wants_output()) {
        observer->on_matmul_output(
            {m.name, layer, m.n_in, m.n_out, n_tokens, std::span<const float>(x.data(), static_cast<size_t>(n_tokens * m.n_in))},
            std::span<const float>(y.data(), static_cast<size_t>(n_tokens * m.n_out)));
    }
}

constexpr int64_t kQueryBlock = 32;  // queries of one head per attention task

// fn(t) for every token t, spread over the threads in blocks (norms, RoPE, residuals: each
// token's result is computed alone, so the split changes nothing).
template <class Fn>
void for_each_token(ParallelFor& parallel, int64_t n_tokens, const Fn& fn) {
    constexpr int64_t kBlock = 16;
    parallel.run((n_tokens + kBlock - 1) / kBlock, [&](int64_t b) {
        for (int64_t t = b * kBlock; t < std::min(n_tokens, (b + 1) * kBlock); ++t) fn(t);
    });
}

struct AttentionTask {
    size_t segment;
    int64_t head;
    int64_t q0, q1;  // query rows within the segment
};

void attention(const ModelConfig& c, std::span<const Segment> segments, LayerScratch& s, ParallelFor& parallel) {
    const int64_t q_dim = c.q_dim(), kv_dim = c.kv_dim(), v_dim = c.v_dim();
    const int64_t out_dim = c.n_head * c.head_dim_v;
    const int64_t group = c.n_head / c.n_head_kv;
    const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(c.head_dim)));
    std::vector<AttentionTask> tasks;
    for (size_t i = 0; i < segments.size(); ++i) {
        for (int64_t h = 0; h < c.n_head; ++h) {
            for (int64_t q0 = 0; q0 < segments[i].n; q0 += kQueryBlock) tasks.push_back({i, h, q0, std::min(segments[i].n, q0 + kQueryBlock)});
        }
    }
    parallel.run(static_cast<int64_t>(tasks.size()), [&](int64_t ti) {
        const AttentionTask& task = tasks[static_cast<size_t>(ti)];
        const Segment& seg = segments[task.segment];
        const float* keys = seg.k_cache ? seg.k_cache : s.k.data() + seg.row * kv_dim;
        const float* values = seg.v_cache ? seg.v_cache : s.v.data() + seg.row * v_dim;
        const int64_t kvh = task.head / group;
        thread_local std::vector<float> scores;
        for (int64_t i = task.q0; i < task.q1; ++i) {
            const int64_t n_keys = seg.n_past + i + 1;  // causal: positions 0..pos
            scores.resize(static_cast<size_t>(n_keys));
            const float* q = s.q.data() + (seg.row + i) * q_dim + task.head * c.head_dim;
            float max_score = -std::numeric_limits<float>::infinity();
            for (int64_t j = 0; j < n_keys; ++j) {
                const float sc = dot(q, keys + j * kv_dim + kvh * c.head_dim, c.head_dim) * scale;
                scores[static_cast<size_t>(j)] = sc;
                max_score = std::max(max_score, sc);
            }
            float* out = s.attn.data() + (seg.row + i) * out_dim + task.head * c.head_dim_v;
            std::fill(out, out + c.head_dim_v, 0.0f);
            float sum = 0.0f;
            for (int64_t j = 0; j < n_keys; ++j) {
                const float p = std::exp(scores[static_cast<size_t>(j)] - max_score);
                sum += p;
                axpy(p, values + j * v_dim + kvh * c.head_dim_v, out, c.head_dim_v);
            }
            const float inv = 1.0f / sum;
            for (int64_t d = 0; d < c.head_dim_v; ++d) out[d] *= inv;
        }
    });
}

}  // namespace

void forward_layer(const LayerWeights& w, const ModelConfig& c, const RopeTable& rope, std::span<float> x, int64_t n_tokens,
                   std::span<const Segment> segments, LayerScratch& s, ParallelFor& parallel, MatmulObserver* observer) {
    const int64_t E = c.n_embd, L = w.index;
    s.xn.resize(static_cast<size_t>(n_tokens * E));
    for_each_token(parallel, n_tokens, [&](int64_t t) { rms_norm(x.data() + t * E, w.attn_norm.data(), s.xn.data() + t * E, E, c.rms_eps); });

    project(w.wq, w.bq, s.xn, n_tokens, s.q, L, c.numerics, parallel, observer);
    project(w.wk, w.bk, s.xn, n_tokens, s.k, L, c.numerics, parallel, observer);
    project(w.wv, w.bv, s.xn, n_tokens, s.v, L, c.numerics, parallel, observer);

    const int64_t q_dim = c.q_dim(), kv_dim = c.kv_dim(), v_dim = c.v_dim();
    for (const Segment& seg : segments) {
        for_each_token(parallel, seg.n, [&](int64_t i) {
            const int64_t t = seg.row + i, pos = seg.n_past + i;
            for (int64_t h = 0; h < c.n_head; ++h) {
                float* q = s.q.data() + t * q_dim + h * c.head_dim;
                if (c.qk_norm) rms_norm(q, w.q_norm.data(), q, c.head_dim, c.rms_eps);
                rope.apply(q, pos);
            }
            for (int64_t h = 0; h < c.n_head_kv; ++h) {
                float* k = s.k.data() + t * kv_dim + h * c.head_dim;
                if (c.qk_norm) rms_norm(k, w.k_norm.data(), k, c.head_dim, c.rms_eps);
                rope.apply(k, pos);
            }
        });
        if (c.numerics == Numerics::Ggml) {
            // llama.cpp's KV cache holds fp16; its flash attention reads K and V back from it
            // (the queries stay float32 for a batch of prompt tokens).
            for_each_token(parallel, seg.n, [&](int64_t i) {
                const int64_t t = seg.row + i;
                round_activations(ActivationGrid::Half, s.k.data() + t * kv_dim, s.k.data() + t * kv_dim, kv_dim);
                round_activations(ActivationGrid::Half, s.v.data() + t * v_dim, s.v.data() + t * v_dim, v_dim);
            });
        }
        if (seg.k_cache) {
            std::copy_n(s.k.data() + seg.row * kv_dim, seg.n * kv_dim, seg.k_cache + seg.n_past * kv_dim);
            std::copy_n(s.v.data() + seg.row * v_dim, seg.n * v_dim, seg.v_cache + seg.n_past * v_dim);
        }
    }

    s.attn.resize(static_cast<size_t>(n_tokens * c.n_head * c.head_dim_v));
    attention(c, segments, s, parallel);
    project(w.wo, w.bo, s.attn, n_tokens, s.out, L, c.numerics, parallel, observer);
    for_each_token(parallel, n_tokens, [&](int64_t t) {
        add_to(x.data() + t * E, s.out.data() + t * E, E);
        rms_norm(x.data() + t * E, w.ffn_norm.data(), s.xn.data() + t * E, E, c.rms_eps);
    });
    static const std::vector<float> no_bias;
    project(w.gate, no_bias, s.xn, n_tokens, s.ffn_gate, L, c.numerics, parallel, observer);
    project(w.up, no_bias, s.xn, n_tokens, s.ffn_up, L, c.numerics, parallel, observer);
    const int64_t F = w.gate.n_out;
    for_each_token(parallel, n_tokens, [&](int64_t t) { swiglu(s.ffn_gate.data() + t * F, s.ffn_up.data() + t * F, F); });
    project(w.down, no_bias, s.ffn_gate, n_tokens, s.out, L, c.numerics, parallel, observer);
    for_each_token(parallel, n_tokens, [&](int64_t t) { add_to(x.data() + t * E, s.out.data() + t * E, E); });
}

void forward_output(const std::vector<float>& norm, const Matrix& output, const ModelConfig& c, std::span<const float> x, int64_t n_tokens,
                    std::span<float> logits, std::vector<float>& scratch, ParallelFor& parallel, MatmulObserver* observer) {
    const int64_t E = c.n_embd;
    scratch.resize(static_cast<size_t>(n_tokens * E));
    for (int64_t t = 0; t < n_tokens; ++t) rms_norm(x.data() + t * E, norm.data(), scratch.data() + t * E, E, c.rms_eps);
    observe(observer, output, -1, scratch, n_tokens);
    matmul(output, std::span<const float>(scratch.data(), static_cast<size_t>(n_tokens * E)), n_tokens,
           logits.first(static_cast<size_t>(n_tokens * output.n_out)), parallel, c.numerics);
}

}  // namespace llmq::runtime
