// The 2-bit grid I-quants IQ2_XXS, IQ2_XS and IQ2_S: exact dequantizers (reference/ggml-formats.md
// §2.5) and ggml's quantizers (§2.6): per block of 32 (IQ2_XXS) or 16 values, magnitudes are
// quantized to levels {1, 3, 5} in groups of 8 snapped to the 256/512/1024-point grid, the best of
// a series of scale trials is kept, and the block scales become 4-bit multiples of max_scale/31.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "quant/codecs.hpp"
#include "quant/ggml_tables.hpp"
#include "quant/iq_block.hpp"
#include "quant/kquant_search.hpp"
#include "quant/scalar.hpp"

namespace llmq::quant {
namespace {

using iq::BlockCodes;
using iq::QK;

constexpr size_t kXxsBytes = 66, kXsBytes = 74, kSBytes = 82;
constexpr float kEpsIq2s = 1e-8f;  // ggml's GROUP_MAX_EPS_IQ2_S (the others use kGroupMaxEps)

// Weights of one block: qw·sqrt(sigma2 + x²) with an imatrix, else the type's fallback.
void block_weights(const float* x, const float* qw, float sigma2, int n, float* w, float* waux, bool iq2s_fallback) {
    for (int i = 0; i < n; ++i) {
        if (qw) {
            w[i] = qw[i] * std::sqrt(sigma2 + x[i] * x[i]);
        } else if (iq2s_fallback) {
            w[i] = 0.25f * sigma2 + x[i] * x[i];
        } else {
            w[i] = x[i] * x[i];
        }
        waux[i] = std::sqrt(w[i]);
    }
}

// ---- IQ2_XXS: d, then per 32 values a u32 of 4 grid indices and a u32 of 4×7 sign bits + scale --
void quantize_block_iq2_xxs(const float* xbl, const float* qwbl, uint8_t* y) {
    const iq::GridMap& g = iq::grid_map(iq::Grid::Iq2xxs);
    std::array<uint32_t, 16> q2{};
    std::array<float, 8> scales{};
    float max_scale = 0;
    const float sigma2 = iq::sum_squares(xbl, QK) / QK;
    for (int ib = 0; ib < 8; ++ib) {
        const float* xb = xbl + 32 * ib;
        std::array<float, 32> weight, waux, xval;
        block_weights(xb, qwbl + 32 * ib, sigma2, 32, weight.data(), waux.data(), false);
        std::array<uint8_t, 4> signs{};
        for (int k = 0; k < 4; ++k) signs[k] = iq::split_signs(xb + 8 * k, weight.data() + 8 * k, xval.data() + 8 * k, true);
        const float max = iq::max_value(xval.data(), 32);
        if (max < kGroupMaxEps) continue;  // scale 0, all indices 0
        BlockCodes b;
        std::array<uint8_t, 32> qp{};
        b.scale = make_qp_quants(xval, 3 + 1, qp, weight);
        const float eff_max = b.scale * 3;
        std::array<float, 13> ids{};
        for (int is = -6; is <= 6; ++is) ids[is + 6] = (5 + static_cast<float>(is) * 0.1f) / eff_max;
        iq::scale_trials(g, 32, xval.data(), weight.data(), waux.data(), ids, false, b);
        // ggml re-snaps every group at the fitted scale and refits it, whether or not the winning
        // trial was on the grid (its on-grid flags never count): found against llama-quantize by
        // differential testing (tests/quant/iq2_xxs_regression_test.cpp).
        b.on_grid.fill(false);
        iq::final_pass(g, 32, xval.data(), weight.data(), waux.data(), true, b);
        if (b.scale < 0) {  // cannot happen with finite input; ggml flips scale and signs
            b.scale = -b.scale;
            for (auto& s : signs) s = static_cast<uint8_t>(~s & 127);
        }
        for (int k = 0; k < 4; ++k) {
            q2[2 * ib] |= static_cast<uint32_t>(iq::grid_index(g, b, k)) << (8 * k);
            q2[2 * ib + 1] |= static_cast<uint32_t>(signs[k]) << (7 * k);
        }
        scales[ib] = b.scale;
        max_scale = max_scale > b.scale ? max_scale : b.scale;
    }
    if (!(max_scale != 0)) {
        std::memset(y, 0, kXxsBytes);
        return;
    }
    const float d = max_scale / 31;
    store_u16(y, fp32_to_fp16(d));
    const float id = 1 / d;
    for (int ib = 0; ib < 8; ++ib) q2[2 * ib + 1] |= static_cast<uint32_t>(iq::sub_scale(id, scales[ib], 15)) << 28;
    for (int i = 0; i < 16; ++i) store_u32(y + 2 + 4 * i, q2[i]);
}

// ---- IQ2_XS: d, 32 u16 (9-bit grid index | 7 sign bits << 9), 8 bytes of two 4-bit scales ----
void quantize_block_iq2_xs(const float* xbl, const float* qwbl, uint8_t* y) {
    const iq::GridMap& g = iq::grid_map(iq::Grid::Iq2xs);
    std::memset(y, 0, kXsBytes);
    std::array<uint16_t, 32> q2{};
    std::array<float, 16> scales{};
    float max_scale = 0;
    const float sigma2 = iq::sum_squares(xbl, QK) / QK;
    for (int ib = 0; ib < 16; ++ib) {
        const float* xb = xbl + 16 * ib;
        std::array<float, 16> weight, waux, xval;
        block_weights(xb, qwbl + 16 * ib, sigma2, 16, weight.data(), waux.data(), false);
        std::array<uint8_t, 2> signs{};
        for (int k = 0; k < 2; ++k) signs[k] = iq::split_signs(xb + 8 * k, weight.data() + 8 * k, xval.data() + 8 * k, true);
        const float max = iq::max_value(xval.data(), 16);
        if (max < kGroupMaxEps) continue;
        BlockCodes b;
        b.scale = max / 5;
        std::array<float, 19> ids{};
        for (int is = -9; is <= 9; ++is) ids[is + 9] = (5 + static_cast<float>(is) * 0.1f) / max;
        iq::scale_trials(g, 16, xval.data(), weight.data(), waux.data(), ids, true, b);
        iq::final_pass(g, 16, xval.data(), weight.data(), waux.data(), false, b);
        if (b.scale < 0) {
            b.scale = -b.scale;
            for (auto& s : signs) s = static_cast<uint8_t>(~s & 127);
        }
        for (int k = 0; k < 2; ++k) q2[2 * ib + k] = static_cast<uint16_t>(iq::grid_index(g, b, k) | (signs[k] << 9));
        scales[ib] = b.scale;
        max_scale = max_scale > b.scale ? max_scale : b.scale;
    }
    if (!(max_scale != 0)) return;
    const float d = max_scale / 31;
    store_u16(y, fp32_to_fp16(d));
    const float id = 1 / d;
    for (int ib = 0; ib < 16; ++ib) {
        const int l = iq::sub_scale(id, scales[ib], 15);
        y[66 + ib / 2] = static_cast<uint8_t>(ib % 2 == 0 ? l : y[66 + ib / 2] | (l << 4));
    }
    for (int i = 0; i < 32; ++i) store_u16(y + 2 + 2 * i, q2[i]);
}

// ---- IQ2_S: d, 32 grid-index low bytes, 32 sign bytes, 8 qh bytes (2 high bits each), scales ----
void quantize_block_iq2_s(const float* xbl, const float* qwbl, uint8_t* y) {
    const iq::GridMap& g = iq::grid_map(iq::Grid::Iq2s);
    std::memset(y, 0, kSBytes);
    uint8_t* qs = y + 2;
    uint8_t* qh = y + 66;
    std::array<float, 16> scales{};
    float max_scale = 0;
    const float sigma2 = 2 * iq::sum_squares(xbl, QK) / QK;
    for (int ib = 0; ib < 16; ++ib) {
        const float* xb = xbl + 16 * ib;
        std::array<float, 16> weight, waux, xval;
        block_weights(xb, qwbl ? qwbl + 16 * ib : nullptr, sigma2, 16, weight.data(), waux.data(), true);
        std::array<uint8_t, 2> signs{};
        for (int k = 0; k < 2; ++k) signs[k] = iq::split_signs(xb + 8 * k, weight.data() + 8 * k, xval.data() + 8 * k, false);
        const float max = iq::max_value(xval.data(), 16);
        if (max < kEpsIq2s) continue;
        BlockCodes b;
        b.scale = max / 5;
        std::array<float, 19> ids{};
        for (int is = -9; is <= 9; ++is) ids[is + 9] = (5 + static_cast<float>(is) * 0.1f) / max;
        iq::scale_trials(g, 16, xval.data(), weight.data(), waux.data(), ids, true, b);
        iq::final_pass(g, 16, xval.data(), weight.data(), waux.data(), false, b);
        if (b.scale < 0) {
            b.scale = -b.scale;
            for (auto& s : signs) s = static_cast<uint8_t>(~s);
        }
        for (int k = 0; k < 2; ++k) {
            const int gi = iq::grid_index(g, b, k);
            const int i8 = 2 * ib + k;
            qs[i8] = static_cast<uint8_t>(gi & 255);
            qh[i8 / 4] = static_cast<uint8_t>(qh[i8 / 4] | ((gi >> 8) << (2 * (i8 % 4))));
            qs[32 + i8] = signs[k];
        }
        scales[ib] = b.scale;
        max_scale = max_scale > b.scale ? max_scale : b.scale;
    }
    if (!(max_scale != 0)) return;
    const float d = max_scale / 31;
    store_u16(y, fp32_to_fp16(d * 0.9875f));
    const float id = 1 / d;
    for (int ib = 0; ib < 16; ++ib) {
        const int l = iq::sub_scale(id, scales[ib], 15);
        y[74 + ib / 2] = static_cast<uint8_t>(ib % 2 == 0 ? l : y[74 + ib / 2] | (l << 4));
    }
}

// ---- dequantization ---------------------------------------------------------------------------

inline float sign_of(uint8_t signs, int j) {
    return (signs >> j) & 1 ? -1.f : 1.f;
}

}  // namespace

void quantize_iq2_xxs(std::span<const float> src, std::span<uint8_t> dst, int64_t n_per_row, std::span<const float> imatrix) {
    iq::require_imatrix(imatrix, "IQ2_XXS");
    iq::for_each_block(src, dst, n_per_row, imatrix, QK, kXxsBytes, quantize_block_iq2_xxs);
}

void quantize_iq2_xs(std::span<const float> src, std::span<uint8_t> dst, int64_t n_per_row, std::span<const float> imatrix) {
    iq::require_imatrix(imatrix, "IQ2_XS");
    iq::for_each_block(src, dst, n_per_row, imatrix, QK, kXsBytes, quantize_block_iq2_xs);
}

void quantize_iq2_s(std::span<const float> src, std::span<uint8_t> dst, int64_t n_per_row, std::span<const float> imatrix) {
    iq::for_each_block(src, dst, n_per_row, imatrix, QK, kSBytes, quantize_block_iq2_s);
}

void dequantize_iq2_xxs(std::span<const uint8_t> src, std::span<float> dst) {
    iq::for_each_decode(src, dst, kXxsBytes, [](const uint8_t* b, float* y) {
        const float d = fp16_to_fp32(load_u16(b));
        for (int ib = 0; ib < 8; ++ib) {
            const uint8_t* q = b + 2 + 8 * ib;
            const uint32_t a1 = load_u32(q + 4);
            const float db = d * (0.5f + static_cast<float>(a1 >> 28)) * 0.25f;
            for (int l = 0; l < 4; ++l) {
                const uint64_t grid = tables::iq2xxs_grid[q[l]];
                const uint8_t signs = tables::ksigns_iq2xs[(a1 >> (7 * l)) & 127];
                for (int j = 0; j < 8; ++j) y[8 * l + j] = db * static_cast<float>((grid >> (8 * j)) & 0xFF) * sign_of(signs, j);
            }
            y += 32;
        }
    });
}

void dequantize_iq2_xs(std::span<const uint8_t> src, std::span<float> dst) {
    iq::for_each_decode(src, dst, kXsBytes, [](const uint8_t* b, float* y) {
        const float d = fp16_to_fp32(load_u16(b));
        for (int ib = 0; ib < 8; ++ib) {
            const uint8_t sc = b[66 + ib];
            const float db[2] = {d * (0.5f + static_cast<float>(sc & 0xF)) * 0.25f, d * (0.5f + static_cast<float>(sc >> 4)) * 0.25f};
            for (int l = 0; l < 4; ++l) {
                const uint16_t v = load_u16(b + 2 + 2 * (4 * ib + l));
                const uint64_t grid = tables::iq2xs_grid[v & 511];
                const uint8_t signs = tables::ksigns_iq2xs[v >> 9];
                for (int j = 0; j < 8; ++j) y[8 * l + j] = db[l / 2] * static_cast<float>((grid >> (8 * j)) & 0xFF) * sign_of(signs, j);
            }
            y += 32;
        }
    });
}

void dequantize_iq2_s(std::span<const uint8_t> src, std::span<float> dst) {
    iq::for_each_decode(src, dst, kSBytes, [](const uint8_t* b, float* y) {
        const float d = fp16_to_fp32(load_u16(b));
        const uint8_t* qs = b + 2;
        const uint8_t* signs = b + 34;
        const uint8_t* qh = b + 66;
        for (int ib = 0; ib < 8; ++ib) {
            const uint8_t sc = b[74 + ib];
            const float db[2] = {d * (0.5f + static_cast<float>(sc & 0xF)) * 0.25f, d * (0.5f + static_cast<float>(sc >> 4)) * 0.25f};
            for (int l = 0; l < 4; ++l) {
                const int idx = qs[4 * ib + l] | (((qh[ib] >> (2 * l)) & 3) << 8);
                const uint64_t grid = tables::iq2s_grid[idx];
                for (int j = 0; j < 8; ++j) {
                    y[8 * l + j] = db[l / 2] * static_cast<float>((grid >> (8 * j)) & 0xFF) * sign_of(signs[4 * ib + l], j);
                }
            }
            y += 32;
        }
    });
}

}  // namespace llmq::quant
