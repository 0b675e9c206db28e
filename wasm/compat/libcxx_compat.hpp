// C++20 library pieces that the libc++ of Debian's Emscripten 3.1.6 (libc++ 13) lacks, supplied
// from compiler builtins so the core compiles unchanged. Force-included in the wasm build only;
// each shim switches itself off where the library has the real thing.
#pragma once

#include <type_traits>
#include <version>

#if defined(_LIBCPP_VERSION) && !defined(__cpp_lib_bit_cast)
namespace std {
template <class To, class From>
    requires(sizeof(To) == sizeof(From) && is_trivially_copyable_v<To> && is_trivially_copyable_v<From>)
constexpr To bit_cast(const From& from) noexcept {
    return __builtin_bit_cast(To, from);
}
}  // namespace std
#endif
