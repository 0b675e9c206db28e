// Behaviour of the I-quant and ternary codecs beyond the golden bytes: the imatrix requirement,
// lossless ternary round trips, independence of how rows are split (thread counts), and the
// documented handling of all-zero IQ1 blocks.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "llmq/error.hpp"
#include "llmq/quant/codec.hpp"
#include "quant/scalar.hpp"

namespace llmq {
namespace {

std::vector<float> normal_rows(int64_t rows, int64_t cols, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    std::vector<float> x(static_cast<size_t>(rows * cols));
    for (auto& v : x) v = normal(rng);
    return x;
}

// ggml asserts without an importance matrix for these; llmq fails with exit code 10 and a hint.
TEST(Iquants, TypesThatNeedAnImatrixFailWithoutOne) {
    const auto x = normal_rows(1, 256, 1);
    for (const GgmlType type : {GgmlType::IQ1_S, GgmlType::IQ2_XXS, GgmlType::IQ2_XS}) {
        std::vector<uint8_t> out(row_size(type, 256));
        try {
            quantize_rows(type, x, out, 256);
            ADD_FAILURE() << type_name(type) << " quantized without an imatrix";
        } catch (const Failure& f) {
            EXPECT_EQ(f.error().code, ExitCode::Imatrix) << type_name(type);
            EXPECT_NE(f.error().suggestion.find("llmq analyze"), std::string::npos) << f.error().suggestion;
        }
        const std::vector<float> imatrix(256, 1.0f);
        EXPECT_NO_THROW(quantize_rows(type, x, out, 256, imatrix)) << type_name(type);
    }
    // The others fall back to their own weights, as in ggml.
    for (const GgmlType type : {GgmlType::IQ1_M, GgmlType::IQ2_S, GgmlType::IQ3_XXS, GgmlType::IQ3_S, GgmlType::IQ4_NL, GgmlType::IQ4_XS,
                                GgmlType::TQ1_0, GgmlType::TQ2_0}) {
        std::vector<uint8_t> out(row_size(type, 256));
        EXPECT_NO_THROW(quantize_rows(type, x, out, 256)) << type_name(type);
    }
}

// A ternary-trained model stores weights in {−s, 0, +s} per block: with s exact in fp16 both
// ternary types reproduce it bit for bit (any non-ternary block would not).
TEST(Iquants, TernaryWeightsRoundTripLosslessly) {
    std::mt19937 rng(42);
    const int64_t rows = 8, cols = 1024;
    std::vector<float> x(static_cast<size_t>(rows * cols));
    for (size_t b = 0; b < x.size() / 256; ++b) {
        // A different scale per block, exactly representable in fp16 (0.5 .. 2 times 2^-k).
        const float s = quant::fp16_to_fp32(quant::fp32_to_fp16(std::ldexp(1.0f + static_cast<float>(b % 7) / 7.0f, -static_cast<int>(b % 9) - 3)));
        for (size_t i = 0; i < 256; ++i) {
            const int t = static_cast<int>(rng() % 3) - 1;
            x[b * 256 + i] = static_cast<float>(t) * s;
        }
        x[b * 256 + b % 256] = s;  // make sure the block's max |x| is s
    }
    for (const GgmlType type : {GgmlType::TQ1_0, GgmlType::TQ2_0}) {
        std::vector<uint8_t> q(static_cast<size_t>(rows) * row_size(type, cols));
        quantize_rows(type, x, q, cols);
        std::vector<float> back(x.size());
        dequantize(type, q, back);
        for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(back[i], x[i]) << type_name(type) << " element " << i;
    }
    // Control: a non-ternary block does not survive.
    x[3] = 0.37f * x[0] + 1e-3f;
    std::vector<uint8_t> q(static_cast<size_t>(rows) * row_size(GgmlType::TQ1_0, cols));
    quantize_rows(GgmlType::TQ1_0, x, q, cols);
    std::vector<float> back(x.size());
    dequantize(GgmlType::TQ1_0, q, back);
    EXPECT_NE(back[3], x[3]);
}

// Output bytes may not depend on how the host splits rows between threads: quantizing rows one
// at a time gives what quantizing them together gives.
TEST(Iquants, RowsQuantizeIndependently) {
    const int64_t rows = 6, cols = 512;
    auto x = normal_rows(rows, cols, 9);
    std::fill_n(x.begin() + cols + 32, 32,
                0.0f);  // an all-zero block inside a non-zero super-block
    std::vector<float> imatrix(cols);
    for (int64_t c = 0; c < cols; ++c) imatrix[c] = 0.5f + static_cast<float>(c % 5);
    for (const GgmlType type : {GgmlType::IQ1_S, GgmlType::IQ1_M, GgmlType::IQ2_XXS, GgmlType::IQ2_XS, GgmlType::IQ2_S, GgmlType::IQ3_XXS,
                                GgmlType::IQ3_S, GgmlType::IQ4_NL, GgmlType::IQ4_XS, GgmlType::TQ1_0, GgmlType::TQ2_0}) {
        const size_t rb = row_size(type, cols);
        std::vector<uint8_t> together(rows * rb), apart(rows * rb);
        quantize_rows(type, x, together, cols, imatrix);
        for (int64_t r = rows - 1; r >= 0; --r) {  // reverse order: no state may carry over
            quantize_rows(type, std::span(x).subspan(r * cols, cols), std::span(apart).subspan(r * rb, rb), cols, imatrix);
        }
        EXPECT_EQ(together, apart) << type_name(type);
    }
}

// ggml leaves the shift flag of an all-zero IQ1 block stale (whatever that block of the previous
// super-block in the same call chose). llmq clears it: the zero block decodes with +δ and the
// smallest scale, whatever came before.
TEST(Iquants, AllZeroIq1BlocksHaveNoStaleShift) {
    auto x = normal_rows(2, 256, 17);
    for (int i = 0; i < 256; ++i) x[i] = -std::fabs(x[i]);  // first super-block: negative values
    std::fill_n(x.begin() + 256 + 32, 32, 0.0f);            // second: block 1 all zero
    std::vector<float> imatrix(256, 1.0f);
    std::vector<uint8_t> q(2 * row_size(GgmlType::IQ1_S, 256));
    quantize_rows(GgmlType::IQ1_S, x, q, 256, imatrix);
    const uint16_t qh = quant::load_u16(q.data() + 50 + 34 + 2 * 1);
    EXPECT_EQ(qh, 0u) << "grid index 0, scale 0, shift +delta";

    std::vector<uint8_t> m(2 * row_size(GgmlType::IQ1_M, 256));
    quantize_rows(GgmlType::IQ1_M, x, m, 256, imatrix);
    // 16-value blocks 2 and 3 of the second super-block: no shift flags (bits 3 and 7 of qh).
    EXPECT_EQ(m[56 + 32 + 2] & 0x88, 0);
    EXPECT_EQ(m[56 + 32 + 3] & 0x88, 0);
}

}  // namespace
}  // namespace llmq
