// The vector paths of the legacy codecs and of the F16/BF16 conversions must give exactly the
// bytes/bits of their scalar definitions, on large inputs full of edge cases: exact .5 ties of
// every rounding step, zeros of both signs, ±0 extremes, equal-magnitude ±max pairs, huge, tiny
// and subnormal values, inf and NaN. The scalar kernels are themselves pinned to ggml's goldens.
#include <gtest/gtest.h>

#include <bit>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "llmq/quant/codec.hpp"
#include "quant/float_kernels.hpp"
#include "quant/legacy_kernels.hpp"
#include "quant/scalar.hpp"
#include "support/fixtures.hpp"

namespace llmq {
namespace {

using quant::legacy::kBlock;
using quant::legacy::Kernels;

constexpr int64_t kRows = 64, kRowLength = 4096;

struct LegacyType {
    std::string name;
    GgmlType type;
    size_t bytes;
    quant::legacy::QuantizeBlocks Kernels::*quantize;
    quant::legacy::DequantizeBlocks Kernels::*dequantize;
};

const std::vector<LegacyType>& legacy_types() {
    static const std::vector<LegacyType> types = {
        {"q4_0", GgmlType::Q4_0, 18, &Kernels::quantize_q4_0, &Kernels::dequantize_q4_0},
        {"q4_1", GgmlType::Q4_1, 20, &Kernels::quantize_q4_1, &Kernels::dequantize_q4_1},
        {"q5_0", GgmlType::Q5_0, 22, &Kernels::quantize_q5_0, &Kernels::dequantize_q5_0},
        {"q5_1", GgmlType::Q5_1, 24, &Kernels::quantize_q5_1, &Kernels::dequantize_q5_1},
        {"q8_0", GgmlType::Q8_0, 34, &Kernels::quantize_q8_0, &Kernels::dequantize_q8_0},
    };
    return types;
}

// 64 x 4096 floats, one kind of block after another.
std::vector<float> edge_case_input() {
    std::mt19937 rng(1234);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::uniform_int_distribution<int> pick(0, 1 << 30);
    const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> x(static_cast<size_t>(kRows * kRowLength));
    constexpr int kKinds = 20;
    for (size_t b = 0; b < x.size() / kBlock; ++b) {
        float* v = x.data() + b * kBlock;
        const int kind = static_cast<int>(b % kKinds);
        const auto any = [&](int n) { return pick(rng) % n; };
        for (int j = 0; j < kBlock; ++j) v[j] = normal(rng) * 0.02f;  // typical weights
        switch (kind) {
            case 0:
            case 1:
                break;
            case 2:  // Q8_0 ties: amax 127 gives id = 1, every value k + 0.5
                for (int j = 0; j < kBlock; ++j) v[j] = static_cast<float>(any(254) - 127) + 0.5f;
                v[any(kBlock)] = any(2) ? 127.0f : -127.0f;
                break;
            case 3:  // Q8_0 ties at id = 2 and exact integers
                for (int j = 0; j < kBlock; ++j) v[j] = static_cast<float>(any(255) - 127) * 0.25f;
                v[any(kBlock)] = 63.5f;
                break;
            case 4:  // Q4_0 ties: max -8 gives d = 1; x + 8.5 hits integers for half-integer x
                for (int j = 0; j < kBlock; ++j) v[j] = static_cast<float>(any(31) - 15) * 0.5f;
                v[any(kBlock)] = -8.0f;
                break;
            case 5:  // Q5_0 ties: max -16 gives d = 1
                for (int j = 0; j < kBlock; ++j) v[j] = static_cast<float>(any(63) - 31) * 0.5f;
                v[any(kBlock)] = -16.0f;
                break;
            case 6:  // Q4_1/Q5_1 ties: min -1, max 14 (or 30) give d = 1
                for (int j = 0; j < kBlock; ++j) v[j] = static_cast<float>(any(31) - 2) * 0.5f;
                v[0] = -1.0f;
                v[1 + any(kBlock - 1)] = any(2) ? 14.0f : 30.0f;
                break;
            case 7:  // all zero, with random signs
                for (int j = 0; j < kBlock; ++j) v[j] = any(2) ? 0.0f : -0.0f;
                break;
            case 8:  // non-negative with zeros: the minimum is ±0
                for (int j = 0; j < kBlock; ++j) v[j] = std::fabs(v[j]);
                v[any(kBlock)] = -0.0f;
                v[any(kBlock)] = 0.0f;
                break;
            case 9:  // non-positive with zeros: the maximum is ±0
                for (int j = 0; j < kBlock; ++j) v[j] = -std::fabs(v[j]);
                v[any(kBlock)] = any(2) ? 0.0f : -0.0f;
                break;
            case 10:  // both signs of the largest magnitude: ggml keeps the first
                v[any(16)] = 0.5f;
                v[16 + any(16)] = -0.5f;
                if (any(2)) std::swap(v[any(16)], v[16 + any(16)]);
                break;
            case 11:  // huge
                for (int j = 0; j < kBlock; ++j) v[j] *= 1e38f;
                v[any(kBlock)] = any(2) ? FLT_MAX : -FLT_MAX;
                break;
            case 12:  // tiny: the scale underflows or its reciprocal overflows
                for (int j = 0; j < kBlock; ++j) v[j] *= 1e-38f;
                break;
            case 13:  // subnormal
                for (int j = 0; j < kBlock; ++j) v[j] = std::bit_cast<float>(static_cast<uint32_t>(any(1 << 20)) | (any(2) ? 0x80000000u : 0u));
                break;
            case 14:  // inf
                v[any(kBlock)] = any(2) ? inf : -inf;
                break;
            case 15:  // NaN
                v[any(kBlock)] = nan;
                break;
            case 16:  // NaN and inf together
                v[any(kBlock)] = nan;
                v[any(kBlock)] = -inf;
                break;
            case 17:  // strictly positive
                for (int j = 0; j < kBlock; ++j) v[j] = std::fabs(v[j]) + 0.01f;
                break;
            case 18:  // constant
                for (int j = 0; j < kBlock; ++j) v[j] = v[0];
                break;
            case 19:  // wide dynamic range: one outlier
                v[any(kBlock)] = normal(rng) * 100.0f;
                break;
        }
    }
    return x;
}

// Random blocks whose scale fields take every kind of fp16 value, NaN only where it is the one
// NaN operand of the arithmetic (which NaN a two-NaN sum propagates is the compiler's choice).
std::vector<uint8_t> random_blocks(const LegacyType& t, size_t nblocks) {
    std::mt19937 rng(99);
    std::uniform_int_distribution<int> byte(0, 255);
    std::vector<uint8_t> q(nblocks * t.bytes);
    for (auto& v : q) v = static_cast<uint8_t>(byte(rng));
    const bool has_min = t.type == GgmlType::Q4_1 || t.type == GgmlType::Q5_1;
    for (size_t b = 0; has_min && b < nblocks; ++b) {
        uint8_t* m = q.data() + b * t.bytes + 2;
        const uint16_t bits = quant::load_u16(m);
        if ((bits & 0x7C00) == 0x7C00 && (bits & 0x03FF) != 0) quant::store_u16(m, bits & 0xFC00);  // NaN → inf
    }
    return q;
}

class LegacySimd : public ::testing::TestWithParam<LegacyType> {};

TEST_P(LegacySimd, ScalarKernelReproducesGgmlGoldens) {
    const auto& t = GetParam();
    const auto input = test::read_f32(test::fixture("ggml-golden/input_f32.bin"));
    const auto expected = test::read_file(test::fixture("ggml-golden/" + t.name + "_noimat_q.bin"));
    std::vector<uint8_t> out(expected.size());
    (quant::legacy::scalar_kernels().*t.quantize)(input.data(), out.data(), static_cast<int64_t>(input.size()) / kBlock);
    EXPECT_EQ(out, expected);
}

TEST_P(LegacySimd, QuantizationMatchesScalar) {
    const auto& t = GetParam();
    const auto x = edge_case_input();
    const auto nblocks = static_cast<int64_t>(x.size()) / kBlock;
    std::vector<uint8_t> scalar(static_cast<size_t>(nblocks) * t.bytes), vector(scalar.size(), 0xAB);
    (quant::legacy::scalar_kernels().*t.quantize)(x.data(), scalar.data(), nblocks);
    (quant::legacy::simd_kernels().*t.quantize)(x.data(), vector.data(), nblocks);
    for (int64_t b = 0; b < nblocks; ++b) {
        const auto off = static_cast<size_t>(b) * t.bytes;
        ASSERT_EQ(0, std::memcmp(scalar.data() + off, vector.data() + off, t.bytes))
            << t.name << ": block " << b << " (input kind " << b % 20 << ") differs";
    }
    // The codec entry point takes the same (vector) path.
    std::vector<uint8_t> codec(scalar.size());
    quantize_rows(t.type, x, codec, kRowLength);
    EXPECT_EQ(codec, scalar);
}

TEST_P(LegacySimd, DequantizationMatchesScalar) {
    const auto& t = GetParam();
    const size_t nblocks = 8192;
    const auto q = random_blocks(t, nblocks);
    std::vector<float> scalar(nblocks * kBlock), vector(scalar.size(), -1.0f);
    (quant::legacy::scalar_kernels().*t.dequantize)(q.data(), scalar.data(), static_cast<int64_t>(nblocks));
    (quant::legacy::simd_kernels().*t.dequantize)(q.data(), vector.data(), static_cast<int64_t>(nblocks));
    for (size_t b = 0; b < nblocks; ++b) {
        ASSERT_EQ(0, std::memcmp(scalar.data() + b * kBlock, vector.data() + b * kBlock, kBlock * sizeof(float)))
            << t.name << ": block " << b << " differs";
    }
    std::vector<float> codec(scalar.size());
    dequantize(t.type, q, codec);
    EXPECT_EQ(0, std::memcmp(codec.data(), scalar.data(), codec.size() * sizeof(float)));
}

INSTANTIATE_TEST_SUITE_P(Legacy, LegacySimd, ::testing::ValuesIn(legacy_types()), [](const auto& info) { return info.param.name; });

// ---- F16 / BF16 ------------------------------------------------------------------------------

std::vector<uint8_t> every_half() {
    std::vector<uint8_t> h(2 * 65536 + 2 * 5);  // + an odd tail for the scalar remainder
    for (uint32_t i = 0; i < 65536 + 5; ++i) quant::store_u16(h.data() + 2 * i, static_cast<uint16_t>(i * 40503u));
    return h;
}

void expect_same_bits(const std::vector<float>& a, const std::vector<float>& b, const char* what) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        ASSERT_EQ(std::bit_cast<uint32_t>(a[i]), std::bit_cast<uint32_t>(b[i])) << what << " at " << i;
    }
}

