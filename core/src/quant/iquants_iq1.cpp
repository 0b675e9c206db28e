// The 1.5/1.75-bit I-quants IQ1_S and IQ1_M: exact dequantizers (reference/ggml-formats.md §2.5)
// and ggml's quantizers (§2.6). Per block of 32 (IQ1_S) or 16 (IQ1_M) values the levels
// {−1, 0, +1} + δ (δ = ±0.125) are assigned by an exhaustive search over the two split points of
// the sorted values (iq_search.hpp); the groups of 8 codes are then snapped to the 2048-point grid
// and the block scales become 3-bit multiples of max_scale/15.
//
// Sorting: ggml sorts (value, index) pairs with glibc's qsort comparing values only; for the
// small blocks here glibc uses a stable merge sort, so equal values keep their index order —
// sorted_order reproduces it. Blocks whose values are all (nearly) zero are skipped, as in
// ggml; ggml then leaves the block's shift flag stale (whatever the same block of the previous
// super-block in the same call chose), which would make the bytes depend on how rows are split
// between threads: here such a block always gets shift +δ (IQ1_S) / variant 0 (IQ1_M).
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>

#include "quant/codecs.hpp"
#include "quant/ggml_tables.hpp"
#include "quant/iq_block.hpp"
#include "quant/iq_search.hpp"
#include "quant/scalar.hpp"

