// What Debian's Emscripten 3.1.6 lacks or does slowly, patched so the core compiles unchanged and
// runs fast: C++20 library pieces missing from its libc++ 13, and SSE intrinsics its x86-to-wasm
// headers translate lane by lane. Force-included in the wasm build only; each shim switches itself
// off where the toolchain has the real thing.
#pragma once

#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <version>

// libstdc++ (the native build) makes std::string complete through most other headers; libc++ 13
// does not, so a file that forgot <string> would build natively and fail here.

#if defined(_LIBCPP_VERSION) && !defined(__cpp_lib_bit_cast)
namespace std {
template <class To, class From>
requires(sizeof(To) == sizeof(From) && is_trivially_copyable_v<To> && is_trivially_copyable_v<From>) constexpr To
    bit_cast(const From& from) noexcept {
    return __builtin_bit_cast(To, from);
}
}  // namespace std
#endif

// Floating-point from_chars (libc++ has it from version 17): strtod/strtof in the "C" locale the
// module always runs in, with from_chars' rules on top (no leading space or '+', no hex in the
// general format, the value untouched on error).
#if defined(_LIBCPP_VERSION) && _LIBCPP_VERSION < 14000
namespace llmq_compat {
template <class T, class Parse>
std::from_chars_result parse_real(const char* first, const char* last, T& value, std::chars_format fmt, Parse parse) {
    if (first == last || *first == '+' || *first == ' ' || (*first >= '\t' && *first <= '\r')) return {first, std::errc::invalid_argument};
    std::string text(first, last);
    const size_t sign = text[0] == '-' ? 1 : 0;
    // strtod reads "0x1p3" as hex; from_chars in a non-hex format stops after the "0".
    if (fmt != std::chars_format::hex && text.size() > sign + 1 && text[sign] == '0' && (text[sign + 1] == 'x' || text[sign + 1] == 'X')) {
        text.resize(sign + 1);
    }
    char* end = nullptr;
    errno = 0;
    const T v = parse(text.c_str(), &end);
    const auto used = static_cast<size_t>(end - text.c_str());
    if (used == 0) return {first, std::errc::invalid_argument};
    if (errno == ERANGE) return {first + used, std::errc::result_out_of_range};
    value = v;
    return {first + used, std::errc{}};
}
}  // namespace llmq_compat

namespace std {
inline from_chars_result from_chars(const char* first, const char* last, double& value, chars_format fmt = chars_format::general) {
    return llmq_compat::parse_real(first, last, value, fmt, [](const char* s, char** e) { return std::strtod(s, e); });
}
inline from_chars_result from_chars(const char* first, const char* last, float& value, chars_format fmt = chars_format::general) {
    return llmq_compat::parse_real(first, last, value, fmt, [](const char* s, char** e) { return std::strtof(s, e); });
}
}  // namespace std
#endif

// Emscripten 3.1.6 translates cvttps2dq / cvtps2dq (xsimd's float→int32 conversions) into four
// scalar lrint() calls per vector, and minps/maxps into compare + select. These versions keep the
// x86 results bit for bit (out of range or NaN → INT32_MIN; minps(a, b) = a < b ? a : b) with
// single wasm SIMD instructions where possible.
#if defined(__EMSCRIPTEN__) && defined(__wasm_simd128__) && defined(__SSE2__)
#include <emmintrin.h>
#include <wasm_simd128.h>

static __inline__ __m128i __attribute__((__always_inline__, __nodebug__)) llmq_wasm_int32_or_indefinite(v128_t whole) {
    const v128_t in_range =
        wasm_v128_and(wasm_f32x4_ge(whole, wasm_f32x4_splat(-2147483648.0f)), wasm_f32x4_lt(whole, wasm_f32x4_splat(2147483648.0f)));
    return (__m128i)wasm_v128_bitselect(wasm_i32x4_trunc_sat_f32x4(whole), wasm_i32x4_splat(INT32_MIN), in_range);
}
static __inline__ __m128i __attribute__((__always_inline__, __nodebug__)) llmq_wasm_cvttps_epi32(__m128 a) {
    return llmq_wasm_int32_or_indefinite(wasm_f32x4_trunc((v128_t)a));
}
// SSE rounds to nearest even (the default MXCSR mode, the only one wasm has).
static __inline__ __m128i __attribute__((__always_inline__, __nodebug__)) llmq_wasm_cvtps_epi32(__m128 a) {
    return llmq_wasm_int32_or_indefinite(wasm_f32x4_nearest((v128_t)a));
}
// wasm's pmin(x, y) is y < x ? y : x, so minps(a, b) is pmin(b, a); likewise for max.
static __inline__ __m128 __attribute__((__always_inline__, __nodebug__)) llmq_wasm_min_ps(__m128 a, __m128 b) {
    return (__m128)wasm_f32x4_pmin((v128_t)b, (v128_t)a);
}
static __inline__ __m128 __attribute__((__always_inline__, __nodebug__)) llmq_wasm_max_ps(__m128 a, __m128 b) {
    return (__m128)wasm_f32x4_pmax((v128_t)b, (v128_t)a);
}
#define _mm_cvttps_epi32(a) llmq_wasm_cvttps_epi32(a)
#define _mm_cvtps_epi32(a) llmq_wasm_cvtps_epi32(a)
#define _mm_min_ps(a, b) llmq_wasm_min_ps((a), (b))
#define _mm_max_ps(a, b) llmq_wasm_max_ps((a), (b))
#endif