TEST(FloatSimd, F16ToF32MatchesScalarOnEveryHalf) {
    const auto h = every_half();
    const size_t n = h.size() / 2;
    std::vector<float> scalar(n), fast(n), portable(n);
    quant::floats::f16_to_f32_scalar(h.data(), scalar.data(), n);
    quant::floats::f16_to_f32(h.data(), fast.data(), n);
    quant::floats::f16_to_f32_portable(h.data(), portable.data(), n);
    expect_same_bits(scalar, fast, "f16_to_f32");
    expect_same_bits(scalar, portable, "f16_to_f32_portable");
    std::vector<float> codec(n - 5);
    dequantize(GgmlType::F16, std::span(h).first(2 * (n - 5)), codec);
    expect_same_bits(std::vector<float>(scalar.begin(), scalar.end() - 5), codec, "dequantize F16");
}

TEST(FloatSimd, Bf16ToF32MatchesScalarOnEveryHalf) {
    const auto h = every_half();
    const size_t n = h.size() / 2;
    std::vector<float> scalar(n), fast(n);
    quant::floats::bf16_to_f32_scalar(h.data(), scalar.data(), n);
    quant::floats::bf16_to_f32(h.data(), fast.data(), n);
    expect_same_bits(scalar, fast, "bf16_to_f32");
}

