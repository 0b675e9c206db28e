// Batched k-quant search routines (the *_many functions of kquant_search.hpp), vectorised ACROSS
// groups with xsimd: lane k of a batch runs the scalar routine of one group, statement for
// statement and in the same element order, so every lane rounds exactly as the scalar code does.
// Branches of the scalar code become per-lane selects; "keep the best so far" updates record the
// winning step's parameters and the codes are recomputed once at the end with exactly the same
// operations that produced them. Width-generic (xsimd::batch<float>), so the wasm build (SSE4.2
// lowered to SIMD128) gives the same bytes. Groups left over after the last full batch, and groups
// of other lengths than 16 or 32, use the scalar routines.
#include <array>
#include <cmath>
#include <xsimd/xsimd.hpp>

#include "quant/kquant_search.hpp"
#include "util/isa.hpp"

namespace llmq::quant::LLMQ_ISA {
namespace {

using bf = xsimd::batch<float>;
using bi = xsimd::batch<int32_t>;
using bb = xsimd::batch_bool<float>;
constexpr size_t W = bf::size;
static_assert(bi::size == W, "float and int32 batches must have the same lane count");

// nearest_int (1.5·2^23 trick, read as integer bits exactly like the scalar version, so even
// out-of-range or non-finite inputs give the same code), then clamp to [lo, hi]; returned as float.
inline bf code(bf v, int lo, int hi) {
    const bi bits = xsimd::bitwise_cast<bi>(v + bf(12582912.0f));
    const bi i = (bits & bi(0x007FFFFF)) - bi(0x00400000);
    return xsimd::to_float(xsimd::min(xsimd::max(i, bi(lo)), bi(hi)));
}

// The same result in fewer operations, valid when |v| < 2^22 (then the trick is an exact
// round-half-even, and clamping to integer bounds commutes with rounding).
inline bf code_fast(bf v, int lo, int hi) {
    const bf m(12582912.0f);
    return (xsimd::min(xsimd::max(v, bf(static_cast<float>(lo))), bf(static_cast<float>(hi))) + m) - m;
}

// Codes are computed as v = fl(iscale·t(x)) with t monotone in x (rounding is monotone), so over a
// group |v| is largest at the group's smallest or largest x: checking those two values covers every
// element (lanes whose result is discarded are exempt). NaN fails the comparison, so non-finite
// steps take the exact path.
inline bb in_fast_range(bf v_lo, bf v_hi) {
    const bf limit(4194304.0f);
    return (xsimd::abs(v_lo) < limit) & (xsimd::abs(v_hi) < limit);
}

// Group-major (groups × n) to element-major (n × G) so that batch (i, u) holds element i of
// groups u·W .. u·W+W−1.
template <size_t G, size_t n>
void transpose_in(const float* src, float* dst) {
    for (size_t g = 0; g < G; ++g)
        for (size_t i = 0; i < n; ++i) dst[i * G + g] = src[g * n + i];
}

template <size_t G, size_t n>
void transpose_out(const float* src, uint8_t* dst) {
    for (size_t g = 0; g < G; ++g)
        for (size_t i = 0; i < n; ++i) dst[g * n + i] = static_cast<uint8_t>(static_cast<int>(src[i * G + g]));
}

// ---- make_qkx2_quants / make_qkx3_quants (with weights) over U·W groups ----------------------
template <size_t U, size_t n>
void qkx_kernel(const float* x, const float* w, int nmax, uint8_t* L, float* scales, float* mins, float rmin, float rdelta, int nstep, bool use_mad) {
    constexpr size_t G = U * W;
    alignas(64) std::array<float, n * G> xt, wt, la;
    transpose_in<G, n>(x, xt.data());
    transpose_in<G, n>(w, wt.data());
    const auto X = [&](size_t i, size_t u) { return bf::load_aligned(xt.data() + i * G + u * W); };
    const auto Wt = [&](size_t i, size_t u) { return bf::load_aligned(wt.data() + i * G + u * W); };
    const bf zero(0.0f), one(1.0f), fnmax(static_cast<float>(nmax));

    std::array<bf, U> min, max, sum_w, sum_x;
    for (size_t u = 0; u < U; ++u) {
        min[u] = max[u] = X(0, u);
        sum_w[u] = Wt(0, u);
        sum_x[u] = sum_w[u] * X(0, u);
    }
    for (size_t i = 1; i < n; ++i) {
        for (size_t u = 0; u < U; ++u) {
            const bf xv = X(i, u), wv = Wt(i, u);
            min[u] = xsimd::select(xv < min[u], xv, min[u]);
            max[u] = xsimd::select(xv > max[u], xv, max[u]);
            sum_w[u] += wv;
            sum_x[u] += wv * xv;
        }
    }
    std::array<bf, U> min0, scale, best, code_iscale, code_min, xlo;
    std::array<bb, U> degenerate;
    for (size_t u = 0; u < U; ++u) {
        xlo[u] = min[u];
        min[u] = xsimd::select(min[u] > zero, zero, min[u]);
        min0[u] = min[u];
        degenerate[u] = max[u] == min[u];
        code_iscale[u] = fnmax / (max[u] - min[u]);
        code_min[u] = min[u];
        scale[u] = one / code_iscale[u];
        best[u] = zero;
    }
    for (size_t i = 0; i < n; ++i) {
        for (size_t u = 0; u < U; ++u) {
            const bf xv = X(i, u);
            const bf l = code(code_iscale[u] * (xv - min[u]), 0, nmax);
            bf diff = scale[u] * l + min[u] - xv;
            diff = use_mad ? xsimd::abs(diff) : diff * diff;
            best[u] += Wt(i, u) * diff;
        }
    }
    for (int is = 0; nstep >= 1 && is <= nstep; ++is) {
        const float num = rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax);
        std::array<bf, U> iscale, sum_l, sum_l2, sum_xl;
        for (size_t u = 0; u < U; ++u) {
            iscale[u] = bf(num) / (max[u] - min[u]);
            sum_l[u] = sum_l2[u] = sum_xl[u] = zero;
        }
        bool fast = true;
        for (size_t u = 0; u < U; ++u) {
            const bb ok = in_fast_range(iscale[u] * (xlo[u] - min[u]), iscale[u] * (max[u] - min[u]));
            fast = fast && xsimd::all(ok | degenerate[u]);
        }
        const auto pass = [&](auto&& round_clamp) {
            for (size_t i = 0; i < n; ++i) {
                for (size_t u = 0; u < U; ++u) {
                    const bf xv = X(i, u);
                    const bf l = round_clamp(iscale[u] * (xv - min[u]), 0, nmax);
                    l.store_aligned(la.data() + i * G + u * W);
                    const bf wl = Wt(i, u) * l;
                    sum_l[u] += wl;
                    sum_l2[u] += wl * l;
                    sum_xl[u] += wl * xv;
                }
            }
        };
        if (fast) {
            pass(code_fast);
        } else {
            pass(code);
        }
        std::array<bf, U> D, this_scale, this_min;
        bool any_valid = false;
        for (size_t u = 0; u < U; ++u) {
            D[u] = sum_w[u] * sum_l2[u] - sum_l[u] * sum_l[u];
            this_scale[u] = (sum_w[u] * sum_xl[u] - sum_x[u] * sum_l[u]) / D[u];
            this_min[u] = (sum_l2[u] * sum_x[u] - sum_l[u] * sum_xl[u]) / D[u];
            const bb positive = this_min[u] > zero;
            this_min[u] = xsimd::select(positive, zero, this_min[u]);
            this_scale[u] = xsimd::select(positive, sum_xl[u] / sum_l2[u], this_scale[u]);
            any_valid = any_valid || xsimd::any(D[u] > zero);
        }
        if (!any_valid) continue;
        std::array<bf, U> error;
        for (size_t u = 0; u < U; ++u) error[u] = zero;
        for (size_t i = 0; i < n; ++i) {
            for (size_t u = 0; u < U; ++u) {
                const bf l = bf::load_aligned(la.data() + i * G + u * W);
                bf diff = this_scale[u] * l + this_min[u] - X(i, u);
                diff = use_mad ? xsimd::abs(diff) : diff * diff;
                error[u] += Wt(i, u) * diff;
            }
        }
        for (size_t u = 0; u < U; ++u) {
            const bb better = (D[u] > zero) & (error[u] < best[u]);
            best[u] = xsimd::select(better, error[u], best[u]);
            scale[u] = xsimd::select(better, this_scale[u], scale[u]);
            code_iscale[u] = xsimd::select(better, iscale[u], code_iscale[u]);
            code_min[u] = xsimd::select(better, min[u], code_min[u]);
            min[u] = xsimd::select(better, this_min[u], min[u]);
        }
    }
    // Recompute the kept codes exactly as the winning step computed them.
    for (size_t i = 0; i < n; ++i) {
        for (size_t u = 0; u < U; ++u) {
            const bf l = code(code_iscale[u] * (X(i, u) - code_min[u]), 0, nmax);
            xsimd::select(degenerate[u], zero, l).store_aligned(la.data() + i * G + u * W);
        }
    }
    transpose_out<G, n>(la.data(), L);
    for (size_t u = 0; u < U; ++u) {
        xsimd::select(degenerate[u], zero, scale[u]).store_unaligned(scales + u * W);
        (-xsimd::select(degenerate[u], min0[u], min[u])).store_unaligned(mins + u * W);
    }
}

// ---- make_qx_quants (rmse_type 1) over U·W groups ---------------------------------------------
template <size_t U, size_t n>
void qx_kernel(const float* x, const float* w, int nmax, uint8_t* L, float* scales) {
    constexpr size_t G = U * W;
    alignas(64) std::array<float, n * G> xt, wt, wxt;
    transpose_in<G, n>(x, xt.data());
    if (w) transpose_in<G, n>(w, wt.data());
    for (size_t j = 0; j < n * G; ++j) {
        if (!w) wt[j] = xt[j] * xt[j];
        wxt[j] = wt[j] * xt[j];  // w·x·l associates as (w·x)·l
    }
    const auto X = [&](size_t i, size_t u) { return bf::load_aligned(xt.data() + i * G + u * W); };
    const auto Wt = [&](size_t i, size_t u) { return bf::load_aligned(wt.data() + i * G + u * W); };
    const auto WX = [&](size_t i, size_t u) { return bf::load_aligned(wxt.data() + i * G + u * W); };
    const bf zero(0.0f);

    std::array<bf, U> amax, max, xlo, xhi;
    for (size_t u = 0; u < U; ++u) {
        amax[u] = max[u] = zero;
        xlo[u] = xhi[u] = X(0, u);
    }
    for (size_t i = 0; i < n; ++i) {
        for (size_t u = 0; u < U; ++u) {
            const bf xv = X(i, u), ax = xsimd::abs(xv);
            const bb bigger = ax > amax[u];
            amax[u] = xsimd::select(bigger, ax, amax[u]);
            max[u] = xsimd::select(bigger, xv, max[u]);
            xlo[u] = xsimd::select(xv < xlo[u], xv, xlo[u]);
            xhi[u] = xsimd::select(xv > xhi[u], xv, xhi[u]);
        }
    }
    std::array<bb, U> zero_group;
    for (size_t u = 0; u < U; ++u) zero_group[u] = amax[u] < bf(kGroupMaxEps);
    const auto sums = [&](const std::array<bf, U>& iscale, std::array<bf, U>& sumlx, std::array<bf, U>& suml2) {
        for (size_t u = 0; u < U; ++u) sumlx[u] = suml2[u] = zero;
        const auto pass = [&](auto&& round_clamp) {
            for (size_t i = 0; i < n; ++i) {
                for (size_t u = 0; u < U; ++u) {
                    const bf l = round_clamp(iscale[u] * X(i, u), -nmax, nmax - 1);
                    sumlx[u] += WX(i, u) * l;
                    suml2[u] += Wt(i, u) * l * l;
                }
            }
        };
        bool fast = true;
        for (size_t u = 0; u < U; ++u) {
            fast = fast && xsimd::all(in_fast_range(iscale[u] * xlo[u], iscale[u] * xhi[u]) | zero_group[u]);
        }
        if (fast) {
            pass(code_fast);
        } else {
            pass(code);
        }
    };
    std::array<bf, U> iscale, best_iscale, sumlx, suml2, scale, best;
    for (size_t u = 0; u < U; ++u) best_iscale[u] = iscale[u] = bf(static_cast<float>(-nmax)) / max[u];
    sums(iscale, sumlx, suml2);
    for (size_t u = 0; u < U; ++u) {
        scale[u] = xsimd::select(suml2[u] != zero, sumlx[u] / suml2[u], zero);
        best[u] = scale[u] * sumlx[u];
    }
    for (int is = -9; is <= 9; ++is) {
        if (is == 0) continue;
        const float num = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is));
        for (size_t u = 0; u < U; ++u) iscale[u] = bf(num) / max[u];
        sums(iscale, sumlx, suml2);
        for (size_t u = 0; u < U; ++u) {
            const bb better = (suml2[u] > zero) & (sumlx[u] * sumlx[u] > best[u] * suml2[u]);
            const bf s = sumlx[u] / suml2[u];
            scale[u] = xsimd::select(better, s, scale[u]);
            best[u] = xsimd::select(better, s * sumlx[u], best[u]);
            best_iscale[u] = xsimd::select(better, iscale[u], best_iscale[u]);
        }
    }
    const bf offset(static_cast<float>(nmax));
    for (size_t i = 0; i < n; ++i) {
        for (size_t u = 0; u < U; ++u) {
            const bf l = code(best_iscale[u] * X(i, u), -nmax, nmax - 1) + offset;
            xsimd::select(zero_group[u], zero, l).store_aligned(wt.data() + i * G + u * W);
        }
    }
    transpose_out<G, n>(wt.data(), L);
    for (size_t u = 0; u < U; ++u) xsimd::select(zero_group[u], zero, scale[u]).store_unaligned(scales + u * W);
}

