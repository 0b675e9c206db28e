// The steps the grid-based I-quant quantizers (IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S) share
// (reference/ggml-formats.md §2.6): magnitudes and signs, the scale trials in which every group
// of codes is snapped to the grid (off-grid code vectors go to their best neighbour), and the
// final pass with the chosen scale. Evaluated exactly as ggml's loops (float32, sequential sums).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "quant/iq_grids.hpp"

namespace llmq::quant::iq {

inline constexpr int QK = 256;

// Σx² of a super-block, sequential.
float sum_squares(const float* x, int n);

// The largest of n values, ggml's MAX(max, v) fold (first value kept on ties).
inline float max_value(const float* v, int n) {
    float m = v[0];
    for (int i = 1; i < n; ++i) m = m > v[i] ? m : v[i];
    return m;
}

// xval = |x| for 8 values and their sign bits; with even_parity (IQ2_XXS, IQ2_XS, IQ3_XXS) an odd
// number of negatives is made even by flipping the sign of the value with the smallest w·x² (its
// xval turns negative), and the 7 stored bits are returned.
uint8_t split_signs(const float* x, const float* w, float* xval, bool even_parity);

// A block of n values (16 or 32) in groups of the grid's dimension.
struct BlockCodes {
    float scale = 0;
    std::array<int8_t, 32> L{};
    std::array<bool, 8> on_grid{};
};

// Codes of one group at inverse scale id, snapped to the grid: returns true when the rounded codes
// are a grid point, else replaces them by the neighbour with the smallest error at `scale`
// (distances weighted by w).
bool snap_group(const GridMap& g, const float* xval, const float* w, float id, float scale, int8_t* L);

// The scale trials (at most 32): for each inverse scale in `ids` (in order) all groups are snapped
// with this_scale = 1/id and the trial is kept when (Σw·x·q)² > best·Σw·q² (q = 2L+1, w = weight).
// `neighbour_w` weights the neighbour distances (ggml passes sqrt(weight)).
void scale_trials(const GridMap& g, int n, const float* xval, const float* weight, const float* neighbour_w, std::span<const float> ids,
                  bool initially_on_grid, BlockCodes& b);

// The final pass: when some group of the winning trial was off the grid and scale > 0, snap the
// groups again with id = 1/scale and refit scale = Σw·x·q / Σw·q². IQ2_XS, IQ2_S and IQ3_XXS
// re-snap only the off-grid groups; IQ2_XXS and IQ3_S all of them (all_groups) — the goldens tell
// the two apart.
void final_pass(const GridMap& g, int n, const float* xval, const float* weight, const float* neighbour_w, bool all_groups, BlockCodes& b);

// Grid index of group k of the block's codes (which are on the grid by construction).
int grid_index(const GridMap& g, const BlockCodes& b, int k);

// Super-block scale bookkeeping: sub-scale l = clamp(nearest_int(0.5·(id·scale − 1)), 0, max).
int sub_scale(float id, float scale, int max);

// Calls fn(x, qw, y) for every block of `block` values of every row: x the block's values, qw its
// imatrix slice (nullptr without an imatrix; the same columns for every row), y its output bytes.
template <typename Fn>
void for_each_block(std::span<const float> src, std::span<uint8_t> dst, int64_t n_per_row, std::span<const float> imatrix, int block,
                    size_t block_bytes, Fn&& fn) {
    const auto per_row = static_cast<size_t>(n_per_row / block);
    const size_t blocks = src.size() / static_cast<size_t>(block);
    for (size_t b = 0; b < blocks; ++b) {
        const float* qw = imatrix.empty() ? nullptr : imatrix.data() + (b % per_row) * static_cast<size_t>(block);
        fn(src.data() + b * static_cast<size_t>(block), qw, dst.data() + b * block_bytes);
    }
}

// Calls decode(block bytes, 256 output values) for every super-block of src.
template <typename Fn>
void for_each_decode(std::span<const uint8_t> src, std::span<float> dst, size_t block_bytes, Fn&& decode) {
    for (size_t b = 0; b < dst.size() / QK; ++b) decode(src.data() + b * block_bytes, dst.data() + b * QK);
}

// Throws Failure(Imatrix) for the types ggml cannot quantize without an importance matrix.
void require_imatrix(std::span<const float> imatrix, const char* type);

}  // namespace llmq::quant::iq
