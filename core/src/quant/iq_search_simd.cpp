// xsimd versions of the I-quant search kernels, bit-identical to the scalar ones in iq_search.cpp:
// every lane performs the scalar code's float operations on its own data in the scalar order, and
// reductions keep the scalar semantics exactly:
// - neighbour search: lanes are neighbours; each lane sums the error terms of its codes over the
//   elements in order (the terms precomputed per level, looked up per lane), and the first (lowest
//   position) minimum is found exactly;
// - trial codes, IQ4 codes: element-wise, one lane per element;
// - trial fits: lanes are trials, each summing over the elements in order;
// - IQ1 split searches: lanes are consecutive i2 of one i1 (IQ1_S) or the 4 shift variants of one
//   candidate (IQ1_M). ggml accepts candidates sequentially against a best that only changes on
//   acceptance, so a batch none of whose candidates beats the best at its start changes nothing
//   and is skipped; a batch with a possible winner is walked in scalar order over the lane values.
// Width-generic xsimd::batch code plus table-lookup helpers (AVX2 permute, SSSE3 byte shuffle —
// which Emscripten lowers to wasm swizzles), so the wasm build (SSE4.2 → SIMD128) gives the same
// bytes as the native one.
#include <array>
#include <bit>
#include <cfloat>

#include "quant/ggml_tables.hpp"
#include "quant/iq_search.hpp"
#include "quant/simd.hpp"
#include "util/isa.hpp"

