// Which SIMD kernels the running CPU gets. One binary carries a portable level (SSE4.2 natively,
// SIMD128 in wasm) and, on x86-64, AVX2 and AVX-512 variants of the hot kernels; the level is
// chosen once from CPUID. Every level gives bit-identical results (each kernel keeps the same
// summation order), so the choice only changes speed.
#pragma once

#include <optional>
#include <string_view>

namespace llmq {

enum class SimdLevel { Portable, Avx2, Avx512 };

// The level in use: the best the CPU (and OS) supports, unless lowered by the LLMQ_SIMD
// environment variable (a level name) or set_simd_level.
SimdLevel simd_level();
// The best level this CPU and build support.
SimdLevel simd_level_supported();
// Uses `level`, or the best supported one when `level` is above it (tests, LLMQ_SIMD).
void set_simd_level(SimdLevel level);

std::string_view simd_level_name(SimdLevel level);
// "portable", "sse4.2" (the same), "avx2", "avx512"; nullopt for anything else.
std::optional<SimdLevel> parse_simd_level(std::string_view name);

}  // namespace llmq
