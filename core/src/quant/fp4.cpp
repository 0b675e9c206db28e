// The FP4 (E2M1) codecs MXFP4 (32 values, E8M0 power-of-two scale) and NVFP4 (64 values, one
// UE4M3 scale per 16): ggml's reference quantizers and exact dequantizers
// (reference/ggml-formats.md §1.6, §2.1, §2.2, §2.6). The value table holds E2M1 values doubled,
// which the scale decoders compensate (a half power of two for MXFP4, ×0.5 for NVFP4).
#include <bit>
#include <cmath>
#include <cstring>

#include "quant/codecs.hpp"
#include "quant/ggml_tables.hpp"
#include "quant/scalar.hpp"

namespace llmq::quant {
namespace {

constexpr size_t kMxBytes = 17, kNvBytes = 36;
const auto& kValues = tables::kvalues_fp4;

// 2^(e − 128): MXFP4's scale with the table's doubling folded in.
float e8m0_half(uint8_t e) {
    const uint32_t bits = e < 2 ? 0x00200000u << e : static_cast<uint32_t>(e - 1) << 23;
    return std::bit_cast<float>(bits);
}

// UE4M3 → float, times 0.5 (ggml's decoder); 0 and 0x7F (NaN) decode to 0.
float ue4m3_half(uint8_t x) {
    if (x == 0 || x == 0x7F) return 0.0f;
    const int exp = (x >> 3) & 15, man = x & 7;
    const float v = exp == 0 ? std::ldexp(static_cast<float>(man), -9) : std::ldexp(1.0f + static_cast<float>(man) / 8.0f, exp - 7);
    return v * 0.5f;
}

// float → UE4M3: saturates at 448 (0x7E), rounds the mantissa half up by bit 19, and encodes
// values below the smallest normal (2^−6) as min(7, round(x·512))·2^−9.
uint8_t to_ue4m3(float x) {
    if (!(x > 0.0f)) return 0;
    if (x > 448.0f) x = 448.0f;
    const uint32_t bits = std::bit_cast<uint32_t>(x);
    int exp = static_cast<int>((bits >> 23) & 0xFF) - 127 + 7;
    if (exp <= 0) {
        // Saturates at the largest subnormal (7·2^−9) rather than rounding up to 2^−6 (goldens).
        const int man = static_cast<int>(std::round(x * 512.0f));
        return static_cast<uint8_t>(man > 7 ? 7 : man);
    }
    int man = static_cast<int>((bits >> 20) & 7) + static_cast<int>((bits >> 19) & 1);
    if (man == 8) {
        man = 0;
        ++exp;
    }
    if (exp > 15 || (exp == 15 && man == 7)) return 0x7E;
    return static_cast<uint8_t>((exp << 3) | man);
}

// Index of the first table value v minimising |v·d − x|.
int best_index(float x, float d) {
    int best = 0;
    float best_err = std::fabs(static_cast<float>(kValues[0]) * d - x);
    for (int i = 1; i < 16; ++i) {
        const float err = std::fabs(static_cast<float>(kValues[i]) * d - x);
        if (err < best_err) {
            best = i;
            best_err = err;
        }
    }
    return best;
}

float abs_max(const float* x, int n) {
    float amax = 0;
    for (int j = 0; j < n; ++j)
        if (amax < std::fabs(x[j])) amax = std::fabs(x[j]);
    return amax;
}

}  // namespace

void quantize_mxfp4(std::span<const float> src, std::span<uint8_t> dst, int64_t, std::span<const float>) {
    for (size_t b = 0; b < src.size() / 32; ++b) {
        const float* x = src.data() + b * 32;
        uint8_t* y = dst.data() + b * kMxBytes;
        const float amax = abs_max(x, 32);
        // floor(log2(amax)) − 2 + 127, converted to uint8 through int as C does on x86.
        const uint8_t e = amax > 0.0f ? static_cast<uint8_t>(static_cast<int32_t>(std::floor(std::log2(amax)) - 2 + 127)) : 0;
        const float d = e8m0_half(e);
        y[0] = e;
        for (int j = 0; j < 16; ++j) y[1 + j] = static_cast<uint8_t>(best_index(x[j], d) | (best_index(x[16 + j], d) << 4));
    }
}

void quantize_nvfp4(std::span<const float> src, std::span<uint8_t> dst, int64_t, std::span<const float>) {
    for (size_t b = 0; b < src.size() / 64; ++b) {
        const float* x = src.data() + b * 64;
        uint8_t* y = dst.data() + b * kNvBytes;
        for (int s = 0; s < 4; ++s) {
            const float* xs = x + 16 * s;
            const uint8_t code = to_ue4m3(abs_max(xs, 16) / 6.0f);
            const float d = ue4m3_half(code);
            y[s] = code;
            for (int j = 0; j < 8; ++j) y[4 + 8 * s + j] = static_cast<uint8_t>(best_index(xs[j], d) | (best_index(xs[8 + j], d) << 4));
        }
    }
}

void dequantize_mxfp4(std::span<const uint8_t> src, std::span<float> dst) {
    for (size_t b = 0; b < dst.size() / 32; ++b) {
        const uint8_t* q = src.data() + b * kMxBytes;
        float* y = dst.data() + b * 32;
        const float d = e8m0_half(q[0]);
        for (int j = 0; j < 16; ++j) {
            y[j] = static_cast<float>(kValues[q[1 + j] & 0xF]) * d;
            y[j + 16] = static_cast<float>(kValues[q[1 + j] >> 4]) * d;
        }
    }
}

void dequantize_nvfp4(std::span<const uint8_t> src, std::span<float> dst) {
    for (size_t b = 0; b < dst.size() / 64; ++b) {
        const uint8_t* q = src.data() + b * kNvBytes;
        float* y = dst.data() + b * 64;
        for (int s = 0; s < 4; ++s) {
            const float d = ue4m3_half(q[s]);
            for (int j = 0; j < 8; ++j) {
                y[16 * s + j] = static_cast<float>(kValues[q[4 + 8 * s + j] & 0xF]) * d;
                y[16 * s + 8 + j] = static_cast<float>(kValues[q[4 + 8 * s + j] >> 4]) * d;
            }
        }
    }
}

}  // namespace llmq::quant
