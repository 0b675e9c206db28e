// The scale/code search routines of ggml's k-quant (and legacy imatrix) quantizers
// (reference/ggml-formats.md §2.6 "Helper search routines").
//
// Bit-exactness rules every routine follows (and every caller must too): float32 arithmetic only,
// float32 literals, sums accumulated sequentially in element order, products evaluated left to
// right (w*x*l is (w*x)*l), rounding with nearest_int (half to even), no FMA contraction.
//
// Each routine works on one group (sub-block) of x.size() ≤ 256 values; codes are written to L,
// whose size must be at least x.size(). The *_many variants run the same search over many
// consecutive groups at once (vectorised across groups with xsimd); their results are bit-identical
// to calling the single-group routine for every group in order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace llmq::quant {

// Groups whose largest magnitude is below this are treated as all zero (ggml's GROUP_MAX_EPS).
inline constexpr float kGroupMaxEps = 1e-15f;

// Symmetric search: scale d with x ≈ d·(L − nmax), L ∈ [0, 2·nmax − 1].
// weights: per-element weights, or empty to derive them from rmse_type
//   (0: plain rounding with iscale = −nmax/max, no refit; 1: x²; 2: 1; 3: |x|; 4: sqrt|x|).
// A negative rmse_type returns early after the first fit with 0.5·(fit + 1/iscale).
// Otherwise tries iscale = −(nmax + 0.1·is)/max for is = −9..9 and keeps the best weighted fit.
// An all-zero group (max |x| < kGroupMaxEps) yields L = 0 (no offset) and returns 0.
float make_qx_quants(std::span<const float> x, int nmax, std::span<uint8_t> L, int rmse_type, std::span<const float> weights);

// Asymmetric search: x ≈ scale·L − min with L ∈ [0, nmax], min ≥ 0 (the fitted offset, negated).
// Starts from [min(x) clipped to ≤ 0, max(x)], then for is = 0..nstep tries
// iscale = (rmin + rdelta·is + nmax)/(max − best_min) (the offset walks with every improvement),
// refits (scale, offset) by weighted least squares and keeps strictly lower weighted error
// (absolute error if use_mad, else squared).
struct ScaleMin {
    float scale;
    float min;
};
// ggml's make_qkx2_quants: weights are required.
ScaleMin make_qkx2_quants(std::span<const float> x, std::span<const float> weights, int nmax, std::span<uint8_t> L, float rmin, float rdelta,
                          int nstep, bool use_mad);
// ggml's make_qkx3_quants: as qkx2, but empty weights mean x², and max ≤ min is the degenerate
// case.
ScaleMin make_qkx3_quants(std::span<const float> x, std::span<const float> weights, int nmax, std::span<uint8_t> L, float rmin, float rdelta,
                          int nstep, bool use_mad);

// Quantizes non-negative values (sub-block scales or mins) to L ∈ [0, nmax] with weights:
// best of iscale = (nmax + 0.1·is)/max for is = −4..4 by weighted squared error, then up to 5
// passes of leave-one-out refinement. Returns the least-squares scale Σw·x·L / Σw·L².
float make_qp_quants(std::span<const float> x, int nmax, std::span<uint8_t> L, std::span<const float> weights);

// Q3_K's reference search: iscale = −nmax/max, then (if do_rmse) up to 5 passes of leave-one-out
// refinement with weights x². Codes are stored with +nmax offset; all-zero groups give L = 0.
float make_q3_quants(std::span<const float> x, int nmax, std::span<uint8_t> L, bool do_rmse);

// ---- batched variants: groups of n consecutive values -----------------------------------------
// x (and weights, when given) hold groups·n values; L receives groups·n codes; one result per
// group.

// make_qkx2_quants (or qkx3, identical when weights are given) for every group; weights required.
void make_qkx_quants_many(size_t groups, size_t n, std::span<const float> x, std::span<const float> weights, int nmax, std::span<uint8_t> L,
                          std::span<float> scales, std::span<float> mins, float rmin, float rdelta, int nstep, bool use_mad);

// make_qx_quants with rmse_type 1 (weights empty → x²) for every group.
void make_qx_quants_many(size_t groups, size_t n, std::span<const float> x, std::span<const float> weights, int nmax, std::span<uint8_t> L,
                         std::span<float> scales);

// make_q3_quants(do_rmse = true) for every group.
void make_q3_quants_many(size_t groups, size_t n, std::span<const float> x, int nmax, std::span<uint8_t> L, std::span<float> scales);

// Elementwise importance weights w[i] = qw[i]·sqrt(sigma2 + x[i]²), the form every imatrix
// variant uses. Vectorised over elements (each result is the scalar expression, exactly).
void importance_weights(std::span<const float> x, std::span<const float> qw, float sigma2, std::span<float> w);

// One level's vector implementations of the *_many routines and importance_weights (the
// functions above dispatch to the level the CPU runs, util/simd_level).
struct BatchSearch {
    decltype(&make_qkx_quants_many) qkx;
    decltype(&make_qx_quants_many) qx;
    decltype(&make_q3_quants_many) q3;
    decltype(&importance_weights) importance;
};
namespace portable {
const BatchSearch& batch_search();
}
namespace avx2 {
const BatchSearch& batch_search();
}

// Selects the implementation of the *_many routines: true (default) = SIMD across groups,
// false = the scalar routines above in a loop. Both give identical bytes; the switch exists for
// tests and benchmarks. Process-wide.
void set_kquant_simd(bool enabled);
bool kquant_simd_enabled();

}  // namespace llmq::quant
