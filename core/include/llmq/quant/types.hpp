// The ggml tensor types: one traits table (ggml_type id, name, block geometry, codecs).
// Ids and block sizes follow ggml @ d99724f / llama.cpp 80fb11ac (reference/ggml-formats.md §1.5).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace llmq {

enum class GgmlType : uint32_t {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    IQ2_XXS = 16,
    IQ2_XS = 17,
    IQ3_XXS = 18,
    IQ1_S = 19,
    IQ4_NL = 20,
    IQ3_S = 21,
    IQ2_S = 22,
    IQ4_XS = 23,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    IQ1_M = 29,
    BF16 = 30,
    TQ1_0 = 34,
    TQ2_0 = 35,
    MXFP4 = 39,
    NVFP4 = 40,
    Q1_0 = 41,
    Q2_0 = 42,
};

inline constexpr uint32_t kGgmlTypeCount = 43;

// Quantizes whole rows: src holds nrows * n_per_row floats, dst nrows * row_size bytes.
// imatrix is empty or holds n_per_row importance weights (the same for every row).
using QuantizeRowsFn = void (*)(std::span<const float> src, std::span<uint8_t> dst, int64_t n_per_row, std::span<const float> imatrix);
// Decodes whole blocks: src holds dst.size() / block_size blocks.
using DequantizeFn = void (*)(std::span<const uint8_t> src, std::span<float> dst);

struct TypeTraits {
    GgmlType type;
    std::string_view name;       // ggml's name: "f32", "q4_K", "iq2_xxs", ...
    int64_t block_size;          // elements per block
    size_t type_size;            // bytes per block
    bool quantized;              // a block format (not a plain float/int type)
    bool ggml_requires_imatrix;  // ggml asserts without one (IQ2_XXS, IQ2_XS, IQ1_S)
    QuantizeRowsFn quantize;     // nullptr: llmq cannot write this type (yet)
    DequantizeFn dequantize;     // nullptr: llmq cannot read this type (yet)
};

// nullptr for ids that are unknown, removed from ggml, or out of range.
const TypeTraits* find_traits(uint32_t id);
const TypeTraits& traits(GgmlType type);
// Case-insensitive lookup of a ggml type name ("q4_k", "Q8_0", "bf16").
std::optional<GgmlType> type_from_name(std::string_view name);
std::string_view type_name(GgmlType type);

inline double bits_per_weight(GgmlType type) {
    const TypeTraits& t = traits(type);
    return 8.0 * static_cast<double>(t.type_size) / static_cast<double>(t.block_size);
}

// Bytes of one row of n_per_row elements (n_per_row must be a multiple of the block size).
inline uint64_t row_size(GgmlType type, int64_t n_per_row) {
    const TypeTraits& t = traits(type);
    return static_cast<uint64_t>(n_per_row / t.block_size) * t.type_size;
}

}  // namespace llmq
