// Scalar conversions shared by every codec, bit-exact with ggml (reference/ggml-formats.md §1.6).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

#include "util/isa.hpp"

namespace llmq::quant {
inline namespace LLMQ_ISA_INLINE {

inline float fp16_to_fp32(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1Fu;
    uint32_t mant = h & 0x3FFu;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else {  // subnormal: normalise
            int e = -1;
            do {
                mant <<= 1;
                ++e;
            } while ((mant & 0x400u) == 0);
            bits = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | ((mant & 0x3FFu) << 13);
        }
    } else if (exp == 0x1F) {
        bits = sign | 0x7F800000u | (mant << 13);
    } else {
        bits = sign | ((exp + (127 - 15)) << 23) | (mant << 13);
    }
    return std::bit_cast<float>(bits);
}

// IEEE round-to-nearest-even with subnormals, overflow to inf, NaN kept as a quiet NaN.
inline uint16_t fp32_to_fp16(float f) {
    const uint32_t x = std::bit_cast<uint32_t>(f);
    const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
    const uint32_t abs = x & 0x7FFFFFFFu;
    if (abs > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00u);   // NaN
    if (abs >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // rounds to inf
    if (abs < 0x38800000u) {                                               // subnormal or zero in fp16
        // value * 2^24 rounded to nearest even gives the subnormal mantissa.
        const float scaled = std::bit_cast<float>(abs) * 16777216.0f;  // exact: power of two
        // round half to even via the 1.5*2^23 trick (scaled < 1024)
        const float r = (scaled + 12582912.0f) - 12582912.0f;
        return static_cast<uint16_t>(sign | static_cast<uint16_t>(r));
    }
    // normal: rebias exponent, round mantissa from 23 to 10 bits (nearest even)
    uint32_t m = abs - ((127u - 15u) << 23);
    const uint32_t round_bit = 1u << 12;
    const uint32_t sticky = m & (round_bit - 1);
    uint32_t h = m >> 13;
    if ((m & round_bit) && (sticky || (h & 1u))) ++h;
    return static_cast<uint16_t>(sign | h);
}

inline float bf16_to_fp32(uint16_t h) {
    return std::bit_cast<float>(static_cast<uint32_t>(h) << 16);
}

inline uint16_t fp32_to_bf16(float f) {
    uint32_t x = std::bit_cast<uint32_t>(f);
    if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((x >> 16) | 64u);  // quiet NaN
    x += 0x7FFFu + ((x >> 16) & 1u);
    return static_cast<uint16_t>(x >> 16);
}

// ggml's nearest_int: round half to even through the 1.5*2^23 trick; valid for |f| <= 4194303.
inline int nearest_int(float f) {
    const float val = f + 12582912.0f;
    const int32_t i = std::bit_cast<int32_t>(val);
    return (i & 0x007FFFFF) - 0x00400000;
}

inline uint16_t load_u16(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}
inline void store_u16(uint8_t* p, uint16_t v) {
    std::memcpy(p, &v, 2);
}
inline uint32_t load_u32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
inline void store_u32(uint8_t* p, uint32_t v) {
    std::memcpy(p, &v, 4);
}

}  // namespace LLMQ_ISA_INLINE
}  // namespace llmq::quant
