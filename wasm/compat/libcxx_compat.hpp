// C++20 library pieces that the libc++ of Debian's Emscripten 3.1.6 (libc++ 13) lacks, supplied
// from compiler builtins and the C library so the core compiles unchanged. Force-included in the
// wasm build only; each shim switches itself off where the library has the real thing.
#pragma once

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <version>

// libstdc++ (the native build) makes std::string complete through most other headers; libc++ 13
// does not, so a file that forgot <string> would build natively and fail here.

#if defined(_LIBCPP_VERSION) && !defined(__cpp_lib_bit_cast)
namespace std {
template <class To, class From>
    requires(sizeof(To) == sizeof(From) && is_trivially_copyable_v<To> && is_trivially_copyable_v<From>)
constexpr To bit_cast(const From& from) noexcept {
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