namespace llmq::quant {
namespace {

using iq::QK;

constexpr size_t kSBytes = 50, kMBytes = 56;
constexpr float kDelta = 0.125f;                      // IQ1S_DELTA = IQ1M_DELTA
constexpr float kEpsIq1s = 1e-12f, kEpsIq1m = 1e-7f;  // ggml's GROUP_MAX_EPS_IQ1_*
constexpr std::array<float, 3> kXp = {-1 + kDelta, kDelta, 1 + kDelta};
constexpr std::array<float, 3> kXm = {-1 - kDelta, -kDelta, 1 - kDelta};

float abs_max(const float* x, int n) {
    float m = std::fabs(x[0]);
    for (int i = 1; i < n; ++i) m = m > std::fabs(x[i]) ? m : std::fabs(x[i]);
    return m;
}

// Element indices in ascending order of value, equal values (−0 = +0) in index order: a sort of
// (order-preserving bits of the value, index) keys, which is a stable sort by value.
template <size_t n>
std::array<int, n> sorted_order(const float* x) {
    std::array<uint64_t, n> keys;
    for (size_t i = 0; i < n; ++i) {
        const uint32_t b = std::bit_cast<uint32_t>(x[i] == 0 ? 0.0f : x[i]);
        const uint32_t ordered = (b & 0x80000000u) ? ~b : (b | 0x80000000u);
        keys[i] = (static_cast<uint64_t>(ordered) << 32) | i;
    }
    std::sort(keys.begin(), keys.end());
    std::array<int, n> order;
    for (size_t j = 0; j < n; ++j) order[j] = static_cast<int>(keys[j] & 0xFFFFFFFFu);
    return order;
}

// Codes from a split: sorted positions below i1 → 0, below i2 → 1, the rest → 2.
template <size_t n>
void split_codes(const std::array<int, n>& order, const iq::Split& s, int8_t* L) {
    for (int j = 0; j < static_cast<int>(n); ++j) L[order[j]] = static_cast<int8_t>(j < s.i1 ? 0 : j < s.i2 ? 1 : 2);
}

// Snaps 8 codes to the grid: their own grid index when on it, else the neighbour with the
// smallest weighted error of scale·level − x (levels `xx`); L receives the grid point's codes.
int snap_iq1(const iq::GridMap& g, const float* x, const float* w, float scale, const float* xx, int8_t* L, bool& on_grid) {
    const int32_t v = g.map[g.key(L)];
    if (v >= 0) return v;
    on_grid = false;
    const iq::NeighbourList& list = g.lists[static_cast<size_t>(-v - 1)];
    int gi = iq::nearest_neighbour(g, list, x, w, scale, xx);
    if (gi < 0) gi = g.neighbours[list.first];  // only non-finite input leaves no winner
    const uint8_t* codes = g.point(gi);
    for (int i = 0; i < 8; ++i) L[i] = static_cast<int8_t>(codes[i]);
    return gi;
}

// ---- IQ1_S: d, 32 grid-index low bytes, 8 u16 of (3×3 high index bits, 3-bit scale, shift) ----
void quantize_block_iq1_s(const float* xbl, const float* qwbl, uint8_t* y) {
    const iq::GridMap& g = iq::grid_map(iq::Grid::Iq1);
    std::memset(y, 0, kSBytes);
    uint8_t* qs = y + 2;
    std::array<uint16_t, 8> qh{};
    std::array<float, 8> scales{};
    std::array<int, 8> shifts{};
    float max_scale = 0;
    const float sigma2 = 2 * iq::sum_squares(xbl, QK) / QK;
    for (int ib = 0; ib < 8; ++ib) {
        const float* xb = xbl + 32 * ib;
        const float* qw = qwbl + 32 * ib;
        std::array<float, 32> weight;
        for (int i = 0; i < 32; ++i) weight[i] = qw[i] * std::sqrt(sigma2 + xb[i] * xb[i]);
        const float max = abs_max(xb, 32);
        shifts[ib] = 1;
        if (max < kEpsIq1s) continue;
        const auto order = sorted_order<32>(xb);
        std::array<float, 33> sumx{}, sumw{};
        for (int j = 0; j < 32; ++j) {
            const int i = order[j];
            sumx[j + 1] = sumx[j] + weight[i] * xb[i];
            sumw[j + 1] = sumw[j] + weight[i];
        }
        const iq::Split s = iq::iq1s_best_split(32, sumx.data(), sumw.data(), kXp.data(), kXm.data(), max);
        if (s.i1 < 0) continue;  // all weights zero: no split fits (ggml asserts)
        std::array<int8_t, 32> L{};
        split_codes(order, s, L.data());
        float scale = s.scale;
        int shift = s.variant;
        if (scale < 0) {
            for (auto& l : L) l = static_cast<int8_t>(2 - l);
            scale = -scale;
            shift = -shift;
        }
        const float* xx = shift == 1 ? kXp.data() : kXm.data();
        bool all_on_grid = true;
        std::array<int, 4> index{};
        for (int k = 0; k < 4; ++k) index[k] = snap_iq1(g, xb + 8 * k, weight.data() + 8 * k, scale, xx, L.data() + 8 * k, all_on_grid);
        if (!all_on_grid) {
            float sumqx = 0, sumq2 = 0;
            for (int i = 0; i < 32; ++i) {
                const float w = weight[i];
                const float q = xx[L[i]];
                sumqx += w * q * xb[i];
                sumq2 += w * q * q;
            }
            if (sumqx > 0 && sumq2 > 0) scale = sumqx / sumq2;
        }
        uint16_t h = 0;
        for (int k = 0; k < 4; ++k) {
            qs[4 * ib + k] = static_cast<uint8_t>(index[k] & 255);
            h = static_cast<uint16_t>(h | ((index[k] >> 8) << (3 * k)));
        }
        qh[ib] = h;
        scales[ib] = scale;
        shifts[ib] = shift;
        max_scale = max_scale > scale ? max_scale : scale;
    }
    if (max_scale != 0) {
        const float d = max_scale / 15;
        store_u16(y, fp32_to_fp16(d * 1.125f));
        const float id = 1 / d;
        for (int ib = 0; ib < 8; ++ib) {
            int l = iq::sub_scale(id, scales[ib], 7);
            if (shifts[ib] == -1) l |= 8;
            qh[ib] = static_cast<uint16_t>(qh[ib] | (l << 12));
        }
    }
    for (int ib = 0; ib < 8; ++ib) store_u16(y + 34 + 2 * ib, qh[ib]);
}

// ---- IQ1_M: 32 grid-index low bytes, 16 qh bytes (high bits + shift flags), 4 u16 of 3-bit scales
// with the fp16 super-scale spread over their top nibbles
// ------------------------------------------
void block_weights_m(const float* xb, const float* qw, float sigma2, float* w) {
    for (int i = 0; i < 16; ++i) w[i] = qw ? qw[i] * std::sqrt(sigma2 + xb[i] * xb[i]) : xb[i] * xb[i];
}

// Level set of 8-group k (0, 1) under variant v: group 0 uses +δ when v < 2, group 1 when v is
// even.
const float* iq1m_levels(int v, int k) {
    const bool plus = k == 0 ? v < 2 : v % 2 == 0;
    return plus ? kXp.data() : kXm.data();
}

void quantize_block_iq1_m(const float* xbl, const float* qwbl, uint8_t* y) {
    const iq::GridMap& g = iq::grid_map(iq::Grid::Iq1);
    constexpr uint8_t kMasks[4] = {0x00, 0x80, 0x08, 0x88};
    std::memset(y, 0, kMBytes);
    uint8_t* qs = y;
    uint8_t* qh = y + 32;
    std::array<float, 16> scales{};
    std::array<int, 16> shifts{};
    float max_scale = 0;
    const float sigma2 = 2 * iq::sum_squares(xbl, QK) / QK;
    std::array<float, 16> weight;
    for (int ib = 0; ib < 16; ++ib) {
        const float* xb = xbl + 16 * ib;
        block_weights_m(xb, qwbl ? qwbl + 16 * ib : nullptr, sigma2, weight.data());
        const float max = abs_max(xb, 16);
        if (max < kEpsIq1m) continue;
        const auto order = sorted_order<16>(xb);
        const iq::Split s = iq::iq1m_best_split(16, order.data(), weight.data(), xb, kXp.data(), kXm.data(), max);
        if (s.i1 < 0) continue;  // all weights zero: no split fits (ggml asserts)
        std::array<int8_t, 16> L{};
        split_codes(order, s, L.data());
        float scale = s.scale;
        int variant = s.variant;
        if (scale < 0) {
            for (auto& l : L) l = static_cast<int8_t>(2 - l);
            scale = -scale;
            variant = 3 - variant;  // both shifts flip: 0 ↔ 3, 1 ↔ 2
        }
        bool all_on_grid = true;
        std::array<int, 2> index{};
        for (int k = 0; k < 2; ++k) {
            index[k] = snap_iq1(g, xb + 8 * k, weight.data() + 8 * k, scale, iq1m_levels(variant, k), L.data() + 8 * k, all_on_grid);
        }
        if (!all_on_grid) {
            float sumqx = 0, sumq2 = 0;
            for (int k = 0; k < 2; ++k) {
                const float* xx = iq1m_levels(variant, k);
                for (int j = 0; j < 8; ++j) {
                    const float w = weight[8 * k + j];
                    const float q = xx[L[8 * k + j]];
                    sumqx += w * q * xb[8 * k + j];
                    sumq2 += w * q * q;
                }
            }
            if (sumqx > 0 && sumq2 > 0) scale = sumqx / sumq2;
        }
        qs[2 * ib] = static_cast<uint8_t>(index[0] & 255);
        qs[2 * ib + 1] = static_cast<uint8_t>(index[1] & 255);
        qh[ib] = static_cast<uint8_t>((index[0] >> 8) | ((index[1] >> 8) << 4));
        scales[ib] = scale;
        shifts[ib] = variant;
        max_scale = max_scale > scale ? max_scale : scale;
    }
    if (!(max_scale != 0)) return;
    std::array<uint16_t, 4> sc{};
    float d = max_scale / 15;
    const float id = 1 / d;
    // Refit the super-scale by least squares over the whole super-block with the stored codes.
    float sumqx = 0, sumq2 = 0;
    for (int ib = 0; ib < 16; ++ib) {
        const int l = iq::sub_scale(id, scales[ib], 7);
        sc[ib / 4] = static_cast<uint16_t>(sc[ib / 4] | (l << (3 * (ib % 4))));
        qh[ib] = static_cast<uint8_t>(qh[ib] | kMasks[shifts[ib]]);
        const float* xb = xbl + 16 * ib;
        block_weights_m(xb, qwbl ? qwbl + 16 * ib : nullptr, sigma2, weight.data());
        for (int k = 0; k < 2; ++k) {
            const float* xx = iq1m_levels(shifts[ib], k);
            const int gi = qs[2 * ib + k] | ((qh[ib] << (8 - 4 * k)) & 0x700);
            const uint8_t* codes = g.point(gi);
            for (int j = 0; j < 8; ++j) {
                const float w = weight[8 * k + j];
                const float q = xx[codes[j]] * static_cast<float>(2 * l + 1);
                sumqx += w * q * xb[8 * k + j];
                sumq2 += w * q * q;
            }
        }
    }
    if (sumq2 > 0) d = sumqx / sumq2;
    const uint16_t s = fp32_to_fp16(d * 1.1125f);
    sc[0] = static_cast<uint16_t>(sc[0] | ((s & 0x000F) << 12));
    sc[1] = static_cast<uint16_t>(sc[1] | ((s & 0x00F0) << 8));
    sc[2] = static_cast<uint16_t>(sc[2] | ((s & 0x0F00) << 4));
    sc[3] = static_cast<uint16_t>(sc[3] | (s & 0xF000));
    for (int i = 0; i < 4; ++i) store_u16(y + 48 + 2 * i, sc[i]);
}

inline float grid_value(uint64_t grid, int j) {
    return static_cast<float>(static_cast<int8_t>(grid >> (8 * j)));
}

}  // namespace

void quantize_iq1_s(std::span<const float> src, std::span<uint8_t> dst, int64_t n_per_row, std::span<const float> imatrix) {
    iq::require_imatrix(imatrix, "IQ1_S");
    iq::for_each_block(src, dst, n_per_row, imatrix, QK, kSBytes, quantize_block_iq1_s);
}

void quantize_iq1_m(std::span<const float> src, std::span<uint8_t> dst, int64_t n_per_row, std::span<const float> imatrix) {
    iq::for_each_block(src, dst, n_per_row, imatrix, QK, kMBytes, quantize_block_iq1_m);
}

void dequantize_iq1_s(std::span<const uint8_t> src, std::span<float> dst) {
    iq::for_each_decode(src, dst, kSBytes, [](const uint8_t* b, float* y) {
        const float d = fp16_to_fp32(load_u16(b));
        const uint8_t* qs = b + 2;
        for (int ib = 0; ib < 8; ++ib) {
            const uint16_t h = load_u16(b + 34 + 2 * ib);
            const float dl = d * static_cast<float>(2 * ((h >> 12) & 7) + 1);
            const float delta = (h & 0x8000) ? -kDelta : kDelta;
            for (int l = 0; l < 4; ++l) {
                const uint64_t grid = tables::iq1s_grid[qs[4 * ib + l] | (((h >> (3 * l)) & 7) << 8)];
                for (int j = 0; j < 8; ++j) y[8 * l + j] = dl * (grid_value(grid, j) + delta);
            }
            y += 32;
        }
    });
}

void dequantize_iq1_m(std::span<const uint8_t> src, std::span<float> dst) {
    iq::for_each_decode(src, dst, kMBytes, [](const uint8_t* b, float* y) {
        const uint8_t* qs = b;
        const uint8_t* qh = b + 32;
        std::array<uint16_t, 4> sc{};
        for (int i = 0; i < 4; ++i) sc[i] = load_u16(b + 48 + 2 * i);
        const auto bits = static_cast<uint16_t>((sc[0] >> 12) | ((sc[1] >> 8) & 0x00F0) | ((sc[2] >> 4) & 0x0F00) | (sc[3] & 0xF000));
        const float d = fp16_to_fp32(bits);
        for (int ib = 0; ib < 8; ++ib) {
            const float dl1 = d * static_cast<float>(2 * ((sc[ib / 2] >> (6 * (ib % 2))) & 7) + 1);
            const float dl2 = d * static_cast<float>(2 * ((sc[ib / 2] >> (6 * (ib % 2) + 3)) & 7) + 1);
            const uint8_t q0 = qh[2 * ib], q1 = qh[2 * ib + 1];
            const int idx[4] = {qs[4 * ib] | ((q0 & 7) << 8), qs[4 * ib + 1] | (((q0 >> 4) & 7) << 8), qs[4 * ib + 2] | ((q1 & 7) << 8),
                                qs[4 * ib + 3] | (((q1 >> 4) & 7) << 8)};
            const float delta[4] = {(q0 & 0x08) ? -kDelta : kDelta, (q0 & 0x80) ? -kDelta : kDelta, (q1 & 0x08) ? -kDelta : kDelta,
                                    (q1 & 0x80) ? -kDelta : kDelta};
            for (int l = 0; l < 4; ++l) {
                const float dl = l < 2 ? dl1 : dl2;
                const uint64_t grid = tables::iq1s_grid[idx[l]];
                for (int j = 0; j < 8; ++j) y[8 * l + j] = dl * (grid_value(grid, j) + delta[l]);
            }
            y += 32;
        }
    });
}

}  // namespace llmq::quant
