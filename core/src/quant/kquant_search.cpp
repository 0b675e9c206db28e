// Scalar search routines of the k-quants: the reference the SIMD variants must reproduce bit for
// bit. Statement order and operand order follow the reference description exactly (see the header).
#include "quant/kquant_search.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>

#include "quant/scalar.hpp"
#include "util/simd_level.hpp"

namespace llmq::quant {
namespace {

struct SignedMax {
    float max;   // the value of largest magnitude, with its sign (first occurrence)
    float amax;  // its magnitude
};

SignedMax signed_abs_max(std::span<const float> x) {
    SignedMax m{0.0f, 0.0f};
    for (const float v : x) {
        const float ax = std::fabs(v);
        if (ax > m.amax) m = {v, ax};
    }
    return m;
}

float rmse_weight(int rmse_type, float x) {
    switch (rmse_type) {
        case 1:
            return x * x;
        case 2:
            return 1.0f;
        case 3:
            return std::fabs(x);
        default:
            return std::sqrt(std::fabs(x));
    }
}

// Shared body of qkx2/qkx3; `weights` empty means x² (qkx3 only), `degenerate_le` picks the
// early-out test (qkx3: max <= min, qkx2: max == min).
ScaleMin make_qkx_quants(std::span<const float> x, std::span<const float> weights, int nmax, std::span<uint8_t> L, float rmin, float rdelta,
                         int nstep, bool use_mad, bool degenerate_le) {
    const size_t n = x.size();
    const auto weight = [&](size_t i) { return weights.empty() ? x[i] * x[i] : weights[i]; };
    float min = x[0];
    float max = x[0];
    float sum_w = weight(0);
    float sum_x = sum_w * x[0];
    for (size_t i = 1; i < n; ++i) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        const float w = weight(i);
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0) min = 0;
    if (degenerate_le ? max <= min : max == min) {
        std::fill_n(L.begin(), n, uint8_t{0});
        return {0.0f, -min};
    }
    float iscale = static_cast<float>(nmax) / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    for (size_t i = 0; i < n; ++i) {
        const int l = nearest_int(iscale * (x[i] - min));
        L[i] = static_cast<uint8_t>(std::clamp(l, 0, nmax));
        float diff = scale * L[i] + min - x[i];
        diff = use_mad ? std::fabs(diff) : diff * diff;
        best_error += weight(i) * diff;
    }
    if (nstep < 1) return {scale, -min};
    std::array<uint8_t, 256> laux{};
    for (int is = 0; is <= nstep; ++is) {
        iscale = (rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax)) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (size_t i = 0; i < n; ++i) {
            const int l = std::clamp(nearest_int(iscale * (x[i] - min)), 0, nmax);
            laux[i] = static_cast<uint8_t>(l);
            const float w = weight(i);
            const auto fl = static_cast<float>(l);
            sum_l += w * fl;
            sum_l2 += w * fl * fl;
            sum_xl += w * fl * x[i];
        }
        const float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float cur_error = 0;
            for (size_t i = 0; i < n; ++i) {
                float diff = this_scale * laux[i] + this_min - x[i];
                diff = use_mad ? std::fabs(diff) : diff * diff;
                cur_error += weight(i) * diff;
            }
            if (cur_error < best_error) {
                std::copy_n(laux.begin(), n, L.begin());
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    return {scale, -min};
}

}  // namespace

float make_qx_quants(std::span<const float> x, int nmax, std::span<uint8_t> L, int rmse_type, std::span<const float> weights) {
    const size_t n = x.size();
    const auto [max, amax] = signed_abs_max(x);
    if (amax < kGroupMaxEps) {
        std::fill_n(L.begin(), n, uint8_t{0});
        return 0.0f;
    }
    float iscale = static_cast<float>(-nmax) / max;
    const auto code = [&](float is, size_t i) { return std::clamp(nearest_int(is * x[i]), -nmax, nmax - 1); };
    if (rmse_type == 0) {
        for (size_t i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(nmax + code(iscale, i));
        return 1 / iscale;
    }
    const bool return_early = rmse_type < 0;
    if (return_early) rmse_type = -rmse_type;
    const auto weight = [&](size_t i) { return weights.empty() ? rmse_weight(rmse_type, x[i]) : weights[i]; };
    float sumlx = 0;
    float suml2 = 0;
    for (size_t i = 0; i < n; ++i) {
        const int l = code(iscale, i);
        L[i] = static_cast<uint8_t>(l + nmax);
        const float w = weight(i);
        const auto fl = static_cast<float>(l);
        sumlx += w * x[i] * fl;
        suml2 += w * fl * fl;
    }
    float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
    if (return_early) return suml2 > 0 ? 0.5f * (scale + 1 / iscale) : 1 / iscale;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; ++is) {
        if (is == 0) continue;
        iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is)) / max;
        sumlx = suml2 = 0;
        for (size_t i = 0; i < n; ++i) {
            const auto fl = static_cast<float>(code(iscale, i));
            const float w = weight(i);
            sumlx += w * x[i] * fl;
            suml2 += w * fl * fl;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (size_t i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(nmax + code(iscale, i));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

ScaleMin make_qkx2_quants(std::span<const float> x, std::span<const float> weights, int nmax, std::span<uint8_t> L, float rmin, float rdelta,
                          int nstep, bool use_mad) {
    return make_qkx_quants(x, weights, nmax, L, rmin, rdelta, nstep, use_mad, false);
}

ScaleMin make_qkx3_quants(std::span<const float> x, std::span<const float> weights, int nmax, std::span<uint8_t> L, float rmin, float rdelta,
                          int nstep, bool use_mad) {
    return make_qkx_quants(x, weights, nmax, L, rmin, rdelta, nstep, use_mad, true);
}

float make_qp_quants(std::span<const float> x, int nmax, std::span<uint8_t> L, std::span<const float> weights) {
    const size_t n = x.size();
    float max = 0;
    for (size_t i = 0; i < n; ++i) max = max > x[i] ? max : x[i];
    if (max < kGroupMaxEps) {
        std::fill_n(L.begin(), n, uint8_t{0});
        return 0.0f;
    }
    const auto fnmax = static_cast<float>(nmax);
    float iscale = fnmax / max;
    const float scale = 1 / iscale;
    float best_mse = 0;
    for (size_t i = 0; i < n; ++i) {
        // Not clamped here: iscale·x ≤ nmax up to rounding, exactly as in the reference.
        const auto l = static_cast<float>(static_cast<uint8_t>(nearest_int(iscale * x[i])));
        const float diff = x[i] - scale * l;
        best_mse += weights[i] * diff * diff;
    }
    for (int is = -4; is <= 4; ++is) {
        if (is == 0) continue;
        const float iscale_is = (0.1f * static_cast<float>(is) + fnmax) / max;
        const float scale_is = 1 / iscale_is;
        float mse = 0;
        for (size_t i = 0; i < n; ++i) {
            const auto l = static_cast<float>(std::min(nmax, nearest_int(iscale_is * x[i])));
            const float diff = x[i] - scale_is * l;
            mse += weights[i] * diff * diff;
        }
        if (mse < best_mse) {
            best_mse = mse;
            iscale = iscale_is;
        }
    }
    float sumlx = 0;
    float suml2 = 0;
    for (size_t i = 0; i < n; ++i) {
        const int l = std::min(nmax, nearest_int(iscale * x[i]));
        L[i] = static_cast<uint8_t>(l);
        const float w = weights[i];
        const auto fl = static_cast<float>(l);
        sumlx += w * x[i] * fl;
        suml2 += w * fl * fl;
    }
    for (int itry = 0; itry < 5; ++itry) {
        int n_changed = 0;
        for (size_t i = 0; i < n; ++i) {
            const float w = weights[i];
            const auto li = static_cast<float>(L[i]);
            float slx = sumlx - w * x[i] * li;
            float sl2 = suml2 - w * li * li;
            if (slx > 0 && sl2 > 0) {
                const int new_l = std::min(nmax, nearest_int(x[i] * sl2 / slx));
                if (new_l != L[i]) {
                    const auto fl = static_cast<float>(new_l);
                    slx += w * x[i] * fl;
                    sl2 += w * fl * fl;
                    if (slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = static_cast<uint8_t>(new_l);
                        sumlx = slx;
                        suml2 = sl2;
                        ++n_changed;
                    }
                }
            }
        }
        if (!n_changed) break;
    }
    return sumlx / suml2;
}

float make_q3_quants(std::span<const float> x, int nmax, std::span<uint8_t> L, bool do_rmse) {
    const size_t n = x.size();
    const auto [max, amax] = signed_abs_max(x);
    if (amax < kGroupMaxEps) {
        std::fill_n(L.begin(), n, uint8_t{0});
        return 0.0f;
    }
    const float iscale = static_cast<float>(-nmax) / max;
    const auto code = [&](size_t i) { return std::clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1); };
    if (!do_rmse) {
        for (size_t i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(code(i) + nmax);
        return 1 / iscale;
    }
    // Signed codes during the refinement; the +nmax offset is applied at the end.
    std::array<int, 256> l{};
    float sumlx = 0;
    float suml2 = 0;
    for (size_t i = 0; i < n; ++i) {
        l[i] = code(i);
        const float w = x[i] * x[i];
        const auto fl = static_cast<float>(l[i]);
        sumlx += w * x[i] * fl;
        suml2 += w * fl * fl;
    }
    for (int itry = 0; itry < 5; ++itry) {
        int n_changed = 0;
        for (size_t i = 0; i < n; ++i) {
            const float w = x[i] * x[i];
            const auto li = static_cast<float>(l[i]);
            float slx = sumlx - w * x[i] * li;
            if (slx > 0) {
                float sl2 = suml2 - w * li * li;
                const int new_l = std::clamp(nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
                if (new_l != l[i]) {
                    const auto fl = static_cast<float>(new_l);
                    slx += w * x[i] * fl;
                    sl2 += w * fl * fl;
                    if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                        l[i] = new_l;
                        sumlx = slx;
                        suml2 = sl2;
                        ++n_changed;
                    }
                }
            }
        }
        if (!n_changed) break;
    }
    for (size_t i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(l[i] + nmax);
    return sumlx / suml2;
}

// ---- batched variants: the vector code of the CPU's level --------------------------------------

namespace {

std::atomic<bool> g_simd{true};

const BatchSearch& level_search() {
    return LLMQ_AT_LEVEL(portable::batch_search(), avx2::batch_search());
}

}  // namespace

void set_kquant_simd(bool enabled) {
    g_simd.store(enabled, std::memory_order_relaxed);
}
bool kquant_simd_enabled() {
    return g_simd.load(std::memory_order_relaxed);
}

void make_qkx_quants_many(size_t groups, size_t n, std::span<const float> x, std::span<const float> weights, int nmax, std::span<uint8_t> L,
                          std::span<float> scales, std::span<float> mins, float rmin, float rdelta, int nstep, bool use_mad) {
    level_search().qkx(groups, n, x, weights, nmax, L, scales, mins, rmin, rdelta, nstep, use_mad);
}

void make_qx_quants_many(size_t groups, size_t n, std::span<const float> x, std::span<const float> weights, int nmax, std::span<uint8_t> L,
                         std::span<float> scales) {
    level_search().qx(groups, n, x, weights, nmax, L, scales);
}

void make_q3_quants_many(size_t groups, size_t n, std::span<const float> x, int nmax, std::span<uint8_t> L, std::span<float> scales) {
    level_search().q3(groups, n, x, nmax, L, scales);
}

void importance_weights(std::span<const float> x, std::span<const float> qw, float sigma2, std::span<float> w) {
    level_search().importance(x, qw, sigma2, w);
}

}  // namespace llmq::quant
