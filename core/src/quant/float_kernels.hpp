// Row conversions behind the F16 and BF16 codecs. The fast paths (F16C natively, xsimd on other
// targets) give exactly the bits of the scalar definitions in scalar.hpp; they are exposed here so
// tests can check that on every path this build has.
#pragma once

#include <cstddef>
#include <cstdint>

namespace llmq::quant::floats {

// src: n little-endian fp16/bf16 values (2n bytes); dst: n floats (or the reverse for f32_to_*).
void f16_to_f32_scalar(const uint8_t* src, float* dst, size_t n);
void f16_to_f32_portable(const uint8_t* src, float* dst, size_t n);  // xsimd integer path (wasm's)
void f16_to_f32(const uint8_t* src, float* dst, size_t n);           // the codec's: F16C if the CPU has it

void f32_to_f16_scalar(const float* src, uint8_t* dst, size_t n);
void f32_to_f16(const float* src, uint8_t* dst, size_t n);  // F16C if the CPU has it, else scalar

void bf16_to_f32_scalar(const uint8_t* src, float* dst, size_t n);
void bf16_to_f32(const uint8_t* src, float* dst, size_t n);

// The F16C conversions (core/src/isa), for CPUs at the AVX2 level or above.
namespace avx2 {
void f16_to_f32(const uint8_t* src, float* dst, size_t n);
void f32_to_f16(const float* src, uint8_t* dst, size_t n);
}  // namespace avx2

}  // namespace llmq::quant::floats
