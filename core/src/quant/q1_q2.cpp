// The newest small formats Q1_0 (128 values, sign bits around ±d) and Q2_0 (64 values, 2-bit codes
// for {−1, 0, +1, +2}·d): ggml's reference quantizers and exact dequantizers
// (reference/ggml-formats.md §2.2, §2.6). The imatrix has no effect on them, as in ggml.
#include <algorithm>
#include <cmath>

#include "quant/codecs.hpp"
#include "quant/scalar.hpp"

namespace llmq::quant {
namespace {
constexpr size_t kQ1Bytes = 18, kQ2Bytes = 18;
}  // namespace

void quantize_q1_0(std::span<const float> src, std::span<uint8_t> dst, int64_t, std::span<const float>) {
    for (size_t b = 0; b < src.size() / 128; ++b) {
        const float* x = src.data() + b * 128;
        uint8_t* y = dst.data() + b * kQ1Bytes;
        float sum = 0;
        for (int j = 0; j < 128; ++j) sum += std::fabs(x[j]);
        store_u16(y, fp32_to_fp16(sum / 128));
        for (int j = 0; j < 16; ++j) {
            uint8_t bits = 0;
            for (int k = 0; k < 8; ++k)
                if (x[8 * j + k] >= 0) bits = static_cast<uint8_t>(bits | (1u << k));
            y[2 + j] = bits;
        }
    }
}

void quantize_q2_0(std::span<const float> src, std::span<uint8_t> dst, int64_t, std::span<const float>) {
    for (size_t b = 0; b < src.size() / 64; ++b) {
        const float* x = src.data() + b * 64;
        uint8_t* y = dst.data() + b * kQ2Bytes;
        float amax = 0;
        for (int j = 0; j < 64; ++j) amax = amax > std::fabs(x[j]) ? amax : std::fabs(x[j]);
        const float id = amax != 0 ? 1.0f / amax : 0.0f;
        store_u16(y, fp32_to_fp16(amax));
        for (int j = 0; j < 16; ++j) {
            int q = 0;
            for (int k = 0; k < 4; ++k) {
                const int c = std::clamp(static_cast<int>(std::round(x[4 * j + k] * id)) + 1, 0, 3);
                q |= c << (2 * k);
            }
            y[2 + j] = static_cast<uint8_t>(q);
        }
    }
}

void dequantize_q1_0(std::span<const uint8_t> src, std::span<float> dst) {
    for (size_t b = 0; b < dst.size() / 128; ++b) {
        const uint8_t* q = src.data() + b * kQ1Bytes;
        float* y = dst.data() + b * 128;
        const float d = fp16_to_fp32(load_u16(q));
        for (int e = 0; e < 128; ++e) y[e] = (q[2 + e / 8] >> (e % 8)) & 1 ? d : -d;
    }
}

void dequantize_q2_0(std::span<const uint8_t> src, std::span<float> dst) {
    for (size_t b = 0; b < dst.size() / 64; ++b) {
        const uint8_t* q = src.data() + b * kQ2Bytes;
        float* y = dst.data() + b * 64;
        const float d = fp16_to_fp32(load_u16(q));
        for (int e = 0; e < 64; ++e) y[e] = static_cast<float>(((q[2 + e / 4] >> (2 * (e % 4))) & 3) - 1) * d;
    }
}

}  // namespace llmq::quant