// ---- make_q3_quants (do_rmse) over U·W groups -------------------------------------------------
template <size_t U, size_t n>
void q3_kernel(const float* x, int nmax, uint8_t* L, float* scales) {
    constexpr size_t G = U * W;
    alignas(64) std::array<float, n * G> xt, wt, wxt, lt;
    transpose_in<G, n>(x, xt.data());
    for (size_t j = 0; j < n * G; ++j) {
        wt[j] = xt[j] * xt[j];
        wxt[j] = wt[j] * xt[j];
    }
    const auto X = [&](size_t i, size_t u) { return bf::load_aligned(xt.data() + i * G + u * W); };
    const auto Wt = [&](size_t i, size_t u) { return bf::load_aligned(wt.data() + i * G + u * W); };
    const auto WX = [&](size_t i, size_t u) { return bf::load_aligned(wxt.data() + i * G + u * W); };
    float* const lp = lt.data();
    const bf zero(0.0f);

    std::array<bf, U> amax, max, iscale, sumlx, suml2;
    for (size_t u = 0; u < U; ++u) amax[u] = max[u] = sumlx[u] = suml2[u] = zero;
    for (size_t i = 0; i < n; ++i) {
        for (size_t u = 0; u < U; ++u) {
            const bf xv = X(i, u), ax = xsimd::abs(xv);
            const bb bigger = ax > amax[u];
            amax[u] = xsimd::select(bigger, ax, amax[u]);
            max[u] = xsimd::select(bigger, xv, max[u]);
        }
    }
    for (size_t u = 0; u < U; ++u) iscale[u] = bf(static_cast<float>(-nmax)) / max[u];
    for (size_t i = 0; i < n; ++i) {
        for (size_t u = 0; u < U; ++u) {
            const bf l = code(iscale[u] * X(i, u), -nmax, nmax - 1);
            l.store_aligned(lp + i * G + u * W);
            sumlx[u] += WX(i, u) * l;
            suml2[u] += Wt(i, u) * l * l;
        }
    }
    // Leave-one-out refinement. A lane whose pass changed nothing would stop in the scalar code;
    // running it again is harmless because an unchanged state makes an identical, changeless pass.
    for (int itry = 0; itry < 5; ++itry) {
        bool changed = false;
        for (size_t i = 0; i < n; ++i) {
            for (size_t u = 0; u < U; ++u) {
                const bf xv = X(i, u), wv = Wt(i, u), wx = WX(i, u);
                const bf li = bf::load_aligned(lp + i * G + u * W);
                bf slx = sumlx[u] - wx * li;
                bf sl2 = suml2[u] - wv * li * li;
                const bf new_l = code(xv * sl2 / slx, -nmax, nmax - 1);
                slx += wx * new_l;
                sl2 += wv * new_l * new_l;
                const bb accept = (sumlx[u] - wx * li > zero) & (new_l != li) & (sl2 > zero) & (slx * slx * suml2[u] > sumlx[u] * sumlx[u] * sl2);
                if (xsimd::any(accept)) {
                    changed = true;
                    xsimd::select(accept, new_l, li).store_aligned(lp + i * G + u * W);
                    sumlx[u] = xsimd::select(accept, slx, sumlx[u]);
                    suml2[u] = xsimd::select(accept, sl2, suml2[u]);
                }
            }
        }
        if (!changed) break;
    }
    const bf offset(static_cast<float>(nmax));
    for (size_t i = 0; i < n; ++i) {
        for (size_t u = 0; u < U; ++u) {
            const bf l = bf::load_aligned(lp + i * G + u * W) + offset;
            xsimd::select(amax[u] < bf(kGroupMaxEps), zero, l).store_aligned(lp + i * G + u * W);
        }
    }
    transpose_out<G, n>(lp, L);
    for (size_t u = 0; u < U; ++u) {
        xsimd::select(amax[u] < bf(kGroupMaxEps), zero, sumlx[u] / suml2[u]).store_unaligned(scales + u * W);
    }
}

