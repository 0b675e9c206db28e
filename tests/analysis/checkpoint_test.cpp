#include "llmq/analysis/checkpoint.hpp"

#include <gtest/gtest.h>

#include "llmq/error.hpp"
#include "llmq/io/memory.hpp"

namespace llmq {
namespace {

AnalyzeCheckpoint sample() {
    AnalyzeCheckpoint c;
    c.header = {"models/m.gguf", 12345, "abc123", "feed", 64, 128, "activation", true, 6};
    c.state.lengths = {3, 2};
    c.state.hidden = {1.5f, -2.0f, 3.25f, 0.0f, 1e-30f, -7.0f, 8.0f, 9.0f, 10.0f, 11.0f};
    c.state.next_layer = 2;
    c.imatrix = {1, 2, 3};
    c.super_weights = {};
    c.block_influence = {9, 8};
    return c;
}

std::vector<uint8_t> bytes_of(const AnalyzeCheckpoint& c) {
    MemorySink sink;
    write_checkpoint(sink, c);
    sink.finish();
    return sink.bytes();
}

TEST(Checkpoint, RoundTripsExactly) {
    const AnalyzeCheckpoint c = sample();
    const auto bytes = bytes_of(c);
    const AnalyzeCheckpoint back = read_checkpoint(MemorySource(bytes, "ckpt"));
    EXPECT_EQ(checkpoint_mismatch(back.header, c.header), "");
    EXPECT_EQ(back.state.lengths, c.state.lengths);
    EXPECT_EQ(back.state.hidden, c.state.hidden);
    EXPECT_EQ(back.state.next_layer, 2);
    EXPECT_EQ(back.imatrix, c.imatrix);
    EXPECT_TRUE(back.super_weights.empty());
    EXPECT_EQ(back.block_influence, c.block_influence);
    EXPECT_EQ(bytes_of(back), bytes);
}

TEST(Checkpoint, TruncatedOrForeignFilesAreCorruptInput) {
    const auto bytes = bytes_of(sample());
    for (size_t cut : {size_t{0}, size_t{7}, size_t{20}, bytes.size() / 2, bytes.size() - 1}) {
        std::vector<uint8_t> part(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(cut));
        try {
            read_checkpoint(MemorySource(part, "ckpt"));
            ADD_FAILURE() << "accepted " << cut << " bytes";
        } catch (const Failure& f) {
            EXPECT_EQ(f.error().code, ExitCode::CorruptInput);
            EXPECT_NE(f.error().message.find("ckpt"), std::string::npos);
        }
    }
    auto extra = bytes;
    extra.push_back(0);
    EXPECT_THROW(read_checkpoint(MemorySource(extra, "ckpt")), Failure);
}

TEST(Checkpoint, MismatchNamesEveryDifferingField) {
    const CheckpointHeader a = sample().header;
    CheckpointHeader b = a;
    b.model_path = "./models/../models/m.gguf";  // the same path
    EXPECT_EQ(checkpoint_mismatch(a, b), "");
    b.ctx = 128;
    b.calibration_sha256 = "beef";
    const std::string m = checkpoint_mismatch(a, b);
    EXPECT_NE(m.find("ctx: checkpoint 64, now 128"), std::string::npos) << m;
    EXPECT_NE(m.find("calibration_sha256"), std::string::npos) << m;
    EXPECT_EQ(m.find("samples"), std::string::npos) << m;
}

TEST(Checkpoint, FileNamesSortByLayer) {
    EXPECT_EQ(checkpoint_path("ck", 3), "ck/analyze-layer-0003.ckpt");
    EXPECT_LT(checkpoint_path("ck", 9), checkpoint_path("ck", 10));
}

}  // namespace
}  // namespace llmq
