// The kernels behind the forward pass. The dot-product lane structure is eight floats wide on
// every target: one AVX2 register natively, two SSE/SIMD128 registers elsewhere, or a plain
// array, so all builds add the same numbers in the same order.
#include "runtime/kernels.hpp"

#include <algorithm>
#include <cmath>
#include <vector>
#include <xsimd/xsimd.hpp>

#include "llmq/quant/codec.hpp"
#include "quant/float_kernels.hpp"
#include "quant/scalar.hpp"
#include "runtime/activations.hpp"
#include "runtime/matmul_tiles.hpp"
#include "util/simd_level.hpp"

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

constexpr int64_t kRowBlock = 24;      // weight rows decoded and multiplied per task (a multiple of every R)
constexpr int64_t kChunk8 = 64;        // groups of 8 inputs per tile-kernel call: rows and tokens stay in L1
constexpr int64_t kMaxTileTokens = 8;  // the largest G of any level

// Rows x tokens per micro-kernel step of the unpacked path (a few tokens: generation), where one
// V8 is one AVX2 register (3x4: twelve accumulators) or two SSE/SIMD128 registers (2x2: eight;
// 27% faster in wasm than 3x4, which spills). The shape changes no sum, only the loads.
#if XSIMD_WITH_AVX2
constexpr int kStepRows = 3, kStepTokens = 4;
#else
constexpr int kStepRows = 2, kStepTokens = 2;
#endif

// The portable tile kernel (matmul_tiles.hpp): 2 rows x 2 tokens of V8 accumulators.
constexpr int kPortableRows = 2, kPortableTokens = 2;

void portable_multiply(const float* rows, const float* tokens, int64_t n8, float* state, bool first, bool last, float* sums) {
    V8 acc[kPortableRows][kPortableTokens];
    for (int r = 0; r < kPortableRows; ++r)
        for (int t = 0; t < kPortableTokens; ++t) acc[r][t] = first ? V8::zero() : V8::load(state + (r * kPortableTokens + t) * 8);
    for (int64_t k = 0; k < n8; ++k) {
        const float* xk = tokens + k * (kPortableTokens * 8);
        const float* wk = rows + k * (kPortableRows * 8);
        V8 xv[kPortableTokens];
        for (int t = 0; t < kPortableTokens; ++t) xv[t] = V8::load(xk + 8 * t);
        for (int r = 0; r < kPortableRows; ++r) {
            const V8 wv = V8::load(wk + 8 * r);
            for (int t = 0; t < kPortableTokens; ++t) acc[r][t] = acc[r][t] + wv * xv[t];
        }
    }
    for (int r = 0; r < kPortableRows; ++r) {
        for (int t = 0; t < kPortableTokens; ++t) {
            if (last) {
                sums[r * kPortableTokens + t] = reduce(acc[r][t]);
            } else {
                acc[r][t].store(state + (r * kPortableTokens + t) * 8);
            }
        }
    }
}

const TileKernels& tile_kernels() {
    static const TileKernels portable{kPortableRows, kPortableTokens, portable_multiply, nullptr, nullptr};
    return LLMQ_AT_LEVEL(portable, avx2::tile_kernels(), avx512::tile_kernels());
}

// Copies rows[0..nr) (nr <= R) into the packed [k8][R][8] layout; missing rows are zeros.
void pack_rows(const float* const* rows, int64_t nr, int R, int64_t n8, float* out) {
    for (int64_t k = 0; k < n8; ++k) {
        float* dst = out + k * R * 8;
        for (int r = 0; r < R; ++r) {
            if (r < nr) {
                std::copy_n(rows[r] + k * 8, 8, dst + r * 8);
            } else {
                std::fill_n(dst + r * 8, 8, 0.0f);
            }
        }
    }
}

