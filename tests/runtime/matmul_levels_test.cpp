// matmul gives the same bits at every SIMD level this CPU has, for any thread count, and each
// output is exactly dot() of the decoded row and the token (the order kernels.hpp fixes): odd
// shapes exercise the packing (rows and tokens that do not fill a tile, inputs past the last
// multiple of 8, a chunked long row) and F32, F16 and a quantized type its decoding.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "llmq/quant/codec.hpp"
#include "runtime/kernels.hpp"
#include "thread_pool.hpp"
#include "util/simd_level.hpp"

namespace llmq {
namespace {

struct Shape {
    GgmlType type;
    int64_t n_in, n_out, n_tokens;
};

Matrix random_matrix(const Shape& s, std::mt19937& rng) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> values(static_cast<size_t>(s.n_in * s.n_out));
    for (float& v : values) v = normal(rng);
    Matrix m;
    m.name = "test";
    m.type = s.type;
    m.n_in = s.n_in;
    m.n_out = s.n_out;
    m.data.resize(static_cast<size_t>(m.row_bytes() * static_cast<uint64_t>(s.n_out)));
    quantize_rows(s.type, values, m.data, s.n_in);
    return m;
}

std::vector<float> run(const Matrix& m, const std::vector<float>& x, int64_t n_tokens, ParallelFor& parallel) {
    std::vector<float> y(static_cast<size_t>(n_tokens * m.n_out));
    runtime::matmul(m, x, n_tokens, y, parallel);
    return y;
}

class MatmulLevels : public ::testing::TestWithParam<Shape> {};

TEST_P(MatmulLevels, EveryLevelAndThreadCountGivesDotOfTheDecodedRow) {
    const Shape s = GetParam();
    std::mt19937 rng(static_cast<unsigned>(s.n_in * 31 + s.n_out * 7 + s.n_tokens));
    const Matrix m = random_matrix(s, rng);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(s.n_in * s.n_tokens));
    for (float& v : x) v = normal(rng);

    // The definition: dot() of each decoded row with each token; fp16 weights meet the tokens
    // rounded to fp16 (as llama.cpp's matmul rounds them).
    std::vector<float> xr = x;
    if (s.type == GgmlType::F16) {
        std::vector<uint8_t> half(xr.size() * 2);
        quantize_rows(GgmlType::F16, x, half, s.n_in);
        dequantize(GgmlType::F16, half, xr);
    }
    std::vector<float> expected(static_cast<size_t>(s.n_tokens * s.n_out)), row(static_cast<size_t>(s.n_in));
    for (int64_t o = 0; o < s.n_out; ++o) {
        decode_row(m, o, row);
        for (int64_t t = 0; t < s.n_tokens; ++t)
            expected[static_cast<size_t>(t * s.n_out + o)] = runtime::dot(row.data(), xr.data() + t * s.n_in, s.n_in);
    }

    const SimdLevel best = simd_level_supported();
    SerialFor serial;
    native::ThreadPool pool(3);
    for (SimdLevel level : {SimdLevel::Portable, SimdLevel::Avx2, SimdLevel::Avx512}) {
        if (static_cast<int>(level) > static_cast<int>(best)) continue;
        set_simd_level(level);
        for (ParallelFor* parallel : {static_cast<ParallelFor*>(&serial), static_cast<ParallelFor*>(&pool)}) {
            const std::vector<float> y = run(m, x, s.n_tokens, *parallel);
            ASSERT_EQ(0, std::memcmp(y.data(), expected.data(), y.size() * sizeof(float)))
                << simd_level_name(level) << ", " << parallel->threads() << " threads";
        }
    }
    set_simd_level(best);
}

INSTANTIATE_TEST_SUITE_P(Shapes, MatmulLevels,
                         ::testing::Values(Shape{GgmlType::F32, 64, 24, 1},      // generation: the unpacked path
                                           Shape{GgmlType::F32, 67, 50, 13},     // a tail of 3 inputs, partial tiles
                                           Shape{GgmlType::F16, 2056, 29, 7},    // more than one chunk of the row
                                           Shape{GgmlType::F16, 5, 9, 11},       // shorter than 8 inputs
                                           Shape{GgmlType::F16, 300, 50, 2},     // generation with fp16 weights
                                           Shape{GgmlType::F16, 1027, 61, 37},   // the fused kernel, tails everywhere
                                           Shape{GgmlType::BF16, 96, 33, 6},     // a type decoded before packing
                                           Shape{GgmlType::Q4_K, 512, 40, 17},   // a quantized type
                                           Shape{GgmlType::Q8_0, 96, 24, 64}));  // many token groups

TEST(SimdLevel, NamesRoundTripAndTheLevelNeverExceedsTheCpu) {
    for (SimdLevel level : {SimdLevel::Portable, SimdLevel::Avx2, SimdLevel::Avx512}) {
        EXPECT_EQ(parse_simd_level(simd_level_name(level)), level);
    }
    EXPECT_FALSE(parse_simd_level("avx9").has_value());
    const SimdLevel best = simd_level_supported();
    set_simd_level(SimdLevel::Avx512);
    EXPECT_EQ(simd_level(), best);
    set_simd_level(SimdLevel::Portable);
    EXPECT_EQ(simd_level(), SimdLevel::Portable);
    set_simd_level(best);
}

}  // namespace
}  // namespace llmq
