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

// The one place a kernel's variant is chosen: LLMQ_AT_LEVEL(portable, avx2[, avx512]) evaluates the
// expression of the level in use (an AVX-512 CPU without an avx512 variant gets avx2). Builds
// without the x86 variants (wasm) see only the portable expression, so the others may name
// functions that exist only in x86 builds.
#if defined(LLMQ_X86_DISPATCH)
#define LLMQ_AT_LEVEL_2(portable, avx2) (::llmq::simd_level() == ::llmq::SimdLevel::Portable ? (portable) : (avx2))
#define LLMQ_AT_LEVEL_3(portable, avx2, avx512) \
    (::llmq::simd_level() == ::llmq::SimdLevel::Avx512 ? (avx512) : ::llmq::simd_level() == ::llmq::SimdLevel::Avx2 ? (avx2) : (portable))
#else
#define LLMQ_AT_LEVEL_2(portable, avx2) (portable)
#define LLMQ_AT_LEVEL_3(portable, avx2, avx512) (portable)
#endif
#define LLMQ_AT_LEVEL_PICK(_1, _2, _3, name, ...) name
#define LLMQ_AT_LEVEL(...) LLMQ_AT_LEVEL_PICK(__VA_ARGS__, LLMQ_AT_LEVEL_3, LLMQ_AT_LEVEL_2, unused)(__VA_ARGS__)