namespace llmq::quant::iq::LLMQ_ISA {

#if LLMQ_SIMD
namespace {

using simd::F;
using simd::I;
using simd::N;
static_assert(8 % N == 0 && kTrialPad % N == 0, "tables and trial strides must hold whole batches");

inline bool improves(float sumqx, float sumq2, float& best_score, float& scale) {
    if (sumq2 > 0 && sumqx * sumqx > best_score * sumq2) {
        scale = sumqx / sumq2;
        best_score = scale * sumqx;
        return true;
    }
    return false;
}

// Lane positions 0, 1, ..., N−1 as floats (exact).
alignas(64) constexpr std::array<float, 16> kLanes = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
inline F lane_index() {
    return F::load_aligned(kLanes.data());
}

// Eight floats indexed by a code 0..7, held in registers.
struct Table8 {
    std::array<F, 8 / N> part;
};

inline Table8 load_table(const float* t) {
    Table8 r;
    for (int p = 0; p < 8 / N; ++p) r.part[p] = F::load_unaligned(t + p * N);
    return r;
}

// t[codes[l]] per lane, codes in 0..7.
inline F lookup8(const Table8& t, I codes) {
#if XSIMD_WITH_AVX2
    return _mm256_permutevar8x32_ps(t.part[0], codes);
#else
    // Byte shuffle within each 4-float half: control bytes 4·(c & 3) + {0, 1, 2, 3}; bit 2 picks
    // the half.
    const __m128i c = codes;
    const __m128i ctrl = _mm_add_epi32(_mm_mullo_epi32(_mm_and_si128(c, _mm_set1_epi32(3)), _mm_set1_epi32(0x04040404)), _mm_set1_epi32(0x03020100));
    const __m128 lo = _mm_castsi128_ps(_mm_shuffle_epi8(_mm_castps_si128(t.part[0]), ctrl));
    const __m128 hi = _mm_castsi128_ps(_mm_shuffle_epi8(_mm_castps_si128(t.part[1]), ctrl));
    return _mm_blendv_ps(lo, hi, _mm_castsi128_ps(_mm_slli_epi32(c, 29)));
#endif
}

// a where bit `bit` of idx is clear, b where it is set.
inline F blend_on_bit(F a, F b, I idx, int bit) {
#if XSIMD_WITH_AVX2
    return _mm256_blendv_ps(a, b, _mm256_castsi256_ps(_mm256_slli_epi32(idx, 31 - bit)));
#else
    return _mm_blendv_ps(a, b, _mm_castsi128_ps(_mm_slli_epi32(idx, 31 - bit)));
#endif
}

// table[idx[l]] per lane, idx in 0..15, table = 16 floats.
inline F lookup16(const Table8& lo, const Table8& hi, I idx) {
    return blend_on_bit(lookup8(lo, idx), lookup8(hi, idx), idx, 3);
}

// kvalues_iq4nl as floats.
struct Iq4Table {
    alignas(64) std::array<float, 16> v{};
    Iq4Table() {
        for (int k = 0; k < 16; ++k) v[k] = static_cast<float>(tables::kvalues_iq4nl[k]);
    }
};
const Iq4Table& iq4_table() {
    static const Iq4Table t;
    return t;
}

// ggml's best_index_int8 per lane (iq4_index_scalar): below/at the first value 0, at/above the last
// 15, NaN 15 (where the scalar binary search ends); otherwise mu = #{k ≤ 14 : v[k] ≤ x} is the
// upper end of x's interval and the nearer end wins, ties up.
inline I iq4_index(F x, const float* v, const Table8& lo, const Table8& hi) {
    F mu(0.0f);
    for (int k = 0; k < 15; ++k) mu = mu + xsimd::select(x >= F(v[k]), F(1.0f), F(0.0f));
    const I up = xsimd::to_int(mu);
    const I down = up - I(1);
    const F pick_down = xsimd::select((x - lookup16(lo, hi, down)) < (lookup16(lo, hi, up) - x), F(1.0f), F(0.0f));
    F idx = xsimd::to_float(up) - pick_down;
    idx = xsimd::select(x <= F(v[0]), F(0.0f), idx);
    idx = xsimd::select((x >= F(v[15])) | xsimd::isnan(x), F(15.0f), idx);
    return xsimd::to_int(idx);
}

// The candidates' test of a batch: could any lane beat `best`?
inline auto may_improve(F sumqx, F sumq2, float best) {
    return (sumq2 > F(0.0f)) & (sumqx * sumqx > F(best) * sumq2);
}

// ggml's nearest_int per lane (1.5·2^23 trick read as integer bits, exactly like the scalar one).
inline I nearest(F v) {
    const I bits = xsimd::bitwise_cast<I>(v + F(12582912.0f));
    return (bits & I(0x007FFFFF)) - I(0x00400000);
}

}  // namespace

constexpr bool kVector = true;

int nearest_neighbour_simd(const GridMap& g, const NeighbourList& list, const float* x, const float* w, float scale, const float* levels) {
    // Per element, the error term of every level — the very products the scalar loop forms —
    // kept in registers and looked up by each lane's code.
    alignas(64) std::array<float, 8> lev{};
    for (int c = 0; c <= g.max_code; ++c) lev[c] = levels[c];
    std::array<Table8, 8> err;
    for (int p = 0; p < 8 / N; ++p) {
        const F sl = F(scale) * F::load_aligned(lev.data() + p * N);
        for (int i = 0; i < g.dim; ++i) {
            const F diff = sl - F(x[i]);
            err[i].part[p] = F(w[i]) * diff * diff;
        }
    }
    const uint8_t* codes = g.neighbour_codes.data() + list.codes;
    if (list.padded == static_cast<uint32_t>(N)) {
        // One batch (most IQ3 lists): the first lane holding the minimum is the first position.
        F d2(0.0f);
        for (int i = 0; i < g.dim; ++i) d2 = d2 + lookup8(err[i], simd::widen_u8(codes + i * N));
        d2 = xsimd::select(d2 < F(FLT_MAX), d2,
                           F(FLT_MAX));  // NaN/∞ never win, as in the scalar loop
        const float m = simd::hmin(d2);
        if (!(m < FLT_MAX)) return -1;
        return g.neighbours[list.first + static_cast<uint32_t>(std::countr_zero(simd::movemask(d2 == F(m))))];
    }
    const F lanes = lane_index();
    F best(FLT_MAX), best_pos(0.0f);
    for (uint32_t j0 = 0; j0 < list.padded; j0 += N) {
        F d2(0.0f);
        for (int i = 0; i < g.dim; ++i) d2 = d2 + lookup8(err[i], simd::widen_u8(codes + i * list.padded + j0));
        const auto better = d2 < best;  // strict: each lane keeps its first minimum
        best = xsimd::select(better, d2, best);
        best_pos = xsimd::select(better, lanes + F(static_cast<float>(j0)), best_pos);
    }
    // Distances are sums of (w·d)·d ≥ +0 and never NaN here (NaN fails `<`), so the horizontal
    // minimum is order-independent; among the lanes holding it the lowest position wins.
    const float m = simd::hmin(best);
    if (!(m < FLT_MAX)) return -1;
    const float pos = simd::hmin(xsimd::select(best == F(m), best_pos, F(FLT_MAX)));
    return g.neighbours[list.first + static_cast<uint32_t>(pos)];
}

void block_codes_simd(int n, const float* x, float id, int max_code, int8_t* L) {
    alignas(64) std::array<int32_t, N> l{};
    int i = 0;
    for (; i + N <= n; i += N) {
        const F v = F(0.5f) * (F(id) * F::load_unaligned(x + i) - F(1.0f));
        xsimd::min(xsimd::max(nearest(v), I(0)), I(max_code)).store_aligned(l.data());
        for (int k = 0; k < N; ++k) L[i + k] = static_cast<int8_t>(l[k]);
    }
    if (i < n) block_codes_scalar(n - i, x + i, id, max_code, L + i);
}

void trial_sums_simd(int n, int trials, int stride, const int8_t* Lt, const float* wx, const float* w, float* sumqx, float* sumq2) {
    for (int t0 = 0; t0 < trials; t0 += N) {
        F sx(0.0f), s2(0.0f);
        for (int i = 0; i < n; ++i) {
            const I l = simd::widen_i8(reinterpret_cast<const uint8_t*>(Lt + i * stride + t0));
            const F q = xsimd::to_float(l + l + I(1));
            sx = sx + F(wx[i]) * q;
            s2 = s2 + F(w[i]) * q * q;
        }
        alignas(64) std::array<float, N> a{}, b{};
        sx.store_aligned(a.data());
        s2.store_aligned(b.data());
        for (int l = 0; l < N && t0 + l < trials; ++l) {
            sumqx[t0 + l] = a[l];
            sumq2[t0 + l] = b[l];
        }
    }
}

void iq4_codes_simd(int n, const float* x, float id, uint8_t* L) {
    const float* v = iq4_table().v.data();
    const Table8 lo = load_table(v), hi = load_table(v + 8);
    alignas(64) std::array<int32_t, N> l{};
    int j = 0;
    for (; j + N <= n; j += N) {
        iq4_index(F(id) * F::load_unaligned(x + j), v, lo, hi).store_aligned(l.data());
        for (int k = 0; k < N; ++k) L[j + k] = static_cast<uint8_t>(l[k]);
    }
    if (j < n) iq4_codes_scalar(n - j, x + j, id, L + j);
}

void iq4_trial_sums_simd(int n, int trials, const float* ids, const float* x, const float* w, float* sumqx, float* sumq2) {
    const float* v = iq4_table().v.data();
    const Table8 lo = load_table(v), hi = load_table(v + 8);
    for (int t0 = 0; t0 < trials; t0 += N) {
        alignas(64) std::array<float, N> id{}, a{}, b{};
        for (int l = 0; l < N && t0 + l < trials; ++l) id[l] = ids[t0 + l];
        const F idv = F::load_aligned(id.data());
        F sx(0.0f), s2(0.0f);
        for (int j = 0; j < n; ++j) {
            const F q = lookup16(lo, hi, iq4_index(idv * F(x[j]), v, lo, hi));
            const F wq = F(w[j]) * q;
            sx = sx + wq * F(x[j]);
            s2 = s2 + wq * q;
        }
        sx.store_aligned(a.data());
        s2.store_aligned(b.data());
        for (int l = 0; l < N && t0 + l < trials; ++l) {
            sumqx[t0 + l] = a[l];
            sumq2[t0 + l] = b[l];
        }
    }
}

Split iq1s_best_split_simd(int n, const float* sumx, const float* sumw, const float* xp, const float* xm, float initial_scale) {
    // Prefix sums padded so that every batch load is in bounds (padding lanes are never used).
    alignas(64) std::array<float, 64 + 2 * N> sx{}, sw{};
    for (int i = 0; i <= n; ++i) {
        sx[i] = sumx[i];
        sw[i] = sumw[i];
    }
    const F lanes = lane_index();
    Split s;
    s.scale = initial_scale;
    float best = -FLT_MIN;
    alignas(64) std::array<float, N> qxp{}, q2p{}, qxm{}, q2m{};
    for (int i1 = 0; i1 <= n; ++i1) {
        const float a = sumx[i1] - sumx[0];
        const float wa = sumw[i1] - sumw[0];
        const F ap(a * xp[0]), am(a * xm[0]);
        const F wap(wa * xp[0] * xp[0]), wam(wa * xm[0] * xm[0]);
        for (int i2 = i1; i2 <= n; i2 += N) {
            const F x2 = F::load_unaligned(sx.data() + i2);
            const F w2 = F::load_unaligned(sw.data() + i2);
            const F b = x2 - F(sumx[i1]), c = F(sumx[n]) - x2;
            const F wb = w2 - F(sumw[i1]), wc = F(sumw[n]) - w2;
            const F sumqx_p = ap + b * F(xp[1]) + c * F(xp[2]);
            const F sumq2_p = wap + wb * F(xp[1]) * F(xp[1]) + wc * F(xp[2]) * F(xp[2]);
            const F sumqx_m = am + b * F(xm[1]) + c * F(xm[2]);
            const F sumq2_m = wam + wb * F(xm[1]) * F(xm[1]) + wc * F(xm[2]) * F(xm[2]);
            const auto valid = lanes + F(static_cast<float>(i2)) <= F(static_cast<float>(n));
            const auto hit = valid & (may_improve(sumqx_p, sumq2_p, best) | may_improve(sumqx_m, sumq2_m, best));
            if (!xsimd::any(hit)) continue;
            sumqx_p.store_aligned(qxp.data());
            sumq2_p.store_aligned(q2p.data());
            sumqx_m.store_aligned(qxm.data());
            sumq2_m.store_aligned(q2m.data());
            for (int l = 0; l < N && i2 + l <= n; ++l) {
                if (improves(qxp[l], q2p[l], best, s.scale)) s = {i1, i2 + l, 1, s.scale};
                if (improves(qxm[l], q2m[l], best, s.scale)) s = {i1, i2 + l, -1, s.scale};
            }
        }
    }
    return s;
}

Split iq1m_best_split_simd(int n, const int* order, const float* w, const float* x, const float* xp, const float* xm, float initial_scale) {
    // Lanes are the 4 variants k of one candidate (4-wide batches on every architecture). The
    // scalar loop sums positions 0..n−1 in order with level 0 below i1, 1 below i2, 2 from i2 on;
    // its partial sums up to i2 are shared by many candidates, so they are formed once, in the same
    // order, and each candidate continues from them with its level-2 tail.
    using F4 = xsimd::batch<float, xsimd::sse4_1>;
    // term[a][j] = what variant k adds at sorted position j with level a: (w·q)·x and (w·q)·q of
    // the scalar loop, q = xp[a] or xm[a] by k and the element's 8-group (variant k: first group xp
    // if k < 2, second group xp if k is even).
    alignas(16) std::array<std::array<std::array<float, 4>, 16>, 3> tqx{}, tq2{};
    for (int j = 0; j < n; ++j) {
        const int i = order[j];
        const bool first = i < n / 2;
        for (int a = 0; a < 3; ++a) {
            for (int k = 0; k < 4; ++k) {
                const float q = (first ? k < 2 : k % 2 == 0) ? xp[a] : xm[a];
                tqx[a][j][k] = w[i] * q * x[i];
                tq2[a][j][k] = w[i] * q * q;
            }
        }
    }
    const auto term = [](const auto& t, int a, int j) { return F4::load_aligned(t[a][j].data()); };
    Split s;
    s.scale = initial_scale;
    float best = -FLT_MIN;
    F4 p0x(0.0f), p0q(0.0f);  // level-0 sums over positions below i1
    alignas(16) std::array<float, 4> qx{}, q2{};
    for (int i1 = 0; i1 <= n; ++i1) {
        if (i1 > 0) {
            p0x = p0x + term(tqx, 0, i1 - 1);
            p0q = p0q + term(tq2, 0, i1 - 1);
        }
        F4 p1x = p0x, p1q = p0q;  // then level 1 over i1..i2−1
        for (int i2 = i1; i2 <= n; ++i2) {
            if (i2 > i1) {
                p1x = p1x + term(tqx, 1, i2 - 1);
                p1q = p1q + term(tq2, 1, i2 - 1);
            }
            F4 sx = p1x, sq = p1q;
            for (int j = i2; j < n; ++j) {
                sx = sx + term(tqx, 2, j);
                sq = sq + term(tq2, 2, j);
            }
            if (!xsimd::any((sq > F4(0.0f)) & (sx * sx > F4(best) * sq))) continue;
            sx.store_aligned(qx.data());
            sq.store_aligned(q2.data());
            for (int k = 0; k < 4; ++k)
                if (improves(qx[k], q2[k], best, s.scale)) s = {i1, i2, k, s.scale};
        }
    }
    return s;
}

#else  // no SIMD architecture: the scalar kernels stand in

constexpr bool kVector = false;
int nearest_neighbour_simd(const GridMap& g, const NeighbourList& list, const float* x, const float* w, float scale, const float* levels) {
    return nearest_neighbour_scalar(g, list, x, w, scale, levels);
}
void block_codes_simd(int n, const float* x, float id, int max_code, int8_t* L) {
    block_codes_scalar(n, x, id, max_code, L);
}
void iq4_codes_simd(int n, const float* x, float id, uint8_t* L) {
    iq4_codes_scalar(n, x, id, L);
}
void iq4_trial_sums_simd(int n, int trials, const float* ids, const float* x, const float* w, float* sumqx, float* sumq2) {
    iq4_trial_sums_scalar(n, trials, ids, x, w, sumqx, sumq2);
}
void trial_sums_simd(int n, int trials, int stride, const int8_t* Lt, const float* wx, const float* w, float* sumqx, float* sumq2) {
    trial_sums_scalar(n, trials, stride, Lt, wx, w, sumqx, sumq2);
}
Split iq1s_best_split_simd(int n, const float* sumx, const float* sumw, const float* xp, const float* xm, float initial_scale) {
    return iq1s_best_split_scalar(n, sumx, sumw, xp, xm, initial_scale);
}
Split iq1m_best_split_simd(int n, const int* order, const float* w, const float* x, const float* xp, const float* xm, float initial_scale) {
    return iq1m_best_split_scalar(n, order, w, x, xp, xm, initial_scale);
}

#endif

const SimdSearch& simd_search() {
    static constexpr SimdSearch search{kVector,        nearest_neighbour_simd, block_codes_simd,     trial_sums_simd,
                                       iq4_codes_simd, iq4_trial_sums_simd,    iq1s_best_split_simd, iq1m_best_split_simd};
    return search;
}

}  // namespace llmq::quant::iq::LLMQ_ISA
