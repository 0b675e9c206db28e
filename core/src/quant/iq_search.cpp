// Scalar I-quant search kernels (the reference; see iq_search.hpp) and the scalar/SIMD dispatch.
#include "quant/iq_search.hpp"

#include <atomic>
#include <cfloat>

#include "quant/ggml_tables.hpp"
#include "quant/scalar.hpp"
#include "util/simd_level.hpp"

namespace llmq::quant {
namespace {
std::atomic<bool> g_simd{true};
}  // namespace

void set_iquant_simd(bool enabled) {
    g_simd.store(enabled, std::memory_order_relaxed);
}
bool iquant_simd_enabled() {
    return g_simd.load(std::memory_order_relaxed);
}

}  // namespace llmq::quant

namespace llmq::quant::iq {
namespace {

const SimdSearch& level_search() {
    return LLMQ_AT_LEVEL(portable::simd_search(), avx2::simd_search());
}

bool use_simd() {
    return simd_available() && iquant_simd_enabled();
}

// ggml's acceptance test of a candidate (sumqx, sumq2) against the best so far; on success the
// candidate's scale and score replace the best.
inline bool improves(float sumqx, float sumq2, float& best_score, float& scale) {
    if (sumq2 > 0 && sumqx * sumqx > best_score * sumq2) {
        scale = sumqx / sumq2;
        best_score = scale * sumqx;
        return true;
    }
    return false;
}

}  // namespace

int nearest_neighbour_scalar(const GridMap& g, const NeighbourList& list, const float* x, const float* w, float scale, const float* levels) {
    float best = FLT_MAX;
    int index = -1;
    for (uint32_t j = 0; j < list.count; ++j) {
        const int gi = g.neighbours[list.first + j];
        const uint8_t* codes = g.point(gi);
        float d2 = 0;
        for (int i = 0; i < g.dim; ++i) {
            const float diff = scale * levels[codes[i]] - x[i];
            d2 += w[i] * diff * diff;
        }
        if (d2 < best) {
            best = d2;
            index = gi;
        }
    }
    return index;
}

void block_codes_scalar(int n, const float* x, float id, int max_code, int8_t* L) {
    for (int i = 0; i < n; ++i) {
        const int l = nearest_int(0.5f * (id * x[i] - 1));
        L[i] = static_cast<int8_t>(l < 0 ? 0 : l > max_code ? max_code : l);
    }
}

void trial_sums_scalar(int n, int trials, int stride, const int8_t* Lt, const float* wx, const float* w, float* sumqx, float* sumq2) {
    for (int t = 0; t < trials; ++t) {
        float sx = 0, s2 = 0;
        for (int i = 0; i < n; ++i) {
            const auto q = static_cast<float>(2 * Lt[i * stride + t] + 1);
            sx += wx[i] * q;
            s2 += w[i] * q * q;
        }
        sumqx[t] = sx;
        sumq2[t] = s2;
    }
}

int iq4_index_scalar(float x) {
    const auto& v = tables::kvalues_iq4nl;
    if (x <= v[0]) return 0;
    if (x >= v[15]) return 15;
    int lo = 0, hi = 15;
    while (hi - lo > 1) {
        const int mid = (lo + hi) / 2;
        if (x < v[mid]) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    return x - v[hi - 1] < v[hi] - x ? hi - 1 : hi;
}

void iq4_codes_scalar(int n, const float* x, float id, uint8_t* L) {
    for (int j = 0; j < n; ++j) L[j] = static_cast<uint8_t>(iq4_index_scalar(id * x[j]));
}

void iq4_trial_sums_scalar(int n, int trials, const float* ids, const float* x, const float* w, float* sumqx, float* sumq2) {
    for (int t = 0; t < trials; ++t) {
        float sx = 0, s2 = 0;
        for (int j = 0; j < n; ++j) {
            const auto q = static_cast<float>(tables::kvalues_iq4nl[iq4_index_scalar(ids[t] * x[j])]);
            sx += w[j] * q * x[j];
            s2 += w[j] * q * q;
        }
        sumqx[t] = sx;
        sumq2[t] = s2;
    }
}

Split iq1s_best_split_scalar(int n, const float* sumx, const float* sumw, const float* xp, const float* xm, float initial_scale) {
    Split s;
    s.scale = initial_scale;
    float best_score = -FLT_MIN;
    for (int i1 = 0; i1 <= n; ++i1) {
        for (int i2 = i1; i2 <= n; ++i2) {
            for (const int shift : {1, -1}) {
                const float* q = shift == 1 ? xp : xm;
                const float sumqx = (sumx[i1] - sumx[0]) * q[0] + (sumx[i2] - sumx[i1]) * q[1] + (sumx[n] - sumx[i2]) * q[2];
                const float sumq2 = (sumw[i1] - sumw[0]) * q[0] * q[0] + (sumw[i2] - sumw[i1]) * q[1] * q[1] + (sumw[n] - sumw[i2]) * q[2] * q[2];
                if (improves(sumqx, sumq2, best_score, s.scale)) s = {i1, i2, shift, s.scale};
            }
        }
    }
    return s;
}

Split iq1m_best_split_scalar(int n, const int* order, const float* w, const float* x, const float* xp, const float* xm, float initial_scale) {
    Split s;
    s.scale = initial_scale;
    float best_score = -FLT_MIN;
    for (int i1 = 0; i1 <= n; ++i1) {
        for (int i2 = i1; i2 <= n; ++i2) {
            float sumqx[4] = {0, 0, 0, 0}, sumq2[4] = {0, 0, 0, 0};
            for (int j = 0; j < n; ++j) {
                const int a = j < i1 ? 0 : j < i2 ? 1 : 2;
                const int i = order[j];
                const bool first = i < n / 2;
                for (int k = 0; k < 4; ++k) {
                    const bool plus = first ? k < 2 : k % 2 == 0;
                    const float q = plus ? xp[a] : xm[a];
                    sumqx[k] += w[i] * q * x[i];
                    sumq2[k] += w[i] * q * q;
                }
            }
            for (int k = 0; k < 4; ++k)
                if (improves(sumqx[k], sumq2[k], best_score, s.scale)) s = {i1, i2, k, s.scale};
        }
    }
    return s;
}

bool simd_available() {
    return level_search().vector;
}
int nearest_neighbour_simd(const GridMap& g, const NeighbourList& list, const float* x, const float* w, float scale, const float* levels) {
    return level_search().nearest_neighbour(g, list, x, w, scale, levels);
}
void block_codes_simd(int n, const float* x, float id, int max_code, int8_t* L) {
    level_search().block_codes(n, x, id, max_code, L);
}
void trial_sums_simd(int n, int trials, int stride, const int8_t* Lt, const float* wx, const float* w, float* sumqx, float* sumq2) {
    level_search().trial_sums(n, trials, stride, Lt, wx, w, sumqx, sumq2);
}
void iq4_codes_simd(int n, const float* x, float id, uint8_t* L) {
    level_search().iq4_codes(n, x, id, L);
}
void iq4_trial_sums_simd(int n, int trials, const float* ids, const float* x, const float* w, float* sumqx, float* sumq2) {
    level_search().iq4_trial_sums(n, trials, ids, x, w, sumqx, sumq2);
}
Split iq1s_best_split_simd(int n, const float* sumx, const float* sumw, const float* xp, const float* xm, float initial_scale) {
    return level_search().iq1s_best_split(n, sumx, sumw, xp, xm, initial_scale);
}
Split iq1m_best_split_simd(int n, const int* order, const float* w, const float* x, const float* xp, const float* xm, float initial_scale) {
    return level_search().iq1m_best_split(n, order, w, x, xp, xm, initial_scale);
}

void block_codes(int n, const float* x, float id, int max_code, int8_t* L) {
    if (use_simd()) {
        block_codes_simd(n, x, id, max_code, L);
    } else {
        block_codes_scalar(n, x, id, max_code, L);
    }
}

void trial_sums(int n, int trials, int stride, const int8_t* Lt, const float* wx, const float* w, float* sumqx, float* sumq2) {
    if (use_simd()) {
        trial_sums_simd(n, trials, stride, Lt, wx, w, sumqx, sumq2);
    } else {
        trial_sums_scalar(n, trials, stride, Lt, wx, w, sumqx, sumq2);
    }
}

void iq4_codes(int n, const float* x, float id, uint8_t* L) {
    if (use_simd()) {
        iq4_codes_simd(n, x, id, L);
    } else {
        iq4_codes_scalar(n, x, id, L);
    }
}

void iq4_trial_sums(int n, int trials, const float* ids, const float* x, const float* w, float* sumqx, float* sumq2) {
    if (use_simd()) {
        iq4_trial_sums_simd(n, trials, ids, x, w, sumqx, sumq2);
    } else {
        iq4_trial_sums_scalar(n, trials, ids, x, w, sumqx, sumq2);
    }
}

int nearest_neighbour(const GridMap& g, const NeighbourList& list, const float* x, const float* w, float scale, const float* levels) {
    return use_simd() ? nearest_neighbour_simd(g, list, x, w, scale, levels) : nearest_neighbour_scalar(g, list, x, w, scale, levels);
}

Split iq1s_best_split(int n, const float* sumx, const float* sumw, const float* xp, const float* xm, float initial_scale) {
    return use_simd() ? iq1s_best_split_simd(n, sumx, sumw, xp, xm, initial_scale) : iq1s_best_split_scalar(n, sumx, sumw, xp, xm, initial_scale);
}

Split iq1m_best_split(int n, const int* order, const float* w, const float* x, const float* xp, const float* xm, float initial_scale) {
    return use_simd() ? iq1m_best_split_simd(n, order, w, x, xp, xm, initial_scale) : iq1m_best_split_scalar(n, order, w, x, xp, xm, initial_scale);
}

}  // namespace llmq::quant::iq
