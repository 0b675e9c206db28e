// The F16 codec's row conversions with F16C (quant/float_kernels.hpp), compiled per level like
// every file here and called only when the CPU has F16C (util/simd_level).
#include <immintrin.h>

#include "quant/float_kernels.hpp"
#include "util/isa.hpp"

namespace llmq::quant::floats::LLMQ_ISA {

// F16C converts exactly, except NaN: it quiets signalling NaNs (f16→f32) and keeps payload bits
// (f32→f16) where scalar.hpp does not, so groups holding a NaN take the scalar path.
void f16_to_f32(const uint8_t* src, float* dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * i));
        const __m128i nan = _mm_cmpgt_epi16(_mm_and_si128(h, _mm_set1_epi16(0x7FFF)), _mm_set1_epi16(0x7C00));
        if (_mm_movemask_epi8(nan) != 0) {
            f16_to_f32_scalar(src + 2 * i, dst + i, 8);
        } else {
            _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
        }
    }
    f16_to_f32_scalar(src + 2 * i, dst + i, n - i);
}

void f32_to_f16(const float* src, uint8_t* dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(src + i);
        if (_mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)) != 0) {
            f32_to_f16_scalar(src + i, dst + 2 * i, 8);
        } else {
            _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 2 * i), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
        }
    }
    f32_to_f16_scalar(src + i, dst + 2 * i, n - i);
}

}  // namespace llmq::quant::floats::LLMQ_ISA
