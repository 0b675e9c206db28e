// Every codec against ggml's reference outputs in tests/fixtures/ggml-golden:
// quantization byte-identical (with and without imatrix), dequantization bit-exact.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "llmq/quant/codec.hpp"
#include "support/fixtures.hpp"

namespace llmq {
namespace {

using nlohmann::json;

// The types whose quantizers must reproduce ggml's bytes (issues: foundation, 7).
const std::set<std::string> kRequiredQuant = {"f16",   "bf16",   "q4_0",   "q4_1",  "q5_0",  "q5_1",    "q8_0",   "q2_K",  "q3_K",
                                              "q4_K",  "q5_K",   "q6_K",   "iq1_s", "iq1_m", "iq2_xxs", "iq2_xs", "iq2_s", "iq3_xxs",
                                              "iq3_s", "iq4_nl", "iq4_xs", "tq1_0", "tq2_0", "mxfp4",   "nvfp4",  "q1_0",  "q2_0"};

const json& manifest() {
    static const json m = json::parse(test::read_file(test::fixture("ggml-golden/manifest.json")));
    return m;
}

std::string golden(const std::string& name) {
    return "ggml-golden/" + name;
}

struct Case {
    std::string type, mode, quantized, dequantized;
    int64_t rows = 0, n_per_row = 0, row_bytes = 0;
    friend void PrintTo(const Case& c, std::ostream* os) { *os << c.type << "/" << c.mode; }
};

std::vector<Case> quantization_cases() {
    std::vector<Case> cases;
    for (const auto& c : manifest()["quantization_cases"]) {
        if (!kRequiredQuant.count(c["type"].get<std::string>())) continue;
        cases.push_back({c["type"], c["mode"], c["quantized"], c["dequantized_f32"], c["rows"], c["n_per_row"], c["row_bytes"]});
    }
    return cases;
}

class GoldenQuant : public ::testing::TestWithParam<Case> {};

TEST_P(GoldenQuant, QuantizationIsByteIdentical) {
    const Case& c = GetParam();
    const auto type = type_from_name(c.type);
    ASSERT_TRUE(type.has_value());
    const auto input = test::read_f32(test::fixture(golden("input_f32.bin")));
    const auto imatrix = test::read_f32(test::fixture(golden("imatrix_f32.bin")));
    const auto expected = test::read_file(test::fixture(golden(c.quantized)));
    ASSERT_EQ(input.size(), static_cast<size_t>(c.rows * c.n_per_row));
    ASSERT_EQ(expected.size(), static_cast<size_t>(c.rows * c.row_bytes));
    std::vector<uint8_t> out(expected.size());
    quantize_rows(*type, input, out, c.n_per_row, c.mode == "imat" ? std::span<const float>(imatrix) : std::span<const float>());
    for (int64_t r = 0; r < c.rows; ++r) {
        const auto b = out.begin() + r * c.row_bytes;
        const auto e = expected.begin() + r * c.row_bytes;
        EXPECT_TRUE(std::equal(b, b + c.row_bytes, e)) << c.type << " " << c.mode << ": row " << r << " differs";
    }
}

TEST_P(GoldenQuant, DequantizationIsBitExact) {
    const Case& c = GetParam();
    const auto type = type_from_name(c.type);
    ASSERT_TRUE(type.has_value());
    const auto q = test::read_file(test::fixture(golden(c.quantized)));
    const auto expected = test::read_f32(test::fixture(golden(c.dequantized)));
    std::vector<float> out(expected.size());
    dequantize(*type, q, out);
    ASSERT_EQ(0, std::memcmp(out.data(), expected.data(), out.size() * 4)) << c.type << " " << c.mode;
}

INSTANTIATE_TEST_SUITE_P(Ggml, GoldenQuant, ::testing::ValuesIn(quantization_cases()),
                         [](const auto& info) { return info.param.type + "_" + info.param.mode; });

struct RandomCase {
    std::string type, quantized, dequantized;
    friend void PrintTo(const RandomCase& c, std::ostream* os) { *os << c.type; }
};

std::vector<RandomCase> random_cases() {
    std::vector<RandomCase> cases;
    for (const auto& c : manifest()["random_block_cases"]["cases"]) {
        if (!kRequiredQuant.count(c["type"].get<std::string>())) continue;
        cases.push_back({c["type"], c["quantized"], c["dequantized_f32"]});
    }
    return cases;
}

class GoldenRandomBlocks : public ::testing::TestWithParam<RandomCase> {};

TEST_P(GoldenRandomBlocks, DequantizationIsBitExact) {
    const auto& c = GetParam();
    const auto type = type_from_name(c.type);
    ASSERT_TRUE(type.has_value());
    const auto q = test::read_file(test::fixture(golden(c.quantized)));
    const auto expected = test::read_f32(test::fixture(golden(c.dequantized)));
    std::vector<float> out(expected.size());
    dequantize(*type, q, out);
    ASSERT_EQ(0, std::memcmp(out.data(), expected.data(), out.size() * 4)) << c.type;
}

INSTANTIATE_TEST_SUITE_P(Ggml, GoldenRandomBlocks, ::testing::ValuesIn(random_cases()), [](const auto& info) { return info.param.type; });

TEST(TypeTraits, TableMatchesReference) {
    EXPECT_EQ(traits(GgmlType::Q4_K).type_size, 144u);
    EXPECT_EQ(traits(GgmlType::IQ1_M).type_size, 56u);
    EXPECT_DOUBLE_EQ(bits_per_weight(GgmlType::Q6_K), 6.5625);
    EXPECT_EQ(find_traits(4), nullptr);
    EXPECT_EQ(find_traits(31), nullptr);
    EXPECT_EQ(find_traits(43), nullptr);
    EXPECT_EQ(type_from_name("Q4_k"), GgmlType::Q4_K);
    EXPECT_EQ(type_from_name("nope"), std::nullopt);
    for (uint32_t id = 0; id < kGgmlTypeCount; ++id) {
        if (const auto* t = find_traits(id)) {
            EXPECT_EQ(static_cast<uint32_t>(t->type), id);
        }
    }
}

}  // namespace
}  // namespace llmq