// Token rows t0 .. t0+G of x into [k8][G][8]; tokens past n_tokens are zeros.
void pack_tokens(const float* x, int64_t t0, int64_t n_tokens, int64_t n_in, int G, int64_t n8, float* out) {
    for (int t = 0; t < G; ++t) {
        const float* src = t0 + t < n_tokens ? x + (t0 + t) * n_in : nullptr;
        for (int64_t k = 0; k < n8; ++k) {
            float* dst = out + k * G * 8 + t * 8;
            if (src) {
                std::copy_n(src + k * 8, 8, dst);
            } else {
                std::fill_n(dst, 8, 0.0f);
            }
        }
    }
}

// The activations rounded to the grid the weight meets (activations.hpp), or x itself. fp16
// and bf16 values multiply exactly in float32 (11 or 8 significant bits each), which is what lets
// the FMA kernels keep the portable kernel's bits; `exact_products` says so.
struct RoundedInput {
    std::span<const float> x;
    bool exact_products = false;
};

RoundedInput rounded_input(const Matrix& w, std::span<const float> x_in, int64_t n_tokens, Numerics numerics, std::vector<float>& buffer,
                           ParallelFor& parallel) {
    const ActivationGrid grid = activation_grid(w.type, numerics);
    if (grid == ActivationGrid::None) return {x_in, false};
    const int64_t n_in = w.n_in;
    buffer.resize(static_cast<size_t>(n_tokens * n_in));
    float* const out = buffer.data();
    constexpr int64_t kTokens = 16;
    parallel.run((n_tokens + kTokens - 1) / kTokens, [&](int64_t b) {
        for (int64_t t = b * kTokens; t < std::min(n_tokens, (b + 1) * kTokens); ++t) {
            round_activations(grid, x_in.data() + t * n_in, out + t * n_in, n_in);
        }
    });
    return {buffer, grid == ActivationGrid::Half || grid == ActivationGrid::BFloat16};
}

// Points rows[0..nr) at weight rows r0.. in f32: the stored rows for F32, else decoded into buf.
void decoded_rows(const Matrix& w, int64_t r0, int64_t nr, std::vector<float>& buf, const float** rows) {
    const int64_t n_in = w.n_in;
    if (w.type == GgmlType::F32) {
        for (int64_t r = 0; r < nr; ++r) rows[r] = reinterpret_cast<const float*>(w.row(r0 + r));
        return;
    }
    buf.resize(static_cast<size_t>(kRowBlock * n_in));
    for (int64_t r = 0; r < nr; ++r) {
        float* dst = buf.data() + r * n_in;
        decode_row(w, r0 + r, std::span<float>(dst, static_cast<size_t>(n_in)));
        rows[r] = dst;
    }
}

