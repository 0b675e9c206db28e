// Test inputs for SIMD-vs-scalar codec checks: rows of varied distributions with degenerate
// stretches (constant, single non-zero, zero, alternating) so every search branch is taken.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace llmq::test {

// Row r gets one of several distributions; within rows some 32-value stretches are overwritten
// with degenerate content so every branch of the searches is taken in some lane.
inline std::vector<float> make_varied_input(int64_t kRows, int64_t kCols) {
    std::mt19937 rng(1234);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    std::vector<float> x(kRows * kCols);
    for (int64_t r = 0; r < kRows; ++r) {
        float* row = x.data() + r * kCols;
        for (int64_t c = 0; c < kCols; ++c) {
            float v = normal(rng);
            switch (r % 8) {
                case 0:
                    break;
                case 1:
                    v = (uniform(rng) > 0.98f) ? 10 * v : v;
                    break;  // outliers
                case 2:
                    v = std::round(v * 100.0f) / 100.0f;
                    break;  // many ties
                case 3:
                    v = v * 1e-6f;
                    break;  // tiny
                case 4:
                    v = std::fabs(v) + 0.001f;
                    break;  // strictly positive
                case 5:
                    v = -std::fabs(v);
                    break;  // strictly negative
                case 6:
                    v = uniform(rng);
                    break;  // wide uniform
                case 7:
                    v = (c / 16) % 3 == 0 ? 0.0f : v;
                    break;  // zero sub-blocks
            }
            row[c] = v;
        }
        // Degenerate stretches: constant, a single non-zero, all zero, two values.
        const int64_t at = (r * 288) % (kCols - 64);
        std::fill_n(row + at, 32, -0.0125f);
        std::fill_n(row + at + 32, 16, 0.0f);
        row[at + 40] = 0.03f;
        for (int i = 0; i < 16; ++i) row[at + 48 + i] = (i % 2) ? 0.01f : -0.01f;
    }
    // One whole all-zero super-block and one constant positive super-block.
    std::fill_n(x.begin() + 5 * kCols, 256, 0.0f);
    std::fill_n(x.begin() + 9 * kCols + 512, 256, 0.02f);
    return x;
}

}  // namespace llmq::test
