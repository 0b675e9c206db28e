// The SIMD k-quant search (vectorised across sub-blocks) must give exactly the bytes of the
// scalar reference path, on large inputs with every awkward kind of data: outliers, zeros, ties,
// tiny values, one-signed blocks, constant blocks; with and without an imatrix.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <random>
#include <vector>

#include "llmq/quant/codec.hpp"
#include "quant/kquant_search.hpp"
#include "support/quant_inputs.hpp"

namespace llmq {
namespace {

constexpr int64_t kRows = 64;
constexpr int64_t kCols = 4096;

std::vector<float> make_input() {
    return test::make_varied_input(kRows, kCols);
}

std::vector<float> make_imatrix() {
    std::mt19937 rng(99);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    std::vector<float> w(kCols);
    for (auto& v : w) {
        const float t = u(rng);
        v = 0.05f + 4 * t * t;
    }
    for (int64_t c = 0; c < kCols; c += 97) w[c] = 1e-6f;  // nearly unused columns
    return w;
}

struct SimdGuard {
    ~SimdGuard() { quant::set_kquant_simd(true); }
};

class KQuantSimd : public ::testing::TestWithParam<GgmlType> {};

TEST_P(KQuantSimd, MatchesScalarBitForBit) {
    const GgmlType type = GetParam();
    static const auto input = make_input();
    static const auto imatrix = make_imatrix();
    const size_t block_bytes = traits(type).type_size;
    const size_t bytes = static_cast<size_t>(kRows * kCols / 256) * block_bytes;
    SimdGuard guard;
    for (const bool with_imatrix : {false, true}) {
        const std::span<const float> imat = with_imatrix ? std::span<const float>(imatrix) : std::span<const float>();
        std::vector<uint8_t> scalar(bytes), simd(bytes);
        quant::set_kquant_simd(false);
        quantize_rows(type, input, scalar, kCols, imat);
        quant::set_kquant_simd(true);
        quantize_rows(type, input, simd, kCols, imat);
        size_t differing = 0, first = bytes;
        for (size_t b = 0; b < bytes / block_bytes; ++b) {
            if (!std::equal(scalar.begin() + b * block_bytes, scalar.begin() + (b + 1) * block_bytes, simd.begin() + b * block_bytes)) {
                first = std::min(first, b);
                ++differing;
            }
        }
        EXPECT_EQ(differing, 0u) << type_name(type) << (with_imatrix ? " imat" : " noimat") << ": first differing block " << first;
    }
}

INSTANTIATE_TEST_SUITE_P(KQuants, KQuantSimd, ::testing::Values(GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K),
                         [](const auto& info) { return std::string(type_name(info.param)); });

// The batched routines directly, with a group count that leaves a scalar remainder after the
// SIMD batches, and group lengths the kernels do and do not handle.
TEST(KQuantSearchMany, MatchesSingleGroupRoutines) {
    const auto input = make_input();
    const auto imatrix = make_imatrix();
    SimdGuard guard;
    quant::set_kquant_simd(true);
    for (const size_t n : {16u, 32u, 24u}) {
        const size_t groups = 37;
        const std::span<const float> x(input.data() + 7 * kCols + 64, groups * n);
        const std::span<const float> w(imatrix.data(), groups * n);
        std::vector<uint8_t> L(groups * n), Ls(n);
        std::vector<float> scales(groups), mins(groups);

        quant::make_qkx_quants_many(groups, n, x, w, 15, L, scales, mins, -0.9f, 0.05f, 36, false);
        for (size_t g = 0; g < groups; ++g) {
            const auto r = quant::make_qkx3_quants(x.subspan(g * n, n), w.subspan(g * n, n), 15, Ls, -0.9f, 0.05f, 36, false);
            EXPECT_EQ(std::bit_cast<uint32_t>(r.scale), std::bit_cast<uint32_t>(scales[g])) << "qkx n=" << n << " g=" << g;
            EXPECT_EQ(std::bit_cast<uint32_t>(r.min), std::bit_cast<uint32_t>(mins[g])) << "qkx n=" << n << " g=" << g;
            EXPECT_TRUE(std::equal(Ls.begin(), Ls.end(), L.begin() + g * n)) << "qkx n=" << n << " g=" << g;
        }

        quant::make_qx_quants_many(groups, n, x, {}, 32, L, scales);
        for (size_t g = 0; g < groups; ++g) {
            const float s = quant::make_qx_quants(x.subspan(g * n, n), 32, Ls, 1, {});
            EXPECT_EQ(std::bit_cast<uint32_t>(s), std::bit_cast<uint32_t>(scales[g])) << "qx n=" << n << " g=" << g;
            EXPECT_TRUE(std::equal(Ls.begin(), Ls.end(), L.begin() + g * n)) << "qx n=" << n << " g=" << g;
        }

        quant::make_q3_quants_many(groups, n, x, 4, L, scales);
        for (size_t g = 0; g < groups; ++g) {
            const float s = quant::make_q3_quants(x.subspan(g * n, n), 4, Ls, true);
            EXPECT_EQ(std::bit_cast<uint32_t>(s), std::bit_cast<uint32_t>(scales[g])) << "q3 n=" << n << " g=" << g;
            EXPECT_TRUE(std::equal(Ls.begin(), Ls.end(), L.begin() + g * n)) << "q3 n=" << n << " g=" << g;
        }
    }
}

}  // namespace
}  // namespace llmq
