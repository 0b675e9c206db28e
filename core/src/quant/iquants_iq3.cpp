// The 3-bit grid I-quants IQ3_XXS and IQ3_S: exact dequantizers (reference/ggml-formats.md §2.5)
// and ggml's quantizers (§2.6): per block of 32 values, magnitudes are quantized to levels
// {1, 3, ..., 15} in groups of 4 snapped to the 256/512-point grid, the best of a series of scale
// trials is kept, and the block scales become 4-bit multiples of max_scale/31.
#include <array>
#include <cmath>
#include <cstring>

#include "quant/codecs.hpp"
#include "quant/ggml_tables.hpp"
#include "quant/iq_block.hpp"
#include "quant/scalar.hpp"

namespace llmq::quant {
namespace {

using iq::BlockCodes;
using iq::QK;

constexpr size_t kXxsBytes = 98, kSBytes = 110;
constexpr float kEpsIq3xxs = 1e-8f;  // ggml's GROUP_MAX_EPS_IQ3_XXS

void block_weights(const float* x, const float* qw, float sigma2, float* w, float* waux) {
    for (int i = 0; i < 32; ++i) {
        w[i] = qw ? qw[i] * std::sqrt(sigma2 + x[i] * x[i]) : x[i] * x[i];
        waux[i] = std::sqrt(w[i]);
    }
}

// ---- IQ3_XXS: d, 64 grid indices, 8 u32 of 4×7 sign bits + 4-bit scale ------------------------
void quantize_block_iq3_xxs(const float* xbl, const float* qwbl, uint8_t* y) {
    const iq::GridMap& g = iq::grid_map(iq::Grid::Iq3xxs);
    std::memset(y, 0, kXxsBytes);
    uint8_t* q3 = y + 2;
    std::array<uint32_t, 8> scales_and_signs{};
    std::array<float, 8> scales{};
    float max_scale = 0;
    const float sigma2 = 2 * iq::sum_squares(xbl, QK) / QK;
    for (int ib = 0; ib < 8; ++ib) {
        const float* xb = xbl + 32 * ib;
        std::array<float, 32> weight, waux, xval;
        block_weights(xb, qwbl ? qwbl + 32 * ib : nullptr, sigma2, weight.data(), waux.data());
        std::array<uint8_t, 4> signs{};
        for (int k = 0; k < 4; ++k) signs[k] = iq::split_signs(xb + 8 * k, weight.data() + 8 * k, xval.data() + 8 * k, true);
        const float max = iq::max_value(xval.data(), 32);
        if (max < kEpsIq3xxs) continue;
        BlockCodes b;
        b.scale = max / 15;
        std::array<float, 31> ids{};
        for (int is = -15; is <= 15; ++is) ids[is + 15] = (15 + static_cast<float>(is) * 0.2f) / max;
        iq::scale_trials(g, 32, xval.data(), weight.data(), waux.data(), ids, true, b);
        iq::final_pass(g, 32, xval.data(), weight.data(), waux.data(), false, b);
        if (b.scale < 0) {  // cannot happen with finite input; ggml flips scale and signs
            b.scale = -b.scale;
            for (auto& s : signs) s = static_cast<uint8_t>(~s & 127);
        }
        for (int k = 0; k < 8; ++k) q3[8 * ib + k] = static_cast<uint8_t>(iq::grid_index(g, b, k));
        scales_and_signs[ib] = signs[0] | (signs[1] << 7) | (signs[2] << 14) | (static_cast<uint32_t>(signs[3]) << 21);
        scales[ib] = b.scale;
        max_scale = max_scale > b.scale ? max_scale : b.scale;
    }
    if (!(max_scale != 0)) {
        std::memset(y, 0, kXxsBytes);
        return;
    }
    const float d = max_scale / 31;
    store_u16(y, fp32_to_fp16(d * 1.0125f));
    const float id = 1 / d;
    for (int ib = 0; ib < 8; ++ib) {
        scales_and_signs[ib] |= static_cast<uint32_t>(iq::sub_scale(id, scales[ib], 15)) << 28;
        store_u32(q3 + 64 + 4 * ib, scales_and_signs[ib]);
    }
}

// ---- IQ3_S: d, 64 grid-index low bytes, 8 qh bytes, 32 sign bytes, 4 bytes of two 4-bit scales --
void quantize_block_iq3_s(const float* xbl, const float* qwbl, uint8_t* y) {
    const iq::GridMap& g = iq::grid_map(iq::Grid::Iq3s);
    std::memset(y, 0, kSBytes);
    uint8_t* qs = y + 2;
    uint8_t* qh = y + 66;
    uint8_t* sign_bytes = y + 74;
    std::array<float, 8> scales{};
    float max_scale = 0;
    const float sigma2 = 2 * iq::sum_squares(xbl, QK) / QK;
    for (int ib = 0; ib < 8; ++ib) {
        const float* xb = xbl + 32 * ib;
        std::array<float, 32> weight, waux, xval;
        block_weights(xb, qwbl ? qwbl + 32 * ib : nullptr, sigma2, weight.data(), waux.data());
        std::array<uint8_t, 4> signs{};
        for (int k = 0; k < 4; ++k) signs[k] = iq::split_signs(xb + 8 * k, weight.data() + 8 * k, xval.data() + 8 * k, false);
        const float max = iq::max_value(xval.data(), 32);
        if (!(max != 0)) continue;
        BlockCodes b;
        b.scale = max / 15;
        std::array<float, 19> ids{};
        for (int is = -9; is <= 9; ++is) ids[is + 9] = (15 + static_cast<float>(is) * 0.2f) / max;
        iq::scale_trials(g, 32, xval.data(), weight.data(), waux.data(), ids, false, b);
        iq::final_pass(g, 32, xval.data(), weight.data(), waux.data(), true, b);
        if (b.scale < 0) {
            b.scale = -b.scale;
            for (auto& s : signs) s = static_cast<uint8_t>(~s);
        }
        for (int k = 0; k < 8; ++k) {
            const int gi = iq::grid_index(g, b, k);
            qs[8 * ib + k] = static_cast<uint8_t>(gi & 255);
            qh[ib] = static_cast<uint8_t>(qh[ib] | ((gi >> 8) << k));
        }
        for (int k = 0; k < 4; ++k) sign_bytes[4 * ib + k] = signs[k];
        scales[ib] = b.scale;
        max_scale = max_scale > b.scale ? max_scale : b.scale;
    }
    if (!(max_scale != 0)) return;
    const float d = max_scale / 31;
    store_u16(y, fp32_to_fp16(d * 1.033f));
    const float id = 1 / d;
    for (int ib = 0; ib < 8; ib += 2) {
        const int l1 = iq::sub_scale(id, scales[ib], 15);
        const int l2 = iq::sub_scale(id, scales[ib + 1], 15);
        y[106 + ib / 2] = static_cast<uint8_t>(l1 | (l2 << 4));
    }
}

inline float sign_of(uint8_t signs, int j) {
    return (signs >> j) & 1 ? -1.f : 1.f;
}

}  // namespace

void quantize_iq3_xxs(std::span<const float> src, std::span<uint8_t> dst, int64_t n_per_row, std::span<const float> imatrix) {
    iq::for_each_block(src, dst, n_per_row, imatrix, QK, kXxsBytes, quantize_block_iq3_xxs);
}

void quantize_iq3_s(std::span<const float> src, std::span<uint8_t> dst, int64_t n_per_row, std::span<const float> imatrix) {
    iq::for_each_block(src, dst, n_per_row, imatrix, QK, kSBytes, quantize_block_iq3_s);
}

void dequantize_iq3_xxs(std::span<const uint8_t> src, std::span<float> dst) {
    iq::for_each_decode(src, dst, kXxsBytes, [](const uint8_t* b, float* y) {
        const float d = fp16_to_fp32(load_u16(b));
        const uint8_t* qs = b + 2;
        for (int ib = 0; ib < 8; ++ib) {
            const uint32_t aux = load_u32(qs + 64 + 4 * ib);
            const float db = d * (0.5f + static_cast<float>(aux >> 28)) * 0.5f;
            for (int l = 0; l < 4; ++l) {
                const uint8_t signs = tables::ksigns_iq2xs[(aux >> (7 * l)) & 127];
                const uint32_t g1 = tables::iq3xxs_grid[qs[8 * ib + 2 * l]];
                const uint32_t g2 = tables::iq3xxs_grid[qs[8 * ib + 2 * l + 1]];
                for (int j = 0; j < 4; ++j) {
                    y[8 * l + j] = db * static_cast<float>((g1 >> (8 * j)) & 0xFF) * sign_of(signs, j);
                    y[8 * l + 4 + j] = db * static_cast<float>((g2 >> (8 * j)) & 0xFF) * sign_of(signs, j + 4);
                }
            }
            y += 32;
        }
    });
}

void dequantize_iq3_s(std::span<const uint8_t> src, std::span<float> dst) {
    iq::for_each_decode(src, dst, kSBytes, [](const uint8_t* b, float* y) {
        const float d = fp16_to_fp32(load_u16(b));
        const uint8_t* qs = b + 2;
        const uint8_t* qh = b + 66;
        const uint8_t* signs = b + 74;
        for (int ib = 0; ib < 8; ++ib) {
            const int s = (b[106 + ib / 2] >> (4 * (ib % 2))) & 0xF;
            const float db = d * static_cast<float>(1 + 2 * s);
            for (int l = 0; l < 4; ++l) {
                const int i1 = qs[8 * ib + 2 * l] | (((qh[ib] >> (2 * l)) & 1) << 8);
                const int i2 = qs[8 * ib + 2 * l + 1] | (((qh[ib] >> (2 * l + 1)) & 1) << 8);
                const uint32_t g1 = tables::iq3s_grid[i1];
                const uint32_t g2 = tables::iq3s_grid[i2];
                const uint8_t sg = signs[4 * ib + l];
                for (int j = 0; j < 4; ++j) {
                    y[8 * l + j] = db * static_cast<float>((g1 >> (8 * j)) & 0xFF) * sign_of(sg, j);
                    y[8 * l + 4 + j] = db * static_cast<float>((g2 >> (8 * j)) & 0xFF) * sign_of(sg, j + 4);
                }
            }
            y += 32;
        }
    });
}

}  // namespace llmq::quant