TEST(FloatSimd, F32ToF16MatchesScalar) {
    // Random bit patterns (every exponent, NaN payloads, subnormals), then values at and around
    // every f16 rounding boundary (halfway points between neighbouring halves, both signs).
    std::vector<float> x;
    std::mt19937 rng(7);
    for (int i = 0; i < 1 << 20; ++i) x.push_back(std::bit_cast<float>(static_cast<uint32_t>(rng())));
    for (uint32_t h = 0; h < 0x7C00; ++h) {
        const float lo = quant::fp16_to_fp32(static_cast<uint16_t>(h));
        const float hi = quant::fp16_to_fp32(static_cast<uint16_t>(h + 1));
        const float mid = lo + (hi - lo) * 0.5f;  // exact: fp16 neighbours are 11-bit apart in f32
        for (const float v : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, FLT_MAX), lo}) {
            x.push_back(v);
            x.push_back(-v);
        }
    }
    for (const float v :
         {65504.0f, 65519.0f, 65520.0f, FLT_MAX, std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN(),
          std::numeric_limits<float>::signaling_NaN(), std::bit_cast<float>(0x7FFFFFFFu), std::bit_cast<float>(0xFFC00001u), 1e-45f, 0.0f, -0.0f}) {
        x.push_back(v);
        x.push_back(-v);
    }
    x.push_back(1.0f);  // odd count: the scalar remainder runs too
    std::vector<uint8_t> scalar(2 * x.size()), fast(2 * x.size());
    quant::floats::f32_to_f16_scalar(x.data(), scalar.data(), x.size());
    quant::floats::f32_to_f16(x.data(), fast.data(), x.size());
    for (size_t i = 0; i < x.size(); ++i) {
        ASSERT_EQ(quant::load_u16(scalar.data() + 2 * i), quant::load_u16(fast.data() + 2 * i))
            << "f32 bits " << std::hex << std::bit_cast<uint32_t>(x[i]);
    }
}

}  // namespace
}  // namespace llmq
