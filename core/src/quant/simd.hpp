// The SIMD architecture of the codecs and the few operations xsimd 8.1 lacks (lane masks,
// horizontal min/max, widening of bytes and half-words, narrowing). The rest is plain xsimd.
// AVX2 natively; SSE4.1 otherwise, which is also what wasm builds (-msimd128 -msse4.2) get.
// Results never depend on the choice: the helpers are exact and order-independent.
#pragma once

#include <cstdint>
#include <cstring>
#include <xsimd/xsimd.hpp>

#include "quant/scalar.hpp"
#include "util/isa.hpp"

#if XSIMD_WITH_AVX2
#define LLMQ_SIMD 1
#elif XSIMD_WITH_SSE4_1
#define LLMQ_SIMD 1
#else
#define LLMQ_SIMD 0
#endif

#if LLMQ_SIMD
namespace llmq::quant::simd {
inline namespace LLMQ_ISA_INLINE {

#if XSIMD_WITH_AVX2
using Arch = xsimd::avx2;  // also under AVX-512: one width keeps the code paths few
#else
using Arch = xsimd::sse4_1;
#endif

using F = xsimd::batch<float, Arch>;
using I = xsimd::batch<int32_t, Arch>;
using FMask = xsimd::batch_bool<float, Arch>;
constexpr int N = static_cast<int>(F::size);

// Bit i set when lane i is true.
inline uint32_t movemask(FMask m) {
#if XSIMD_WITH_AVX2
    return static_cast<uint32_t>(_mm256_movemask_ps(m));
#else
    return static_cast<uint32_t>(_mm_movemask_ps(m));
#endif
}

// Bit i set when the sign bit (bit 31) of lane i is.
inline uint32_t sign_bits(I v) {
#if XSIMD_WITH_AVX2
    return static_cast<uint32_t>(_mm256_movemask_ps(_mm256_castsi256_ps(v)));
#else
    return static_cast<uint32_t>(_mm_movemask_ps(_mm_castsi128_ps(v)));
#endif
}

// fp32_to_fp16 of a value that is not NaN (F16C agrees with it on every other input).
inline uint16_t fp16_bits_not_nan(float v) {
#if defined(__F16C__)
    return static_cast<uint16_t>(_cvtss_sh(v, _MM_FROUND_TO_NEAREST_INT));
#else
    return fp32_to_fp16(v);
#endif
}

// Horizontal max/min. Exact for any order when the lanes hold no NaN and the extreme is not ±0
// (callers ensure it, or only pass non-negative magnitudes where -0 cannot occur).
inline float hmax(F v) {
#if XSIMD_WITH_AVX2
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
#else
    __m128 m = v;
#endif
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}
inline float hmin(F v) {
#if XSIMD_WITH_AVX2
    __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
#else
    __m128 m = v;
#endif
    m = _mm_min_ps(m, _mm_movehl_ps(m, m));
    m = _mm_min_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}

// N bytes, zero- or sign-extended to int32 lanes.
inline I widen_u8(const uint8_t* p) {
#if XSIMD_WITH_AVX2
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
#else
    int32_t v;
    std::memcpy(&v, p, 4);
    return _mm_cvtepu8_epi32(_mm_cvtsi32_si128(v));
#endif
}
inline I widen_i8(const uint8_t* p) {
#if XSIMD_WITH_AVX2
    return _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
#else
    int32_t v;
    std::memcpy(&v, p, 4);
    return _mm_cvtepi8_epi32(_mm_cvtsi32_si128(v));
#endif
}

// N little-endian uint16 values, zero-extended to int32 lanes.
inline I widen_u16(const uint8_t* p) {
#if XSIMD_WITH_AVX2
    return _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
#else
    return _mm_cvtepu16_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
#endif
}

// Stores the low byte of every lane of `count` batches (C's conversion to uint8_t), in order.
// count * N must be a multiple of 16.
inline void store_low_bytes(const I* parts, int count, uint8_t* out) {
    const I byte_mask(0xFF);  // masked first, so the saturating packs below are exact
#if XSIMD_WITH_AVX2
    for (int k = 0; k < count; k += 2, out += 16) {
        const __m256i w = _mm256_packus_epi32(parts[k] & byte_mask, parts[k + 1] & byte_mask);  // a0-3 b0-3 a4-7 b4-7
        const __m128i b = _mm_packus_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
        // b = a0-3 b0-3 a4-7 b4-7 → a0-7 b0-7
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_shuffle_epi32(b, _MM_SHUFFLE(3, 1, 2, 0)));
    }
#else
    for (int k = 0; k < count; k += 4, out += 16) {
        const __m128i lo = _mm_packus_epi32(parts[k] & byte_mask, parts[k + 1] & byte_mask);
        const __m128i hi = _mm_packus_epi32(parts[k + 2] & byte_mask, parts[k + 3] & byte_mask);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_packus_epi16(lo, hi));
    }
#endif
}

}  // namespace LLMQ_ISA_INLINE
}  // namespace llmq::quant::simd
#endif