// A few tokens (generation): packing would cost as much as it saves.
void matmul_unpacked(const Matrix& w, std::span<const float> x, int64_t n_tokens, std::span<float> y, ParallelFor& parallel) {
    const int64_t n_in = w.n_in, n_out = w.n_out;
    const int64_t blocks = (n_out + kRowBlock - 1) / kRowBlock;
    parallel.run(blocks, [&](int64_t b) {
        const int64_t r0 = b * kRowBlock;
        const int64_t nr = std::min(kRowBlock, n_out - r0);
        thread_local std::vector<float> decoded;  // per-thread, reused across calls
        const float* rows[kRowBlock];
        decoded_rows(w, r0, nr, decoded, rows);
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

}  // namespace

float dot(const float* a, const float* b, int64_t n) {
    float out = 0.0f;
    micro_kernel<1, 1>(&a, &b, n, &out, 1);
    return out;
}

// Tokens are packed once, in groups of G; each task decodes kRowBlock rows, packs them in tiles
// of R and runs the level's kernel over every (token group, tile). The inputs past the last
// multiple of 8 are added afterwards in order, as dot() does.
void matmul(const Matrix& w, std::span<const float> x_in, int64_t n_tokens, std::span<float> y, ParallelFor& parallel, Numerics numerics) {
    // The calling thread's buffer (the tasks reach it through the span).
    thread_local std::vector<float> rounded_buffer;
    const RoundedInput input = rounded_input(w, x_in, n_tokens, numerics, rounded_buffer, parallel);
    const std::span<const float> x = input.x;
    const TileKernels& tk = tile_kernels();
    if (n_tokens < tk.tokens || w.n_in < 8) {
        matmul_unpacked(w, x, n_tokens, y, parallel);
        return;
    }
    const int64_t n_in = w.n_in, n_out = w.n_out, n8 = n_in / 8;
    const int R = tk.rows, G = tk.tokens;
    const int64_t groups = (n_tokens + G - 1) / G;
    // The calling thread's buffer, reached through a pointer: inside the tasks the name of a
    // thread_local would mean each worker's own (empty) one.
    thread_local std::vector<float> packed_buffer;
    packed_buffer.resize(static_cast<size_t>(groups * n8 * G * 8));
    float* const packed_x = packed_buffer.data();
    parallel.run(groups, [&](int64_t g) { pack_tokens(x.data(), g * G, n_tokens, n_in, G, n8, packed_x + g * n8 * G * 8); });
    const auto multiply = input.exact_products && tk.multiply_exact ? tk.multiply_exact : tk.multiply;
    const int64_t blocks = (n_out + kRowBlock - 1) / kRowBlock;
    parallel.run(blocks, [&](int64_t b) {
        const int64_t r0 = b * kRowBlock;
        const int64_t nr = std::min(kRowBlock, n_out - r0);
        thread_local std::vector<float> decoded, packed_w;
        const int64_t tiles = (nr + R - 1) / R;
        packed_w.resize(static_cast<size_t>(tiles * n8 * R * 8));
        // With a direct fp16 conversion, only rows with inputs past the last multiple of 8
        // need decoding (for the tail).
        const bool direct = w.type == GgmlType::F16 && tk.pack_f16_rows;
        const float* rows[kRowBlock] = {};
        if (direct) {
            const uint8_t* stored[kRowBlock];
            for (int64_t r = 0; r < nr; ++r) stored[r] = w.row(r0 + r);
            for (int64_t i = 0; i < tiles; ++i)
                tk.pack_f16_rows(stored + i * R, std::min<int64_t>(R, nr - i * R), n8, packed_w.data() + i * n8 * R * 8);
            if (n8 * 8 != n_in) decoded_rows(w, r0, nr, decoded, rows);
        } else {
            decoded_rows(w, r0, nr, decoded, rows);
            for (int64_t i = 0; i < tiles; ++i) pack_rows(rows + i * R, std::min<int64_t>(R, nr - i * R), R, n8, packed_w.data() + i * n8 * R * 8);
        }
        // Per token group: the chunks of the row in order, each over every tile (the tokens' chunk
        // is read from L1 by all of them), then the sums of the group.
        float state[kRowBlock * kMaxTileTokens * 8], sums[kRowBlock * kMaxTileTokens];
        for (int64_t g = 0; g < groups; ++g) {
            const int64_t t0 = g * G;
            const int64_t nt = std::min<int64_t>(G, n_tokens - t0);
            for (int64_t k0 = 0; k0 < n8; k0 += kChunk8) {
                const int64_t kn = std::min(kChunk8, n8 - k0);
                for (int64_t i = 0; i < tiles; ++i) {
                    multiply(packed_w.data() + (i * n8 + k0) * R * 8, packed_x + (g * n8 + k0) * G * 8, kn, state + i * R * G * 8, k0 == 0,
                             k0 + kn == n8, sums + i * R * G);
                }
            }
            // Each token's outputs of this task are one contiguous strip of y: written in order.
            for (int64_t t = 0; t < nt; ++t) {
                const float* xt = x.data() + (t0 + t) * n_in;
                float* out = y.data() + (t0 + t) * n_out + r0;
                for (int64_t o = 0; o < nr; ++o) {
                    const int64_t i = o / R, r = o % R;
                    float s = sums[i * R * G + r * G + t];
                    for (int64_t k = n8 * 8; k < n_in; ++k) s += rows[o][k] * xt[k];
                    out[o] = s;
                }
            }
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
