// SHA-256 (FIPS 180-4), for recording which calibration text an analysis used and for cache
// keys. Incremental, so large inputs can be hashed chunk by chunk.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace llmq {

class Sha256 {
public:
    Sha256();
    void update(std::span<const uint8_t> bytes);
    void update(std::string_view text);
    // The digest; the object must not be updated afterwards.
    std::array<uint8_t, 32> finish();
    // finish() as 64 lowercase hex digits.
    std::string hex();

private:
    void block(const uint8_t* p);
    std::array<uint32_t, 8> h_;
    std::array<uint8_t, 64> buffer_{};
    size_t buffered_ = 0;
    uint64_t length_ = 0;  // bytes hashed
};

std::string sha256_hex(std::span<const uint8_t> bytes);

}  // namespace llmq
