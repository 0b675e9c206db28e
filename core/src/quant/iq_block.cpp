// Shared steps of the grid I-quant quantizers (see iq_block.hpp).
#include "quant/iq_block.hpp"

#include <algorithm>
#include <string>

#include "llmq/error.hpp"
#include "quant/iq_search.hpp"
#include "quant/scalar.hpp"

namespace llmq::quant::iq {
namespace {

// Quantizer levels of the codes: 2c + 1.
constexpr std::array<float, 8> kLevels = {1, 3, 5, 7, 9, 11, 13, 15};

// Replaces the codes of one group by the best neighbour when they are off the grid; true if on it.
bool snap_codes(const GridMap& g, const float* xval, const float* w, float scale, int8_t* L) {
    const int32_t v = g.map[g.key(L)];
    if (v >= 0) return true;
    const NeighbourList& list = g.lists[static_cast<size_t>(-v - 1)];
    int gi = nearest_neighbour(g, list, xval, w, scale, kLevels.data());
    // Only non-finite distances leave no winner (ggml asserts); take the nearest point then.
    if (gi < 0) gi = g.neighbours[list.first];
    const uint8_t* codes = g.point(gi);
    for (int i = 0; i < g.dim; ++i) L[i] = static_cast<int8_t>(codes[i]);
    return false;
}

}  // namespace

float sum_squares(const float* x, int n) {
    float s = 0;
    for (int i = 0; i < n; ++i) s += x[i] * x[i];
    return s;
}

uint8_t split_signs(const float* x, const float* w, float* xval, bool even_parity) {
    int negatives = 0;
    uint8_t s = 0;
    for (int i = 0; i < 8; ++i) {
        if (x[i] >= 0) {
            xval[i] = x[i];
        } else {
            xval[i] = -x[i];
            ++negatives;
            s = static_cast<uint8_t>(s | (1u << i));
        }
    }
    if (!even_parity) return s;
    if (negatives % 2) {
        int imin = 0;
        float min = w[0] * x[0] * x[0];
        for (int i = 1; i < 8; ++i) {
            const float ax = w[i] * x[i] * x[i];
            if (ax < min) {
                min = ax;
                imin = i;
            }
        }
        xval[imin] = -xval[imin];
        s = static_cast<uint8_t>(s ^ (1u << imin));
    }
    return static_cast<uint8_t>(s & 127);
}

bool snap_group(const GridMap& g, const float* xval, const float* w, float id, float scale, int8_t* L) {
    block_codes(g.dim, xval, id, g.max_code, L);
    return snap_codes(g, xval, w, scale, L);
}

void scale_trials(const GridMap& g, int n, const float* xval, const float* weight, const float* neighbour_w, std::span<const float> ids,
                  bool initially_on_grid, BlockCodes& b) {
    // All trials' codes first (each trial's groups snapped at its own scale), then all their fits
    // at once (trial_sums), then ggml's sequential choice of the best trial.
    constexpr int kMaxTrials = 32;
    const int trials = static_cast<int>(ids.size());
    const int groups = n / g.dim;
    std::array<std::array<int8_t, 32>, kMaxTrials> L{};
    std::array<std::array<bool, 8>, kMaxTrials> on_grid{};
    alignas(64) std::array<int8_t, 32 * kMaxTrials> Lt{};  // Lt[i·kMaxTrials + t]
    for (int t = 0; t < trials; ++t) {
        const float id = ids[t];
        const float this_scale = 1 / id;
        block_codes(n, xval, id, g.max_code, L[t].data());
        for (int k = 0; k < groups; ++k)
            on_grid[t][k] = snap_codes(g, xval + g.dim * k, neighbour_w + g.dim * k, this_scale, L[t].data() + g.dim * k);
        for (int i = 0; i < n; ++i) Lt[i * kMaxTrials + t] = L[t][i];
    }
    std::array<float, 32> wx{};
    for (int i = 0; i < n; ++i) wx[i] = weight[i] * xval[i];
    std::array<float, kMaxTrials> sumqx{}, sumq2{};
    trial_sums(n, trials, kMaxTrials, Lt.data(), wx.data(), weight, sumqx.data(), sumq2.data());
    std::fill(b.on_grid.begin(), b.on_grid.end(), initially_on_grid);
    float best = 0;
    for (int t = 0; t < trials; ++t) {
        if (sumq2[t] > 0 && sumqx[t] * sumqx[t] > best * sumq2[t]) {
            b.scale = sumqx[t] / sumq2[t];
            best = b.scale * sumqx[t];
            b.L = L[t];
            b.on_grid = on_grid[t];
        }
    }
}

void final_pass(const GridMap& g, int n, const float* xval, const float* weight, const float* neighbour_w, bool all_groups, BlockCodes& b) {
    const int groups = n / g.dim;
    const bool any_off = std::any_of(b.on_grid.begin(), b.on_grid.begin() + groups, [](bool on) { return !on; });
    if (!any_off || !(b.scale > 0)) return;
    const float id = 1 / b.scale;
    for (int k = 0; k < groups; ++k) {
        if (!all_groups && b.on_grid[k]) continue;
        snap_group(g, xval + g.dim * k, neighbour_w + g.dim * k, id, b.scale, b.L.data() + g.dim * k);
    }
    float sumqx = 0, sumq2 = 0;
    for (int i = 0; i < n; ++i) {
        const float w = weight[i];
        const auto q = static_cast<float>(2 * b.L[i] + 1);
        sumqx += w * xval[i] * q;
        sumq2 += w * q * q;
    }
    if (sumq2 > 0) b.scale = sumqx / sumq2;
}

int grid_index(const GridMap& g, const BlockCodes& b, int k) {
    const int32_t v = g.map[g.key(b.L.data() + g.dim * k)];
    return v >= 0 ? v : 0;  // always on the grid: every group was snapped
}

void require_imatrix(std::span<const float> imatrix, const char* type) {
    if (!imatrix.empty()) return;
    fail(ExitCode::Imatrix, std::string(type) + " quantization needs an importance matrix (--imatrix)",
         "run `llmq analyze MODEL -o model.imatrix` and pass --imatrix model.imatrix, or choose "
         "IQ2_S/IQ3_XXS or "
         "a k-quant");
}

int sub_scale(float id, float scale, int max) {
    return std::clamp(nearest_int(0.5f * (id * scale - 1)), 0, max);
}

}  // namespace llmq::quant::iq
