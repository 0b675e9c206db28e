// Limits and helpers the GGUF reader and writer share, so that llmq writes only what it (and
// ggml) would read back.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "llmq/quant/types.hpp"

namespace llmq::gguf::limits {

inline constexpr uint64_t kMaxString = uint64_t{1} << 30;  // ggml's cap on a string's bytes
inline constexpr uint64_t kMaxArray = uint64_t{1} << 30;   // ggml's cap on array elements
inline constexpr uint64_t kMaxName = 63;                   // tensor names are < GGML_MAX_NAME (64)
inline constexpr uint32_t kMaxDims = 4;
inline constexpr uint32_t kMinVersion = 2;
inline constexpr uint32_t kVersion = 3;
inline constexpr char kAlignmentKey[] = "general.alignment";

inline constexpr bool is_power_of_two(uint64_t v) {
    return v != 0 && (v & (v - 1)) == 0;
}

// Rounds up to a power-of-two alignment; callers bound `v` so that this cannot wrap.
inline constexpr uint64_t pad(uint64_t v, uint64_t alignment) {
    return (v + alignment - 1) & ~(alignment - 1);
}

// Elements of a tensor, or nullopt when the product does not fit in int64 (dims are >= 0).
inline std::optional<int64_t> element_count(const std::array<int64_t, 4>& ne) {
    int64_t n = 1;
    for (int64_t d : ne)
        if (__builtin_mul_overflow(n, d, &n)) return std::nullopt;
    return n;
}

// Bytes of a tensor of a known type whose ne[0] is a multiple of the block size, or nullopt
// when the element or byte count overflows.
inline std::optional<uint64_t> byte_count(const std::array<int64_t, 4>& ne, const TypeTraits& t) {
    if (!element_count(ne)) return std::nullopt;
    uint64_t bytes = 0;
    if (__builtin_mul_overflow(static_cast<uint64_t>(ne[0] / t.block_size), uint64_t{t.type_size}, &bytes)) {
        return std::nullopt;
    }
    for (int i = 1; i < 4; ++i)
        if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(ne[i]), &bytes)) return std::nullopt;
    return bytes;
}

}  // namespace llmq::gguf::limits
