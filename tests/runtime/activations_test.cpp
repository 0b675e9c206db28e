// Numerics::Ggml rounds a matmul's activations as llama.cpp's CPU backend does before its dot
// products (ggml-formats.md §1.5 and §1.6): checked here against hand-worked blocks and the
// rules themselves, and through matmul (every output the dot of the decoded row with the rounded
// token). The end-to-end agreement with llama.cpp is tests/oracle/quality.test.mjs.
#include "runtime/activations.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "llmq/quant/codec.hpp"
#include "quant/scalar.hpp"
#include "runtime/kernels.hpp"
#include "thread_pool.hpp"

namespace llmq {
namespace {

using runtime::activation_grid;
using runtime::ActivationGrid;
using runtime::round_activations;

TEST(ActivationGrids, EachWeightTypeMeetsItsDotProductType) {
    EXPECT_EQ(activation_grid(GgmlType::F16, Numerics::Exact), ActivationGrid::Half);
    EXPECT_EQ(activation_grid(GgmlType::BF16, Numerics::Exact), ActivationGrid::None);
    EXPECT_EQ(activation_grid(GgmlType::Q4_K, Numerics::Exact), ActivationGrid::None);
    EXPECT_EQ(activation_grid(GgmlType::F32, Numerics::Ggml), ActivationGrid::None);
    EXPECT_EQ(activation_grid(GgmlType::F16, Numerics::Ggml), ActivationGrid::Half);
    EXPECT_EQ(activation_grid(GgmlType::BF16, Numerics::Ggml), ActivationGrid::BFloat16);
    for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q5_0, GgmlType::Q8_0, GgmlType::IQ4_NL, GgmlType::MXFP4})
        EXPECT_EQ(activation_grid(t, Numerics::Ggml), ActivationGrid::Q8_0) << type_name(t);
    for (GgmlType t : {GgmlType::Q4_1, GgmlType::Q5_1}) EXPECT_EQ(activation_grid(t, Numerics::Ggml), ActivationGrid::Q8_1) << type_name(t);
    for (GgmlType t : {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ2_XXS, GgmlType::IQ3_S,
                       GgmlType::IQ4_XS, GgmlType::IQ1_M, GgmlType::TQ2_0})
        EXPECT_EQ(activation_grid(t, Numerics::Ggml), ActivationGrid::Q8_K) << type_name(t);
}

// A 256-block worked by hand: the largest magnitude is -2.54 (negative, and first), so
// iscale = -127/-2.54 = 50 (exactly, in float) and d = 1/50; 0.05·50 = 2.5 and 0.25·50 = 12.5 round
// half to even (2 and 12, where roundf would give 3 and 13); 2.54 gives +127.
TEST(ActivationGrids, Q8KMapsTheSignedLargestValueToMinus127AndRoundsHalfToEven) {
    std::vector<float> x(256, 0.0f), out(256);
    x[3] = -2.54f;
    x[10] = 2.54f;  // the same magnitude later: the first one sets the sign
    x[22] = 0.05f;
    x[24] = 0.25f;
    round_activations(ActivationGrid::Q8_K, x.data(), out.data(), 256);
    ASSERT_EQ(-127.0f / -2.54f, 50.0f);
    const float d = 1.0f / 50.0f;
    EXPECT_EQ(out[3], d * -127.0f);
    EXPECT_EQ(out[10], d * 127.0f);
    EXPECT_EQ(out[22], d * 2.0f);
    EXPECT_EQ(out[24], d * 12.0f);
    EXPECT_EQ(out[0], 0.0f);

    std::vector<float> zeros(256, 0.0f), zout(256, 1.0f);
    round_activations(ActivationGrid::Q8_K, zeros.data(), zout.data(), 256);
    for (float v : zout) EXPECT_EQ(v, 0.0f);
}

