// Compact little-endian state blobs of the analysis observers (checkpoint payloads): a writer
// appending plain values and a reader that fails with Failure(Importance) on any short read.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "llmq/error.hpp"

namespace llmq::analysis_blob {

// Both targets (x86-64, wasm32) are little-endian, so values are copied as they are in memory.
static_assert(std::endian::native == std::endian::little, "state blobs assume a little-endian host");

class Writer {
public:
    template <typename T>
    void value(T v) {
        static_assert(std::is_trivially_copyable_v<T>);
        const auto* p = reinterpret_cast<const uint8_t*>(&v);
        bytes_.insert(bytes_.end(), p, p + sizeof v);
    }
    template <typename T>
    void values(std::span<const T> v) {
        const auto* p = reinterpret_cast<const uint8_t*>(v.data());
        bytes_.insert(bytes_.end(), p, p + v.size_bytes());
    }
    void text(const std::string& s) {
        value<uint32_t>(static_cast<uint32_t>(s.size()));
        bytes_.insert(bytes_.end(), s.begin(), s.end());
    }
    std::vector<uint8_t> take() { return std::move(bytes_); }

private:
    std::vector<uint8_t> bytes_;
};

class Reader {
public:
    Reader(std::span<const uint8_t> bytes, std::string what) : bytes_(bytes), what_(std::move(what)) {}

    [[noreturn]] void bad(const std::string& problem) const {
        fail(ExitCode::Importance, what_ + " state is malformed: " + problem, "delete the checkpoint and run the analysis again");
    }
    template <typename T>
    T value() {
        T v{};
        take(&v, sizeof v);
        return v;
    }
    template <typename T>
    void values(std::span<T> out) {
        take(out.data(), out.size_bytes());
    }
    std::string text(uint32_t max_length) {
        const uint32_t n = value<uint32_t>();
        if (n > max_length) bad("a name of " + std::to_string(n) + " bytes");
        std::string s(n, '\0');
        take(s.data(), n);
        return s;
    }
    size_t remaining() const { return bytes_.size() - pos_; }
    void expect_end() const {
        if (remaining() != 0) bad(std::to_string(remaining()) + " trailing bytes");
    }

private:
    void take(void* out, size_t n) {
        if (n > remaining()) bad("truncated (" + std::to_string(bytes_.size()) + " bytes)");
        std::memcpy(out, bytes_.data() + pos_, n);
        pos_ += n;
    }

    std::span<const uint8_t> bytes_;
    size_t pos_ = 0;
    std::string what_;
};

}  // namespace llmq::analysis_blob
