// The non-linear 4-bit I-quants IQ4_NL (blocks of 32) and IQ4_XS (super-blocks of 256 with 6-bit
// block scales): exact dequantizers (reference/ggml-formats.md §2.1, §2.5) and ggml's quantizer
// (§2.6, the llama-quantize path with 7 scale trials each side, with or without an imatrix).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "quant/codecs.hpp"
#include "quant/ggml_tables.hpp"
#include "quant/iq_block.hpp"
#include "quant/iq_search.hpp"
#include "quant/kquant_search.hpp"
#include "quant/scalar.hpp"

namespace llmq::quant {
namespace {

constexpr size_t kNlBytes = 18, kXsBytes = 136;
constexpr int kTrials = 7;
const auto& kValues = tables::kvalues_iq4nl;

// One super-block of `n` values (32 for IQ4_NL, 256 for IQ4_XS) in blocks of 32: block scales by
// weighted least squares over 2·kTrials + 1 inverse scales, then (IQ4_XS) 6-bit block scales
// relative to the super-scale and codes recomputed with them. Writes d (fp16) and the codes L.
struct Iq4Result {
    uint16_t d = 0;
    std::array<int, 8> ls{};  // IQ4_XS block scales + 32
};

Iq4Result quantize_iq4(const float* x, const float* qw, int n, std::array<uint8_t, 256>& L) {
    float sigma2 = 0;
    for (int j = 0; j < n; ++j) sigma2 += x[j] * x[j];
    sigma2 *= 2.f / static_cast<float>(n);
    std::array<float, 8> scales{};
    float max_scale = 0, amax_scale = 0;
    std::array<float, 32> weight;
    for (int ib = 0; ib < n / 32; ++ib) {
        const float* xb = x + 32 * ib;
        for (int j = 0; j < 32; ++j) weight[j] = qw ? qw[32 * ib + j] * std::sqrt(sigma2 + xb[j] * xb[j]) : xb[j] * xb[j];
        float amax = 0, max = 0;
        for (int j = 0; j < 32; ++j) {
            const float ax = std::fabs(xb[j]);
            if (ax > amax) {
                amax = ax;
                max = xb[j];
            }
        }
        if (amax < kGroupMaxEps) {
            scales[ib] = 0;
            continue;
        }
        // The first fit (d = max/127) and the 2·kTrials + 1 trials id = (t − 127)/max, all fitted
        // at once, then ggml's sequential choice: the first fit unconditionally, a trial if it is
        // better.
        constexpr int kFits = 2 * kTrials + 2;
        std::array<float, kFits> ids{}, sumqx{}, sumq2{};
        ids[0] = 1 / (-max / kValues[0]);
        for (int itry = -kTrials; itry <= kTrials; ++itry) ids[itry + kTrials + 1] = static_cast<float>(itry + kValues[0]) / max;
        iq::iq4_trial_sums(32, kFits, ids.data(), xb, weight.data(), sumqx.data(), sumq2.data());
        float d = sumqx[0] / sumq2[0];
        float best = d * sumqx[0];
        for (int t = 1; t < kFits; ++t) {
            if (sumq2[t] > 0 && sumqx[t] * sumqx[t] > best * sumq2[t]) {
                d = sumqx[t] / sumq2[t];
                best = d * sumqx[t];
            }
        }
        scales[ib] = d;
        const float abs_d = std::fabs(d);
        if (abs_d > amax_scale) {
            amax_scale = abs_d;
            max_scale = d;
        }
    }
    Iq4Result r;
    if (n > 32) {
        const float d = -max_scale / 32;
        r.d = fp32_to_fp16(d);
        const float id = d != 0 ? 1.f / d : 0.f;
        for (int ib = 0; ib < n / 32; ++ib) {
            const int l = std::clamp(nearest_int(id * scales[ib]), -32, 31);
            const float dl = d * static_cast<float>(l);
            const float idl = dl != 0 ? 1.f / dl : 0.f;
            iq::iq4_codes(32, x + 32 * ib, idl, L.data() + 32 * ib);
            r.ls[ib] = l + 32;
        }
    } else {
        r.d = fp32_to_fp16(scales[0]);
        const float id = scales[0] != 0 ? 1 / scales[0] : 0;
        iq::iq4_codes(32, x, id, L.data());
    }
    return r;
}

// Codes of 32 values as nibbles: element j low, element j + 16 high.
void pack_nibbles(const uint8_t* L, uint8_t* q4) {
    for (int j = 0; j < 16; ++j) q4[j] = static_cast<uint8_t>(L[j] | (L[16 + j] << 4));
}

}  // namespace

void quantize_iq4_nl(std::span<const float> src, std::span<uint8_t> dst, int64_t n_per_row, std::span<const float> imatrix) {
    iq::for_each_block(src, dst, n_per_row, imatrix, 32, kNlBytes, [](const float* x, const float* qw, uint8_t* y) {
        std::array<uint8_t, 256> L{};
        const Iq4Result r = quantize_iq4(x, qw, 32, L);
        store_u16(y, r.d);
        pack_nibbles(L.data(), y + 2);
    });
}

void quantize_iq4_xs(std::span<const float> src, std::span<uint8_t> dst, int64_t n_per_row, std::span<const float> imatrix) {
    iq::for_each_block(src, dst, n_per_row, imatrix, 256, kXsBytes, [](const float* x, const float* qw, uint8_t* y) {
        std::array<uint8_t, 256> L{};
        const Iq4Result r = quantize_iq4(x, qw, 256, L);
        store_u16(y, r.d);
        uint16_t scales_h = 0;
        std::array<uint8_t, 4> scales_l{};
        for (int ib = 0; ib < 8; ++ib) {
            scales_l[ib / 2] = static_cast<uint8_t>(scales_l[ib / 2] | ((r.ls[ib] & 0xF) << (4 * (ib % 2))));
            scales_h = static_cast<uint16_t>(scales_h | ((r.ls[ib] >> 4) << (2 * ib)));
        }
        store_u16(y + 2, scales_h);
        std::memcpy(y + 4, scales_l.data(), 4);
        for (int ib = 0; ib < 8; ++ib) pack_nibbles(L.data() + 32 * ib, y + 8 + 16 * ib);
    });
}

void dequantize_iq4_nl(std::span<const uint8_t> src, std::span<float> dst) {
    for (size_t b = 0; b < dst.size() / 32; ++b) {
        const uint8_t* q = src.data() + b * kNlBytes;
        float* y = dst.data() + b * 32;
        const float d = fp16_to_fp32(load_u16(q));
        for (int j = 0; j < 16; ++j) {
            y[j] = d * static_cast<float>(kValues[q[2 + j] & 0xF]);
            y[j + 16] = d * static_cast<float>(kValues[q[2 + j] >> 4]);
        }
    }
}

void dequantize_iq4_xs(std::span<const uint8_t> src, std::span<float> dst) {
    for (size_t b = 0; b < dst.size() / 256; ++b) {
        const uint8_t* q = src.data() + b * kXsBytes;
        float* y = dst.data() + b * 256;
        const float d = fp16_to_fp32(load_u16(q));
        const uint16_t scales_h = load_u16(q + 2);
        for (int ib = 0; ib < 8; ++ib) {
            const int ls = ((q[4 + ib / 2] >> (4 * (ib % 2))) & 0xF) | (((scales_h >> (2 * ib)) & 3) << 4);
            const float dl = d * static_cast<float>(ls - 32);
            const uint8_t* qs = q + 8 + 16 * ib;
            for (int j = 0; j < 16; ++j) {
                y[32 * ib + j] = dl * static_cast<float>(kValues[qs[j] & 0xF]);
                y[32 * ib + j + 16] = dl * static_cast<float>(kValues[qs[j] >> 4]);
            }
        }
    }
}

}  // namespace llmq::quant