// Q8_0 as ggml's x86 quantize_row_q8_0: codes round-half-even(x · 127/amax), scale amax/127 kept
// as fp16; so the block's largest value comes back as the fp16 scale times ±127.
TEST(ActivationGrids, Q80UsesTheReciprocalAndAnFp16Scale) {
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 3.0f);
    std::vector<float> x(64), out(64);
    for (float& v : x) v = normal(rng);
    round_activations(ActivationGrid::Q8_0, x.data(), out.data(), 64);
    for (int b = 0; b < 2; ++b) {
        float amax = 0.0f;
        for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b * 32 + j]));
        const float d = quant::fp16_to_fp32(quant::fp32_to_fp16(amax / 127.0f));
        const float id = 127.0f / amax;
        for (int j = 0; j < 32; ++j) {
            const int i = b * 32 + j;
            EXPECT_EQ(out[i], d * std::nearbyint(x[i] * id)) << i;
            EXPECT_LE(std::fabs(std::nearbyint(x[i] * id)), 127.0f);
        }
    }
}

TEST(ActivationGrids, HalfAndBFloat16RoundToNearestEven) {
    const std::vector<float> x = {1.0f + 1.0f / 4096.0f, 1.0f + 3.0f / 4096.0f, 1.0f + 1.0f / 256.0f, 1.0f + 3.0f / 256.0f, -0.0f};
    std::vector<float> half(x.size()), bf(x.size());
    round_activations(ActivationGrid::Half, x.data(), half.data(), static_cast<int64_t>(x.size()));
    round_activations(ActivationGrid::BFloat16, x.data(), bf.data(), static_cast<int64_t>(x.size()));
    EXPECT_EQ(half[0], 1.0f);                   // half an fp16 ulp above 1: ties to even
    EXPECT_EQ(half[1], 1.0f + 4.0f / 4096.0f);  // 1.5 ulp: up to the even neighbour
    EXPECT_EQ(bf[2], 1.0f);                     // half a bf16 ulp
    EXPECT_EQ(bf[3], 1.0f + 4.0f / 256.0f);
    EXPECT_TRUE(std::signbit(bf[4]));
}

// Through matmul: every output is the dot of the decoded row with the rounded token, for each
// grid, so the executors see exactly the rounding above.
TEST(ActivationGrids, GgmlMatmulMultipliesTheRoundedActivations) {
    native::ThreadPool pool(3);
    std::mt19937 rng(11);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (GgmlType type : {GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_1, GgmlType::Q4_K, GgmlType::Q6_K}) {
        const int64_t n_in = 512, n_out = 37, n_tokens = 19;
        std::vector<float> w(static_cast<size_t>(n_in * n_out)), x(static_cast<size_t>(n_in * n_tokens));
        for (float& v : w) v = normal(rng);
        for (float& v : x) v = normal(rng);
        Matrix m;
        m.type = type;
        m.n_in = n_in;
        m.n_out = n_out;
        m.data.resize(m.row_bytes() * static_cast<uint64_t>(n_out));
        quantize_rows(type, w, m.data, n_in);
        std::vector<float> decoded(w.size());
        dequantize(type, m.data, decoded);

        std::vector<float> y(static_cast<size_t>(n_tokens * n_out)), y_exact(y.size());
        runtime::matmul(m, x, n_tokens, y, pool, Numerics::Ggml);
        runtime::matmul(m, x, n_tokens, y_exact, pool, Numerics::Exact);
        const ActivationGrid grid = activation_grid(type, Numerics::Ggml);
        std::vector<float> xr(x.size());
        for (int64_t t = 0; t < n_tokens; ++t) round_activations(grid, x.data() + t * n_in, xr.data() + t * n_in, n_in);
        int differs = 0;
        for (int64_t t = 0; t < n_tokens; ++t) {
            for (int64_t o = 0; o < n_out; ++o) {
                const float got = y[static_cast<size_t>(t * n_out + o)];
                EXPECT_EQ(got, runtime::dot(decoded.data() + o * n_in, xr.data() + t * n_in, n_in)) << type_name(type);
                differs += got != y_exact[static_cast<size_t>(t * n_out + o)];
            }
        }
        EXPECT_GT(differs, n_tokens * n_out / 2) << type_name(type) << ": the rounding must change the results";
    }
}

}  // namespace
}  // namespace llmq
