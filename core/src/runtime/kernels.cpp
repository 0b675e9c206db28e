// The kernels behind the forward pass. The dot-product lane structure is eight floats wide on
// every target: one AVX2 register natively, two SSE/SIMD128 registers elsewhere, or a plain
// array, so all builds add the same numbers in the same order.
#include "runtime/kernels.hpp"

#include <algorithm>
#include <cmath>
#include <vector>
#include <xsimd/xsimd.hpp>

#include "llmq/quant/codec.hpp"

namespace llmq::runtime {
namespace {

#if XSIMD_WITH_AVX2
struct V8 {
    using B = xsimd::batch<float, xsimd::avx2>;
    B v;
    static V8 zero() { return {B(0.0f)}; }
    static V8 load(const float* p) { return {B::load_unaligned(p)}; }
    friend V8 operator+(V8 a, V8 b) { return {a.v + b.v}; }
    friend V8 operator*(V8 a, V8 b) { return {a.v * b.v}; }
    void store(float* p) const { v.store_unaligned(p); }
};
#elif XSIMD_WITH_SSE2
struct V8 {
    using B = xsimd::batch<float, xsimd::sse2>;
    B lo, hi;
    static V8 zero() { return {B(0.0f), B(0.0f)}; }
    static V8 load(const float* p) { return {B::load_unaligned(p), B::load_unaligned(p + 4)}; }
    friend V8 operator+(V8 a, V8 b) { return {a.lo + b.lo, a.hi + b.hi}; }
    friend V8 operator*(V8 a, V8 b) { return {a.lo * b.lo, a.hi * b.hi}; }
    void store(float* p) const {
        lo.store_unaligned(p);
        hi.store_unaligned(p + 4);
    }
};
#else
struct V8 {
    float l[8];
    static V8 zero() { return {}; }
    static V8 load(const float* p) {
        V8 r;
        std::copy(p, p + 8, r.l);
        return r;
    }
    friend V8 operator+(V8 a, V8 b) {
        for (int i = 0; i < 8; ++i) a.l[i] += b.l[i];
        return a;
    }
    friend V8 operator*(V8 a, V8 b) {
        for (int i = 0; i < 8; ++i) a.l[i] *= b.l[i];
        return a;
    }
    void store(float* p) const { std::copy(l, l + 8, p); }
};
#endif

inline float reduce(const V8& v) {
    float a[8];
    v.store(a);
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

// R weight rows against T activation rows: out[t * out_stride + r] = dot(w[r], x[t]). Each of
// the R*T sums is exactly what dot() computes; the blocking only saves loads.
template <int R, int T>
void micro_kernel(const float* const* w, const float* const* x, int64_t n, float* out, int64_t out_stride) {
    V8 acc[R][T];
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) acc[r][t] = V8::zero();
    const int64_t n8 = n - n % 8;
    for (int64_t k = 0; k < n8; k += 8) {
        V8 xv[T];
        for (int t = 0; t < T; ++t) xv[t] = V8::load(x[t] + k);
        for (int r = 0; r < R; ++r) {
            const V8 wv = V8::load(w[r] + k);
            for (int t = 0; t < T; ++t) acc[r][t] = acc[r][t] + wv * xv[t];
        }
    }
    for (int r = 0; r < R; ++r) {
        for (int t = 0; t < T; ++t) {
            float s = reduce(acc[r][t]);
            for (int64_t k = n8; k < n; ++k) s += w[r][k] * x[t][k];
            out[t * out_stride + r] = s;
        }
    }
}

constexpr int64_t kRowBlock = 24;  // weight rows decoded and multiplied per task (a multiple of 3)

// Rows x tokens per micro-kernel step: the accumulators and the loads of one step stay in the
// sixteen vector registers. One V8 is one AVX2 register (3x4: twelve accumulators), but two
// SSE/SIMD128 registers elsewhere (2x2: eight; 27% faster in wasm than 3x4, which spills). The
// shape changes no sum, only the loads.
#if XSIMD_WITH_AVX2
constexpr int kStepRows = 3, kStepTokens = 4;
#else
constexpr int kStepRows = 2, kStepTokens = 2;
#endif

}  // namespace

float dot(const float* a, const float* b, int64_t n) {
    float out = 0.0f;
    micro_kernel<1, 1>(&a, &b, n, &out, 1);
    return out;
}

void matmul(const Matrix& w, std::span<const float> x, int64_t n_tokens, std::span<float> y, ParallelFor& parallel) {
    const int64_t n_in = w.n_in, n_out = w.n_out;
    const int64_t blocks = (n_out + kRowBlock - 1) / kRowBlock;
    const bool is_f32 = w.type == GgmlType::F32;
    parallel.run(blocks, [&](int64_t b) {
        const int64_t r0 = b * kRowBlock;
        const int64_t nr = std::min(kRowBlock, n_out - r0);
        // Decoded rows live in a per-thread buffer, reused across calls.
        thread_local std::vector<float> decoded;
        const float* rows[kRowBlock];
        if (is_f32) {
            for (int64_t r = 0; r < nr; ++r) rows[r] = reinterpret_cast<const float*>(w.row(r0 + r));
        } else {
            decoded.resize(static_cast<size_t>(kRowBlock * n_in));
            for (int64_t r = 0; r < nr; ++r) {
                float* dst = decoded.data() + r * n_in;
                decode_row(w, r0 + r, std::span<float>(dst, static_cast<size_t>(n_in)));
                rows[r] = dst;
            }
        }
        int64_t t = 0;
        for (; t + kStepTokens <= n_tokens; t += kStepTokens) {
            const float* xs[kStepTokens];
            for (int i = 0; i < kStepTokens; ++i) xs[i] = x.data() + (t + i) * n_in;
            float* out = y.data() + t * n_out + r0;
            int64_t r = 0;
            for (; r + kStepRows <= nr; r += kStepRows) micro_kernel<kStepRows, kStepTokens>(rows + r, xs, n_in, out + r, n_out);
            for (; r < nr; ++r) micro_kernel<1, kStepTokens>(rows + r, xs, n_in, out + r, n_out);
        }
        for (; t < n_tokens; ++t) {
            const float* xs[1] = {x.data() + t * n_in};
            float* out = y.data() + t * n_out + r0;
            int64_t r = 0;
            for (; r + kStepRows <= nr; r += kStepRows) micro_kernel<kStepRows, 1>(rows + r, xs, n_in, out + r, n_out);
            for (; r < nr; ++r) micro_kernel<1, 1>(rows + r, xs, n_in, out + r, n_out);
        }
    });
}

void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps) {
    double ss = 0.0;
    for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
    const float scale = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(n) + static_cast<double>(eps)));
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale * w[i];
}

void swiglu(float* g, const float* u, int64_t n) {
    for (int64_t i = 0; i < n; ++i) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

void add_to(float* y, const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void axpy(float p, const float* v, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] += p * v[i];
}

}  // namespace llmq::runtime
