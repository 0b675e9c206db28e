// Sequential little-endian reads over a ByteSource through a large window, so a header holding
// hundreds of thousands of strings costs a handful of host reads (a host read may cross into
// JavaScript). Every read is checked against the bytes left in the source first; callers check
// element counts with fits() before they allocate anything a file merely claims.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "llmq/error.hpp"
#include "llmq/io/io.hpp"

namespace llmq::format {

static_assert(std::endian::native == std::endian::little, "the readers assume a little-endian host");

class SourceCursor {
public:
    static constexpr size_t kWindow = size_t{1} << 20;

    // `kind` names the format in messages ("GGUF", "imatrix"); failures carry `code`.
    SourceCursor(const ByteSource& source, std::string kind, ExitCode code = ExitCode::CorruptInput, uint64_t offset = 0)
        : source_(source), name_(source.name()), kind_(std::move(kind)), code_(code), size_(source.size()), pos_(offset) {}

    const std::string& name() const { return name_; }
    uint64_t position() const { return pos_; }
    uint64_t size() const { return size_; }
    uint64_t remaining() const { return pos_ <= size_ ? size_ - pos_ : 0; }
    // True when `count` items of at least `min_bytes` each could still be in the source.
    bool fits(uint64_t count, uint64_t min_bytes) const { return min_bytes == 0 || count <= remaining() / min_bytes; }

    // `what` is only turned into text on failure, so the hot path builds no strings.
    void read(std::span<uint8_t> out, const char* what) {
        need(out.size(), what);
        size_t done = 0;
        while (done < out.size()) {
            if (win_pos_ == window_.size()) {
                // A large read bypasses the window instead of copying through it.
                if (out.size() - done >= kWindow) {
                    source_.read(pos_, out.subspan(done));
                    pos_ += out.size() - done;
                    return;
                }
                refill();
            }
            const size_t n = std::min(out.size() - done, window_.size() - win_pos_);
            std::memcpy(out.data() + done, window_.data() + win_pos_, n);
            win_pos_ += n;
            pos_ += n;
            done += n;
        }
    }

    template <class T>
    T get(const char* what) {
        static_assert(std::is_trivially_copyable_v<T>);
        T v;
        if (window_.size() - win_pos_ >= sizeof(T)) {  // fast path: all bytes already buffered
            std::memcpy(&v, window_.data() + win_pos_, sizeof(T));
            win_pos_ += sizeof(T);
            pos_ += sizeof(T);
            return v;
        }
        std::array<uint8_t, sizeof(T)> bytes;
        read(bytes, what);
        std::memcpy(&v, bytes.data(), sizeof(T));
        return v;
    }

    // Reads `length` bytes as a string; the caller has bounded `length` by remaining().
    std::string get_string(uint64_t length, const char* what) {
        need(length, what);
        std::string s(static_cast<size_t>(length), '\0');
        read(std::span(reinterpret_cast<uint8_t*>(s.data()), s.size()), what);
        return s;
    }

    [[noreturn]] void fail_here(const std::string& problem) const { fail(code_, name_ + ": invalid " + kind_ + ": " + problem); }

    void need(uint64_t bytes, const char* what) const {
        if (bytes > remaining()) {
            fail(code_,
                 name_ + ": truncated " + kind_ + ": " + what + " needs " + std::to_string(bytes) + " bytes at offset " + std::to_string(pos_) +
                     " but the file has only " + std::to_string(remaining()) + " left",
                 "the file is incomplete or damaged; download or write it again");
        }
    }

private:
    void refill() {
        const uint64_t n = std::min<uint64_t>(kWindow, remaining());
        window_.resize(static_cast<size_t>(n));
        source_.read(pos_, window_);
        win_pos_ = 0;
    }

    const ByteSource& source_;
    std::string name_;
    std::string kind_;
    ExitCode code_;
    uint64_t size_;
    uint64_t pos_;
    std::vector<uint8_t> window_;  // bytes [pos_ - win_pos_, pos_ - win_pos_ + window_.size())
    size_t win_pos_ = 0;
};

}  // namespace llmq::format
