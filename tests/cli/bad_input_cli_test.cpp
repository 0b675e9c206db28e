// Hostile GGUF headers through the whole CLI: one-line error naming the file, exit code 8,
// nothing at the output path (the reader-level cases are in tests/format/gguf_reader_test.cpp).
#include <gtest/gtest.h>

#include "format/gguf_bytes.hpp"
#include "support/run_cli.hpp"

namespace llmq {
namespace {

namespace fs = std::filesystem;
using gguf::ValueType;
using test::GgufBytes;

void expect_corrupt(const std::string& name, const std::vector<uint8_t>& bytes, const std::string& needle) {
    const auto dir = test::temp_dir("bad-" + name);
    const auto in = dir / (name + ".gguf");
    const auto out = dir / "out.gguf";
    test::write_file(in, bytes);
    const auto r = test::run_llmq({"quantize", in.string(), "-q", "Q4_K_M", "-o", out.string()});
    EXPECT_EQ(r.exit_code, 8) << name << ": " << r.err;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(in.string()), std::string::npos) << "message must name the file: " << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << name << ": " << r.err;
    const auto lines = std::count(r.err.begin(), r.err.end(), '\n');
    EXPECT_TRUE(lines == 1 || (lines == 2 && r.err.find("\nhint: ") != std::string::npos)) << "one error line (plus an optional hint): " << r.err;
    EXPECT_FALSE(fs::exists(out));
    EXPECT_FALSE(fs::exists(out.string() + ".part"));
}

GgufBytes with_arch(uint64_t n_tensors, uint64_t n_kv) {
    auto b = GgufBytes::header(n_tensors, n_kv);
    b.kv_str("general.architecture", "llama");
    return b;
}

TEST(CliBadInput, TensorClaiming2To60Elements) {
    auto b = with_arch(1, 1);
    b.tensor("w", {1ull << 30, 1ull << 30}, 0 /*f32*/, 0).data(32, 64);
    expect_corrupt("huge", b.bytes, "w");
}

TEST(CliBadInput, UnknownTypeId) {
    auto b = with_arch(1, 1);
    b.tensor("w", {32, 1}, 99, 0).data(32, 128);
    expect_corrupt("type99", b.bytes, "99");
}

TEST(CliBadInput, DuplicateKeys) {
    auto b = GgufBytes::header(0, 2);
    b.kv_str("general.architecture", "llama").kv_str("general.architecture", "qwen2");
    expect_corrupt("dupkey", b.bytes, "general.architecture");
}

TEST(CliBadInput, NestedArrays) {
    auto b = with_arch(0, 2);
    b.str("x.nested").type(ValueType::ARRAY).type(ValueType::ARRAY).u64(1);
    b.type(ValueType::UINT8).u64(1).u8(1);
    expect_corrupt("nested", b.bytes, "x.nested");
}

TEST(CliBadInput, OverlappingOffsets) {
    auto inside = with_arch(2, 1);  // a holds 256 bytes; b starts inside it
    inside.tensor("a", {64, 1}, 0, 0).tensor("b", {64, 1}, 0, 128).data(32, 512);
    expect_corrupt("inside", inside.bytes, "offset");
    auto same = with_arch(2, 1);  // both at 0
    same.tensor("a", {64, 1}, 0, 0).tensor("b", {64, 1}, 0, 0).data(32, 512);
    expect_corrupt("overlap", same.bytes, "offset");
}

TEST(CliBadInput, DataPastTheEnd) {
    auto b = with_arch(1, 1);
    b.tensor("w", {64, 4}, 0, 0).data(32, 100);  // needs 1024 bytes
    expect_corrupt("pastend", b.bytes, "w");
}

}  // namespace
}  // namespace llmq
