// The ternary codecs TQ1_0 (base-3, 1.6875 bits/weight) and TQ2_0 (2-bit planes): ggml's
// reference quantizers and exact dequantizers (reference/ggml-formats.md §2.4, §2.6). One scale
// per 256 values, d = max |x|; codes t = lroundf(x / d) + 1 ∈ {0, 1, 2}. A block whose values are
// already in {−s, 0, +s} with s exactly representable in fp16 round-trips losslessly.
#include <algorithm>
#include <cmath>

#include "quant/codecs.hpp"
#include "quant/scalar.hpp"

namespace llmq::quant {
namespace {

constexpr int QK = 256;
constexpr size_t kTq1Bytes = 54, kTq2Bytes = 66;

// Returns d = max |x| and its inverse (0 for an all-zero block).
float block_scale(const float* x, float& id) {
    float amax = 0;
    for (int j = 0; j < QK; ++j) amax = amax > std::fabs(x[j]) ? amax : std::fabs(x[j]);
    id = amax != 0 ? 1.0f / amax : 0.0f;
    return amax;
}

inline int trit(float x, float id) {
    return static_cast<int>(std::lround(x * id)) + 1;
}

// Five (or four, then ×3) trits, first most significant, as the byte ceil(v·256/243).
inline uint8_t pack_trits(int v) {
    return static_cast<uint8_t>((v * 256 + 242) / 243);
}

// Digit n (0 = most significant) of a packed byte: multiply by 3^n (mod 256), then ·3 >> 8.
inline int unpack_trit(uint8_t byte, int n) {
    static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
    const auto q = static_cast<uint8_t>(byte * kPow3[n]);
    return (q * 3) >> 8;
}

}  // namespace

void quantize_tq1_0(std::span<const float> src, std::span<uint8_t> dst, int64_t, std::span<const float>) {
    for (size_t b = 0; b < src.size() / QK; ++b) {
        const float* x = src.data() + b * QK;
        uint8_t* y = dst.data() + b * kTq1Bytes;
        float id;
        store_u16(y + 52, fp32_to_fp16(block_scale(x, id)));
        // Bytes 0-31: elements m + 32n; bytes 32-47: 160 + m + 16n; qh 0-3: 240 + j + 4n.
        for (int m = 0; m < 32; ++m) {
            int v = 0;
            for (int n = 0; n < 5; ++n) v = v * 3 + trit(x[m + 32 * n], id);
            y[m] = pack_trits(v);
        }
        for (int m = 0; m < 16; ++m) {
            int v = 0;
            for (int n = 0; n < 5; ++n) v = v * 3 + trit(x[160 + m + 16 * n], id);
            y[32 + m] = pack_trits(v);
        }
        for (int j = 0; j < 4; ++j) {
            int v = 0;
            for (int n = 0; n < 4; ++n) v = v * 3 + trit(x[240 + j + 4 * n], id);
            y[48 + j] = pack_trits(v * 3);
        }
    }
}

void quantize_tq2_0(std::span<const float> src, std::span<uint8_t> dst, int64_t, std::span<const float>) {
    for (size_t b = 0; b < src.size() / QK; ++b) {
        const float* x = src.data() + b * QK;
        uint8_t* y = dst.data() + b * kTq2Bytes;
        float id;
        store_u16(y + 64, fp32_to_fp16(block_scale(x, id)));
        for (int half = 0; half < 2; ++half) {
            for (int m = 0; m < 32; ++m) {
                int q = 0;
                for (int n = 0; n < 4; ++n) q += (trit(x[128 * half + m + 32 * n], id) & 3) << (2 * n);
                y[32 * half + m] = static_cast<uint8_t>(q);
            }
        }
    }
}

void dequantize_tq1_0(std::span<const uint8_t> src, std::span<float> dst) {
    for (size_t b = 0; b < dst.size() / QK; ++b) {
        const uint8_t* q = src.data() + b * kTq1Bytes;
        float* y = dst.data() + b * QK;
        const float d = fp16_to_fp32(load_u16(q + 52));
        for (int n = 0; n < 5; ++n)
            for (int m = 0; m < 32; ++m) y[32 * n + m] = static_cast<float>(unpack_trit(q[m], n) - 1) * d;
        for (int n = 0; n < 5; ++n)
            for (int m = 0; m < 16; ++m) y[160 + 16 * n + m] = static_cast<float>(unpack_trit(q[32 + m], n) - 1) * d;
        for (int n = 0; n < 4; ++n)
            for (int j = 0; j < 4; ++j) y[240 + 4 * n + j] = static_cast<float>(unpack_trit(q[48 + j], n) - 1) * d;
    }
}

void dequantize_tq2_0(std::span<const uint8_t> src, std::span<float> dst) {
    for (size_t b = 0; b < dst.size() / QK; ++b) {
        const uint8_t* q = src.data() + b * kTq2Bytes;
        float* y = dst.data() + b * QK;
        const float d = fp16_to_fp32(load_u16(q + 64));
        for (int e = 0; e < QK; ++e) {
            const int c = (q[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
            y[e] = static_cast<float>(c - 1) * d;
        }
    }
}

}  // namespace llmq::quant
