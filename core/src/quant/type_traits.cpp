#include <algorithm>
#include <array>
#include <cctype>
#include <string>

#include "llmq/error.hpp"
#include "llmq/quant/codec.hpp"
#include "llmq/quant/types.hpp"
#include "quant/codecs.hpp"

namespace llmq {
namespace {

using quant::dequantize_bf16;
using quant::dequantize_f16;
using quant::dequantize_f32;
using quant::dequantize_q2_K;
using quant::dequantize_q3_K;
using quant::dequantize_q4_0;
using quant::dequantize_q4_1;
using quant::dequantize_q4_K;
using quant::dequantize_q5_0;
using quant::dequantize_q5_1;
using quant::dequantize_q5_K;
using quant::dequantize_q6_K;
using quant::dequantize_q8_0;
using quant::quantize_bf16;
using quant::quantize_f16;
using quant::quantize_f32;
using quant::quantize_q2_K;
using quant::quantize_q3_K;
using quant::quantize_q4_0;
using quant::quantize_q4_1;
using quant::quantize_q4_K;
using quant::quantize_q5_0;
using quant::quantize_q5_1;
using quant::quantize_q5_K;
using quant::quantize_q6_K;
using quant::quantize_q8_0;

// One row per ggml type id that exists (removed ids 4, 5, 31-33, 36-38 are absent).
// Columns: type, name, block size, bytes per block, quantized, ggml requires imatrix, quantize, dequantize.
constexpr TypeTraits kTable[] = {
    {GgmlType::F32, "f32", 1, 4, false, false, quantize_f32, dequantize_f32},
    {GgmlType::F16, "f16", 1, 2, false, false, quantize_f16, dequantize_f16},
    {GgmlType::Q4_0, "q4_0", 32, 18, true, false, quantize_q4_0, dequantize_q4_0},
    {GgmlType::Q4_1, "q4_1", 32, 20, true, false, quantize_q4_1, dequantize_q4_1},
    {GgmlType::Q5_0, "q5_0", 32, 22, true, false, quantize_q5_0, dequantize_q5_0},
    {GgmlType::Q5_1, "q5_1", 32, 24, true, false, quantize_q5_1, dequantize_q5_1},
    {GgmlType::Q8_0, "q8_0", 32, 34, true, false, quantize_q8_0, dequantize_q8_0},
    {GgmlType::Q8_1, "q8_1", 32, 36, true, false, nullptr, nullptr},
    {GgmlType::Q2_K, "q2_K", 256, 84, true, false, quantize_q2_K, dequantize_q2_K},
    {GgmlType::Q3_K, "q3_K", 256, 110, true, false, quantize_q3_K, dequantize_q3_K},
    {GgmlType::Q4_K, "q4_K", 256, 144, true, false, quantize_q4_K, dequantize_q4_K},
    {GgmlType::Q5_K, "q5_K", 256, 176, true, false, quantize_q5_K, dequantize_q5_K},
    {GgmlType::Q6_K, "q6_K", 256, 210, true, false, quantize_q6_K, dequantize_q6_K},
    {GgmlType::Q8_K, "q8_K", 256, 292, true, false, nullptr, nullptr},
    {GgmlType::IQ2_XXS, "iq2_xxs", 256, 66, true, true, quant::quantize_iq2_xxs, quant::dequantize_iq2_xxs},
    {GgmlType::IQ2_XS, "iq2_xs", 256, 74, true, true, quant::quantize_iq2_xs, quant::dequantize_iq2_xs},
    {GgmlType::IQ3_XXS, "iq3_xxs", 256, 98, true, false, quant::quantize_iq3_xxs, quant::dequantize_iq3_xxs},
    {GgmlType::IQ1_S, "iq1_s", 256, 50, true, true, quant::quantize_iq1_s, quant::dequantize_iq1_s},
    {GgmlType::IQ4_NL, "iq4_nl", 32, 18, true, false, quant::quantize_iq4_nl, quant::dequantize_iq4_nl},
    {GgmlType::IQ3_S, "iq3_s", 256, 110, true, false, quant::quantize_iq3_s, quant::dequantize_iq3_s},
    {GgmlType::IQ2_S, "iq2_s", 256, 82, true, false, quant::quantize_iq2_s, quant::dequantize_iq2_s},
    {GgmlType::IQ4_XS, "iq4_xs", 256, 136, true, false, quant::quantize_iq4_xs, quant::dequantize_iq4_xs},
    {GgmlType::I8, "i8", 1, 1, false, false, nullptr, nullptr},
    {GgmlType::I16, "i16", 1, 2, false, false, nullptr, nullptr},
    {GgmlType::I32, "i32", 1, 4, false, false, nullptr, nullptr},
    {GgmlType::I64, "i64", 1, 8, false, false, nullptr, nullptr},
    {GgmlType::F64, "f64", 1, 8, false, false, nullptr, nullptr},
    {GgmlType::IQ1_M, "iq1_m", 256, 56, true, false, quant::quantize_iq1_m, quant::dequantize_iq1_m},
    {GgmlType::BF16, "bf16", 1, 2, false, false, quantize_bf16, dequantize_bf16},
    {GgmlType::TQ1_0, "tq1_0", 256, 54, true, false, quant::quantize_tq1_0, quant::dequantize_tq1_0},
    {GgmlType::TQ2_0, "tq2_0", 256, 66, true, false, quant::quantize_tq2_0, quant::dequantize_tq2_0},
    {GgmlType::MXFP4, "mxfp4", 32, 17, true, false, quant::quantize_mxfp4, quant::dequantize_mxfp4},
    {GgmlType::NVFP4, "nvfp4", 64, 36, true, false, quant::quantize_nvfp4, quant::dequantize_nvfp4},
    {GgmlType::Q1_0, "q1_0", 128, 18, true, false, quant::quantize_q1_0, quant::dequantize_q1_0},
    {GgmlType::Q2_0, "q2_0", 64, 18, true, false, quant::quantize_q2_0, quant::dequantize_q2_0},
};

constexpr std::array<int16_t, kGgmlTypeCount> make_index() {
    std::array<int16_t, kGgmlTypeCount> index{};
    for (auto& i : index) i = -1;
    for (size_t i = 0; i < std::size(kTable); ++i) index[static_cast<uint32_t>(kTable[i].type)] = static_cast<int16_t>(i);
    return index;
}
constexpr auto kIndex = make_index();

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

}  // namespace

const TypeTraits* find_traits(uint32_t id) {
    if (id >= kGgmlTypeCount || kIndex[id] < 0) return nullptr;
    return &kTable[kIndex[id]];
}

const TypeTraits& traits(GgmlType type) {
    const TypeTraits* t = find_traits(static_cast<uint32_t>(type));
    if (!t) fail(ExitCode::Unsupported, "unknown ggml type id " + std::to_string(static_cast<uint32_t>(type)));
    return *t;
}

std::optional<GgmlType> type_from_name(std::string_view name) {
    for (const auto& t : kTable)
        if (iequals(t.name, name)) return t.type;
    return std::nullopt;
}

std::string_view type_name(GgmlType type) {
    return traits(type).name;
}

void quantize_rows(GgmlType type, std::span<const float> src, std::span<uint8_t> dst, int64_t n_per_row, std::span<const float> imatrix) {
    const TypeTraits& t = traits(type);
    if (!t.quantize) fail(ExitCode::Unsupported, "llmq cannot write tensors of type " + std::string(t.name));
    if (n_per_row <= 0 || n_per_row % t.block_size != 0) {
        fail(ExitCode::Unsupported, "row length " + std::to_string(n_per_row) + " is not a multiple of the " + std::string(t.name) + " block size " +
                                        std::to_string(t.block_size));
    }
    const auto nrows = static_cast<int64_t>(src.size()) / n_per_row;
    if (static_cast<int64_t>(src.size()) != nrows * n_per_row || dst.size() != nrows * row_size(type, n_per_row) ||
        (!imatrix.empty() && static_cast<int64_t>(imatrix.size()) != n_per_row)) {
        fail(ExitCode::General, "internal: quantize_rows called with inconsistent buffer sizes");
    }
    t.quantize(src, dst, n_per_row, imatrix);
}

void dequantize(GgmlType type, std::span<const uint8_t> src, std::span<float> dst) {
    const TypeTraits& t = traits(type);
    if (!t.dequantize) fail(ExitCode::Unsupported, "llmq cannot read tensors of type " + std::string(t.name));
    if (dst.size() % static_cast<size_t>(t.block_size) != 0 || src.size() != dst.size() / static_cast<size_t>(t.block_size) * t.type_size) {
        fail(ExitCode::General, "internal: dequantize called with inconsistent buffer sizes");
    }
    t.dequantize(src, dst);
}

}  // namespace llmq
