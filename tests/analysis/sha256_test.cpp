#include "llmq/io/sha256.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace llmq {
namespace {

std::string hash(const std::string& s) {
    Sha256 h;
    h.update(s);
    return h.hex();
}

TEST(Sha256, KnownVectors) {
    // FIPS 180-4 examples and the empty message.
    EXPECT_EQ(hash(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(hash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    EXPECT_EQ(hash(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, IncrementalUpdatesEqualOneShot) {
    std::vector<uint8_t> data(1000);
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7 + 3);
    const std::string whole = sha256_hex(data);
    for (size_t step : {1u, 3u, 63u, 64u, 65u, 200u}) {
        Sha256 h;
        for (size_t i = 0; i < data.size(); i += step) h.update(std::span<const uint8_t>(data).subspan(i, std::min(step, data.size() - i)));
        EXPECT_EQ(h.hex(), whole) << "step " << step;
    }
    // Lengths around the padding boundary (55, 56, 64 bytes) differ from each other.
    EXPECT_NE(hash(std::string(55, 'x')), hash(std::string(56, 'x')));
    EXPECT_EQ(hash(std::string(64, 'a')), "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

}  // namespace
}  // namespace llmq
