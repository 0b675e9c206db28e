// The search kernels of the I-quant quantizers (reference/ggml-formats.md §2.6): the neighbour
// search for a code vector that is off the grid, the codes and fits of scale trials (grid types and
// IQ4), and IQ1's exhaustive split searches. Each has a scalar implementation (the reference,
// evaluated exactly as ggml's loops: float32, sequential sums, no contraction) and an xsimd one
// (iq_search_simd.cpp) that returns bit-identical results; set_iquant_simd (iq_simd_switch.hpp)
// picks between them.
#pragma once

#include <cstdint>

#include "quant/iq_grids.hpp"
#include "quant/iq_simd_switch.hpp"

namespace llmq::quant::iq {

// ggml's neighbour search for a group of g.dim values x (weights w) whose rounded codes are off
// the grid: the grid index of the first neighbour in `list` with the smallest
// Σ_i w_i·(scale·levels[code_i] − x_i)², evaluated term by term and summed over i in order as
// ggml does (`w*diff*diff`), and strictly below FLT_MAX; −1 when none qualifies (non-finite input).
// `levels` holds g.max_code + 1 values.
int nearest_neighbour(const GridMap& g, const NeighbourList& list, const float* x, const float* w, float scale, const float* levels);

// The codes of a scale trial: L[i] = clamp(nearest_int(0.5·(id·x_i − 1)), 0, max_code), i < n.
void block_codes(int n, const float* x, float id, int max_code, int8_t* L);

// The fits of many scale trials: for t < trials, sumqx[t] = Σ_i wx_i·q and sumq2[t] = Σ_i (w_i·q)·q
// summed sequentially over i < n, q = 2·L + 1 with L = Lt[i·stride + t] (stride ≥ trials, a
// multiple of kTrialPad, padding entries initialised). wx_i = w_i·x_i, so wx_i·q is ggml's w·x·q.
inline constexpr int kTrialPad = 8;
void trial_sums(int n, int trials, int stride, const int8_t* Lt, const float* wx, const float* w, float* sumqx, float* sumq2);

// ---- IQ4 (non-linear 16-level table) ---------------------------------------------------------
// ggml's best_index_int8 over kvalues_iq4nl: the index of the nearest table value (an exact
// midpoint takes the upper one), for L[j] = index(id·x[j]), j < n.
void iq4_codes(int n, const float* x, float id, uint8_t* L);
// The fits of scale trials: for t < trials, with q = table[index(ids[t]·x_j)],
// sumqx[t] = Σ_j (w_j·q)·x_j and sumq2[t] = Σ_j (w_j·q)·q, summed over j < n in order.
void iq4_trial_sums(int n, int trials, const float* ids, const float* x, const float* w, float* sumqx, float* sumq2);

// ---- IQ1 split searches ------------------------------------------------------------------------
// The values of a block sorted ascending split at i1 ≤ i2 into three groups quantized to levels
// lev[0], lev[1], lev[2]; the best split maximises (Σw·q·x)² / Σw·q² by ggml's sequential
// comparison `sumqx² > best·sumq2` (best = scale·sumqx of the current winner, starting at
// −FLT_MIN), first winner kept on ties.
struct Split {
    int i1 = -1, i2 = -1;
    int variant = 0;  // IQ1_S: +1 (levels shifted by +δ) or −1; IQ1_M: 0..3 (shift sign per 8-group)
    float scale = 0;
};

// IQ1_S (32 values): sumx/sumw are the prefix sums Σ w·x and Σ w over the sorted order (n + 1
// entries each); xp/xm the level sets shifted by +δ and −δ. Candidates in order i1, i2, then +δ
// before −δ.
Split iq1s_best_split(int n, const float* sumx, const float* sumw, const float* xp, const float* xm, float initial_scale);

// IQ1_M (16 values): order[j] is the element at sorted position j; w, x the block's weights and
// values; element i belongs to 8-group i / 8. Variant k uses xp or xm for the first group
// (k < 2 ? xp : xm) and the second (k even ? xp : xm). Each candidate's sums run over the sorted
// positions in order (ggml recomputes them per candidate); candidates in order i1, i2, k.
Split iq1m_best_split(int n, const int* order, const float* w, const float* x, const float* xp, const float* xm, float initial_scale);

// Scalar implementations (the reference of the SIMD ones; the dispatchers above call these when
// SIMD is off or unavailable).
int nearest_neighbour_scalar(const GridMap& g, const NeighbourList& list, const float* x, const float* w, float scale, const float* levels);
void block_codes_scalar(int n, const float* x, float id, int max_code, int8_t* L);
void trial_sums_scalar(int n, int trials, int stride, const int8_t* Lt, const float* wx, const float* w, float* sumqx, float* sumq2);
int iq4_index_scalar(float x);
void iq4_codes_scalar(int n, const float* x, float id, uint8_t* L);
void iq4_trial_sums_scalar(int n, int trials, const float* ids, const float* x, const float* w, float* sumqx, float* sumq2);
Split iq1s_best_split_scalar(int n, const float* sumx, const float* sumw, const float* xp, const float* xm, float initial_scale);
Split iq1m_best_split_scalar(int n, const int* order, const float* w, const float* x, const float* xp, const float* xm, float initial_scale);

// SIMD implementations of the level the CPU runs (util/simd_level); false from simd_available()
// means they are the scalar ones.
bool simd_available();
int nearest_neighbour_simd(const GridMap& g, const NeighbourList& list, const float* x, const float* w, float scale, const float* levels);
void block_codes_simd(int n, const float* x, float id, int max_code, int8_t* L);
void trial_sums_simd(int n, int trials, int stride, const int8_t* Lt, const float* wx, const float* w, float* sumqx, float* sumq2);
void iq4_codes_simd(int n, const float* x, float id, uint8_t* L);
void iq4_trial_sums_simd(int n, int trials, const float* ids, const float* x, const float* w, float* sumqx, float* sumq2);
Split iq1s_best_split_simd(int n, const float* sumx, const float* sumw, const float* xp, const float* xm, float initial_scale);
Split iq1m_best_split_simd(int n, const int* order, const float* w, const float* x, const float* xp, const float* xm, float initial_scale);

// One level's implementations of the *_simd functions above (the scalar ones where the build has
// no vector architecture: vector == false).
struct SimdSearch {
    bool vector;
    decltype(&nearest_neighbour_simd) nearest_neighbour;
    decltype(&block_codes_simd) block_codes;
    decltype(&trial_sums_simd) trial_sums;
    decltype(&iq4_codes_simd) iq4_codes;
    decltype(&iq4_trial_sums_simd) iq4_trial_sums;
    decltype(&iq1s_best_split_simd) iq1s_best_split;
    decltype(&iq1m_best_split_simd) iq1m_best_split;
};
namespace portable {
const SimdSearch& simd_search();
}
namespace avx2 {
const SimdSearch& simd_search();
}

}  // namespace llmq::quant::iq