// Runs kernel<2, n> (two batches interleaved, for instruction-level parallelism), then
// kernel<1, n>, over as many whole batches of groups as there are, for the group lengths the
// k-quants use (16, 32); returns the first group left to the scalar code.
template <typename Kernel>
size_t run_batches(size_t groups, size_t n, Kernel&& kernel) {
    size_t g = 0;
    if (!kquant_simd_enabled()) return g;
    const auto run = [&]<size_t N>() {
        for (; g + 2 * W <= groups; g += 2 * W) kernel.template operator()<2, N>(g);
        for (; g + W <= groups; g += W) kernel.template operator()<1, N>(g);
    };
    if (n == 16) run.template operator()<16>();
    if (n == 32) run.template operator()<32>();
    return g;
}

}  // namespace

void importance_weights(std::span<const float> x, std::span<const float> qw, float sigma2, std::span<float> w) {
    size_t i = 0;
    if (kquant_simd_enabled()) {
        const bf s2(sigma2);
        for (; i + W <= x.size(); i += W) {
            const bf xv = bf::load_unaligned(x.data() + i);
            (bf::load_unaligned(qw.data() + i) * xsimd::sqrt(s2 + xv * xv)).store_unaligned(w.data() + i);
        }
    }
    for (; i < x.size(); ++i) w[i] = qw[i] * std::sqrt(sigma2 + x[i] * x[i]);
}

