// F32, F16 and BF16 "codecs": element-wise conversions (imatrix has no effect on them).
// Converting F16/BF16 source tensors to f32 is on the hot path of every quantization, so the
// conversions have vector paths, each bit-identical to the scalar definitions of scalar.hpp.
#include <cstring>

#include "quant/codecs.hpp"
#include "quant/float_kernels.hpp"
#include "quant/scalar.hpp"
#include "quant/simd.hpp"
#include "util/simd_level.hpp"

namespace llmq::quant {

namespace floats {

void f16_to_f32_scalar(const uint8_t* src, float* dst, size_t n) {
    for (size_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(load_u16(src + 2 * i));
}
void f32_to_f16_scalar(const float* src, uint8_t* dst, size_t n) {
    for (size_t i = 0; i < n; ++i) store_u16(dst + 2 * i, fp32_to_fp16(src[i]));
}
void bf16_to_f32_scalar(const uint8_t* src, float* dst, size_t n) {
    for (size_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(load_u16(src + 2 * i));
}

#if LLMQ_SIMD
using simd::F;
using simd::I;
using simd::N;

// Exact by cases: normal halves rebias the exponent, subnormals are m·2^-24 (an exact float
// product), inf/NaN keep their payload (as scalar.hpp does; F16C would quiet signalling NaNs).
void f16_to_f32_portable(const uint8_t* src, float* dst, size_t n) {
    size_t i = 0;
    for (; i + N <= n; i += N) {
        const I h = simd::widen_u16(src + 2 * i);
        const I m = h & I(0x7FFF);
        const I sign = (h & I(0x8000)) << 16;
        const I normal = (m << 13) + I(112 << 23);
        const I special = (m << 13) + I(224 << 23);
        const I subnormal = xsimd::bitwise_cast<I>(xsimd::to_float(m) * F(5.9604645e-08f));
        const I bits = xsimd::select(m >= I(0x7C00), special, xsimd::select(m < I(0x400), subnormal, normal));
        xsimd::bitwise_cast<F>(bits | sign).store_unaligned(dst + i);
    }
    f16_to_f32_scalar(src + 2 * i, dst + i, n - i);
}

void bf16_to_f32(const uint8_t* src, float* dst, size_t n) {
    size_t i = 0;
    for (; i + N <= n; i += N) xsimd::bitwise_cast<F>(simd::widen_u16(src + 2 * i) << 16).store_unaligned(dst + i);
    bf16_to_f32_scalar(src + 2 * i, dst + i, n - i);
}
#else
void f16_to_f32_portable(const uint8_t* src, float* dst, size_t n) {
    f16_to_f32_scalar(src, dst, n);
}
void bf16_to_f32(const uint8_t* src, float* dst, size_t n) {
    bf16_to_f32_scalar(src, dst, n);
}
#endif

// F16C where the CPU has it (core/src/isa/float_rows_x86.cpp), else the portable paths.
void f16_to_f32(const uint8_t* src, float* dst, size_t n) {
    LLMQ_AT_LEVEL(f16_to_f32_portable(src, dst, n), avx2::f16_to_f32(src, dst, n));
}
void f32_to_f16(const float* src, uint8_t* dst, size_t n) {
    LLMQ_AT_LEVEL(f32_to_f16_scalar(src, dst, n), avx2::f32_to_f16(src, dst, n));
}

}  // namespace floats

void quantize_f32(std::span<const float> src, std::span<uint8_t> dst, int64_t, std::span<const float>) {
    std::memcpy(dst.data(), src.data(), src.size_bytes());
}
void dequantize_f32(std::span<const uint8_t> src, std::span<float> dst) {
    std::memcpy(dst.data(), src.data(), dst.size_bytes());
}

void quantize_f16(std::span<const float> src, std::span<uint8_t> dst, int64_t, std::span<const float>) {
    floats::f32_to_f16(src.data(), dst.data(), src.size());
}
void dequantize_f16(std::span<const uint8_t> src, std::span<float> dst) {
    floats::f16_to_f32(src.data(), dst.data(), dst.size());
}

void quantize_bf16(std::span<const float> src, std::span<uint8_t> dst, int64_t, std::span<const float>) {
    for (size_t i = 0; i < src.size(); ++i) store_u16(dst.data() + 2 * i, fp32_to_bf16(src[i]));
}
void dequantize_bf16(std::span<const uint8_t> src, std::span<float> dst) {
    floats::bf16_to_f32(src.data(), dst.data(), dst.size());
}

}  // namespace llmq::quant
