#include "util/simd_level.hpp"

#include <atomic>
#include <cstdlib>

#if defined(LLMQ_X86_DISPATCH)
#include <cpuid.h>
#endif

namespace llmq {
namespace {

#if defined(LLMQ_X86_DISPATCH)
// F16C from CPUID leaf 1 (ECX bit 29): Clang's __builtin_cpu_supports does not know "f16c". Its
// registers are the AVX ones, whose OS support the "avx2" check below includes.
bool has_f16c() {
    unsigned a = 0, b = 0, c = 0, d = 0;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) != 0;
}
#endif

SimdLevel detect() {
#if defined(LLMQ_X86_DISPATCH)
    // libgcc's CPUID check includes the OS's XSAVE state (XGETBV), so a level is only reported
    // when its registers are saved across context switches.
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx2") && has_f16c())
        return SimdLevel::Avx512;
    if (__builtin_cpu_supports("avx2") && has_f16c()) return SimdLevel::Avx2;
#endif
    return SimdLevel::Portable;
}

// LLMQ_SIMD=sse4.2|avx2|avx512 caps the level (tests and benchmarks of the other levels, or a
// way around a CPU that misreports what it has); anything else is ignored.
SimdLevel initial() {
    const SimdLevel best = detect();
    const char* env = std::getenv("LLMQ_SIMD");
    const std::optional<SimdLevel> wanted = env ? parse_simd_level(env) : std::nullopt;
    return wanted && static_cast<int>(*wanted) < static_cast<int>(best) ? *wanted : best;
}

std::atomic<int>& chosen() {
    static std::atomic<int> level{static_cast<int>(initial())};
    return level;
}

}  // namespace

SimdLevel simd_level_supported() {
    static const SimdLevel best = detect();
    return best;
}

SimdLevel simd_level() {
    return static_cast<SimdLevel>(chosen().load(std::memory_order_relaxed));
}

void set_simd_level(SimdLevel level) {
    const SimdLevel best = simd_level_supported();
    chosen().store(static_cast<int>(static_cast<int>(level) > static_cast<int>(best) ? best : level), std::memory_order_relaxed);
}

std::string_view simd_level_name(SimdLevel level) {
    switch (level) {
        case SimdLevel::Avx512:
            return "avx512";
        case SimdLevel::Avx2:
            return "avx2";
        case SimdLevel::Portable:
            break;
    }
#if defined(__EMSCRIPTEN__)
    return "simd128";
#elif defined(__x86_64__)
    return "sse4.2";
#else
    return "portable";
#endif
}

std::optional<SimdLevel> parse_simd_level(std::string_view name) {
    if (name == "portable" || name == "sse4.2" || name == "sse42" || name == "simd128") return SimdLevel::Portable;
    if (name == "avx2") return SimdLevel::Avx2;
    if (name == "avx512") return SimdLevel::Avx512;
    return std::nullopt;
}

}  // namespace llmq
