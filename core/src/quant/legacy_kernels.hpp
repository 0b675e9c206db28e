// Block kernels of the legacy 32-element codecs (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0), without imatrix.
// Two implementations with bit-identical results: a scalar one that transcribes ggml's reference
// algorithms (legacy.cpp) and an xsimd one (legacy_simd.cpp). They are exposed here so that tests
// can compare the two; everything else goes through the codecs of codecs.hpp.
#pragma once

#include <cstddef>
#include <cstdint>

#include "util/isa.hpp"

namespace llmq::quant::legacy {

inline constexpr int kBlock = 32;
// Bytes per block (reference/ggml-formats.md §2.1).
inline constexpr size_t kQ4_0Bytes = 18, kQ4_1Bytes = 20, kQ5_0Bytes = 22, kQ5_1Bytes = 24, kQ8_0Bytes = 34;

// x: nblocks*32 floats; y: nblocks blocks of the type's size.
using QuantizeBlocks = void (*)(const float* x, uint8_t* y, int64_t nblocks);
using DequantizeBlocks = void (*)(const uint8_t* x, float* y, int64_t nblocks);

struct Kernels {
    QuantizeBlocks quantize_q4_0, quantize_q4_1, quantize_q5_0, quantize_q5_1, quantize_q8_0;
    DequantizeBlocks dequantize_q4_0, dequantize_q4_1, dequantize_q5_0, dequantize_q5_1, dequantize_q8_0;
};

const Kernels& scalar_kernels();
// The vector kernels of the level the CPU runs (util/simd_level); each level's own below.
const Kernels& simd_kernels();
namespace portable {
const Kernels& simd_kernels();
}
namespace avx2 {
const Kernels& simd_kernels();
}

// What ggml's x86 build does when it converts a float to a small integer type: cvttss2si to
// int32 (truncation; out of range and NaN give INT32_MIN), then keeps the low bits. Defined
// here for every input so both paths agree even on garbage (inf, NaN, overflowing scales).
inline namespace LLMQ_ISA_INLINE {
inline int32_t truncate_to_i32(float v) {
    return (v >= -2147483648.0f && v < 2147483648.0f) ? static_cast<int32_t>(v) : INT32_MIN;
}
}  // namespace LLMQ_ISA_INLINE

}  // namespace llmq::quant::legacy