void make_qkx_quants_many(size_t groups, size_t n, std::span<const float> x, std::span<const float> weights, int nmax, std::span<uint8_t> L,
                          std::span<float> scales, std::span<float> mins, float rmin, float rdelta, int nstep, bool use_mad) {
    const auto kernel = [&]<size_t U, size_t N>(size_t g) {
        qkx_kernel<U, N>(x.data() + g * n, weights.data() + g * n, nmax, L.data() + g * n, scales.data() + g, mins.data() + g, rmin, rdelta, nstep,
                         use_mad);
    };
    size_t g = run_batches(groups, n, kernel);
    for (; g < groups; ++g) {
        const auto r = make_qkx2_quants(x.subspan(g * n, n), weights.subspan(g * n, n), nmax, L.subspan(g * n, n), rmin, rdelta, nstep, use_mad);
        scales[g] = r.scale;
        mins[g] = r.min;
    }
}

void make_qx_quants_many(size_t groups, size_t n, std::span<const float> x, std::span<const float> weights, int nmax, std::span<uint8_t> L,
                         std::span<float> scales) {
    const auto kernel = [&]<size_t U, size_t N>(size_t g) {
        qx_kernel<U, N>(x.data() + g * n, weights.empty() ? nullptr : weights.data() + g * n, nmax, L.data() + g * n, scales.data() + g);
    };
    size_t g = run_batches(groups, n, kernel);
    for (; g < groups; ++g) {
        scales[g] = make_qx_quants(x.subspan(g * n, n), nmax, L.subspan(g * n, n), 1, weights.empty() ? weights : weights.subspan(g * n, n));
    }
}

void make_q3_quants_many(size_t groups, size_t n, std::span<const float> x, int nmax, std::span<uint8_t> L, std::span<float> scales) {
    const auto kernel = [&]<size_t U, size_t N>(size_t g) { q3_kernel<U, N>(x.data() + g * n, nmax, L.data() + g * n, scales.data() + g); };
    size_t g = run_batches(groups, n, kernel);
    for (; g < groups; ++g) scales[g] = make_q3_quants(x.subspan(g * n, n), nmax, L.subspan(g * n, n), true);
}

const BatchSearch& batch_search() {
    static constexpr BatchSearch search{make_qkx_quants_many, make_qx_quants_many, make_q3_quants_many, importance_weights};
    return search;
}

}  // namespace llmq::quant::LLMQ_ISA
