// matmul's tile kernels for AVX2 and AVX-512 (matmul_tiles.hpp). This file is compiled once per
// level with that level's flags (CMakeLists.txt, LLMQ_ISA names the namespace) and only ever
// called after the CPU was checked (util/simd_level). It includes nothing but intrinsics, so no
// inline function of a shared header is compiled with instructions the baseline lacks.
// GCC 12's AVX-512 headers start broadcasts from _mm*_undefined_*(), which its own
// -Wmaybe-uninitialized then reports (GCC bug 105593). Clang (the fuzz preset) has no such
// warning and rejects an unknown one under -Werror.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "runtime/matmul_tiles.hpp"

namespace llmq::runtime::LLMQ_ISA {
namespace {

// The fixed reduction of eight lane sums.
inline float reduce8(const float* a) {
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

#if defined(__AVX512F__)
// 8 rows x 6 tokens: each zmm accumulator holds the lanes of two tokens (t, t+1), whose packed
// inputs are adjacent; a row's eight inputs are broadcast to both halves. 24 accumulators, three
// token loads and one row register: 28 of the 32 registers.
constexpr int R = 8, G = 6, P = G / 2;

template <bool Fused>
void multiply(const float* rows, const float* tokens, int64_t n8, float* state, bool first, bool last, float* sums) {
    __m512 acc[R][P];
    for (int r = 0; r < R; ++r)
        for (int p = 0; p < P; ++p) acc[r][p] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(state + (r * P + p) * 16);
    for (int64_t k = 0; k < n8; ++k) {
        const float* xk = tokens + k * (G * 8);
        const float* wk = rows + k * (R * 8);
        __m512 xv[P];
        for (int p = 0; p < P; ++p) xv[p] = _mm512_loadu_ps(xk + 16 * p);
        for (int r = 0; r < R; ++r) {
            const __m512 wv = _mm512_broadcast_f32x8(_mm256_loadu_ps(wk + 8 * r));
            for (int p = 0; p < P; ++p)
                acc[r][p] = Fused ? _mm512_fmadd_ps(wv, xv[p], acc[r][p]) : _mm512_add_ps(acc[r][p], _mm512_mul_ps(wv, xv[p]));
        }
    }
    if (!last) {
        for (int r = 0; r < R; ++r)
            for (int p = 0; p < P; ++p) _mm512_storeu_ps(state + (r * P + p) * 16, acc[r][p]);
        return;
    }
    alignas(64) float lanes[16];
    for (int r = 0; r < R; ++r) {
        for (int p = 0; p < P; ++p) {
            _mm512_store_ps(lanes, acc[r][p]);
            sums[r * G + 2 * p] = reduce8(lanes);
            sums[r * G + 2 * p + 1] = reduce8(lanes + 8);
        }
    }
}
#else
// 4 rows x 3 tokens: twelve accumulators, three token loads and one row register fill the
// sixteen ymm registers.
constexpr int R = 4, G = 3;

template <bool Fused>
void multiply(const float* rows, const float* tokens, int64_t n8, float* state, bool first, bool last, float* sums) {
    __m256 acc[R][G];
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < G; ++t) acc[r][t] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(state + (r * G + t) * 8);
    for (int64_t k = 0; k < n8; ++k) {
        const float* xk = tokens + k * (G * 8);
        const float* wk = rows + k * (R * 8);
        __m256 xv[G];
        for (int t = 0; t < G; ++t) xv[t] = _mm256_loadu_ps(xk + 8 * t);
        for (int r = 0; r < R; ++r) {
            const __m256 wv = _mm256_loadu_ps(wk + 8 * r);
            for (int t = 0; t < G; ++t)
                acc[r][t] = Fused ? _mm256_fmadd_ps(wv, xv[t], acc[r][t]) : _mm256_add_ps(acc[r][t], _mm256_mul_ps(wv, xv[t]));
        }
    }
    if (!last) {
        for (int r = 0; r < R; ++r)
            for (int t = 0; t < G; ++t) _mm256_storeu_ps(state + (r * G + t) * 8, acc[r][t]);
        return;
    }
    alignas(32) float lanes[8];
    for (int r = 0; r < R; ++r) {
        for (int t = 0; t < G; ++t) {
            _mm256_store_ps(lanes, acc[r][t]);
            sums[r * G + t] = reduce8(lanes);
        }
    }
}
#endif

// F16C converts every fp16 value exactly (a NaN comes out quiet, which a matmul cannot tell).
void pack_f16_rows(const uint8_t* const* rows, int64_t nr, int64_t n8, float* out) {
    for (int64_t k = 0; k < n8; ++k) {
        float* dst = out + k * (R * 8);
        for (int r = 0; r < R; ++r) {
            const __m256 v = r < nr ? _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[r] + k * 16))) : _mm256_setzero_ps();
            _mm256_storeu_ps(dst + 8 * r, v);
        }
    }
}

}  // namespace

const TileKernels& tile_kernels() {
    static const TileKernels kernels{R, G, multiply<false>, multiply<true>, pack_f16_rows};
    return kernels;
}

}  // namespace llmq::runtime::LLMQ_ISA
