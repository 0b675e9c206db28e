// Codec functions of each family, referenced by the traits table (type_traits.cpp).
// Each family lives in its own file: float.cpp, legacy.cpp, kquants.cpp, iquants_iq*.cpp,
// ternary.cpp, fp4.cpp, q1_q2.cpp.
#pragma once

#include <cstdint>
#include <span>

namespace llmq::quant {

#define LLMQ_DECLARE_CODEC(t)                                                                                                 \
    void quantize_##t(std::span<const float> src, std::span<uint8_t> dst, int64_t n_per_row, std::span<const float> imatrix); \
    void dequantize_##t(std::span<const uint8_t> src, std::span<float> dst);

// float.cpp
LLMQ_DECLARE_CODEC(f32)
LLMQ_DECLARE_CODEC(f16)
LLMQ_DECLARE_CODEC(bf16)
// legacy.cpp
LLMQ_DECLARE_CODEC(q4_0)
LLMQ_DECLARE_CODEC(q4_1)
LLMQ_DECLARE_CODEC(q5_0)
LLMQ_DECLARE_CODEC(q5_1)
LLMQ_DECLARE_CODEC(q8_0)
// kquants.cpp
LLMQ_DECLARE_CODEC(q2_K)
LLMQ_DECLARE_CODEC(q3_K)
LLMQ_DECLARE_CODEC(q4_K)
LLMQ_DECLARE_CODEC(q5_K)
LLMQ_DECLARE_CODEC(q6_K)
// iquants_iq1.cpp, iquants_iq2.cpp, iquants_iq3.cpp, iquants_iq4.cpp
LLMQ_DECLARE_CODEC(iq1_s)
LLMQ_DECLARE_CODEC(iq1_m)
LLMQ_DECLARE_CODEC(iq2_xxs)
LLMQ_DECLARE_CODEC(iq2_xs)
LLMQ_DECLARE_CODEC(iq2_s)
LLMQ_DECLARE_CODEC(iq3_xxs)
LLMQ_DECLARE_CODEC(iq3_s)
LLMQ_DECLARE_CODEC(iq4_nl)
LLMQ_DECLARE_CODEC(iq4_xs)
// ternary.cpp
LLMQ_DECLARE_CODEC(tq1_0)
LLMQ_DECLARE_CODEC(tq2_0)
// fp4.cpp
LLMQ_DECLARE_CODEC(mxfp4)
LLMQ_DECLARE_CODEC(nvfp4)
// q1_q2.cpp
LLMQ_DECLARE_CODEC(q1_0)
LLMQ_DECLARE_CODEC(q2_0)

#undef LLMQ_DECLARE_CODEC

}  // namespace llmq::quant
