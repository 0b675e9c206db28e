#include "llmq/analysis/imatrix_accumulator.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <thread>

#include "llmq/error.hpp"
#include "llmq/io/memory.hpp"
#include "llmq/runtime/streamer.hpp"
#include "runtime/runtime_fixtures.hpp"

namespace llmq {
namespace {

std::vector<std::vector<int32_t>> sample_sequences() {
    return {{1, 415, 1032, 77, 9, 300, 1200, 5, 64, 18, 2000, 33, 7, 91, 150, 600},
            {1, 44, 45, 46, 1500, 12, 80, 81, 82, 83, 84, 700, 701, 3, 4, 1999}};
}

ImatrixAccumulator accumulate(const ModelView& model, ParallelFor& parallel) {
    ImatrixAccumulator acc;
    LayerStreamer streamer(model, parallel);
    StreamState state = streamer.embed(sample_sequences());
    while (state.next_layer < streamer.config().n_layer) streamer.run_layer(state, &acc);
    return acc;
}

float bf16_to_float(const uint8_t* p) {
    const uint32_t bits = (uint32_t{p[0]} | (uint32_t{p[1]} << 8)) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

TEST(ImatrixAccumulator, FirstLayerInputMatchesAHandComputation) {
    const ModelView model = test::open_fixture_model("tinyllama-spm");
    SerialFor serial;
    const ImatrixAccumulator acc = accumulate(model, serial);

    // blk.0.attn_q sees RMSNorm(embedding) * attn_norm: recompute it from the GGUF bytes.
    const ModelTensor* embd = model.find_tensor("token_embd.weight");
    const ModelTensor* norm = model.find_tensor("blk.0.attn_norm.weight");
    ASSERT_TRUE(embd && norm);
    ASSERT_EQ(embd->type, GgmlType::BF16);
    ASSERT_EQ(norm->type, GgmlType::F32);
    const int64_t E = embd->ne[0];
    std::vector<float> w(static_cast<size_t>(E));
    norm->read_rows(0, 1, std::span<uint8_t>(reinterpret_cast<uint8_t*>(w.data()), w.size() * 4));
    const double eps = model.find("llama.attention.layer_norm_rms_epsilon")->as_float().value();
    std::vector<double> expect(static_cast<size_t>(E), 0.0);
    int64_t count = 0;
    std::vector<uint8_t> row(static_cast<size_t>(E * 2));
    for (const auto& seq : sample_sequences()) {
        for (int32_t id : seq) {
            embd->read_rows(id, 1, row);
            double ss = 0.0;
            for (int64_t j = 0; j < E; ++j) ss += std::pow(bf16_to_float(&row[static_cast<size_t>(2 * j)]), 2.0);
            const double scale = 1.0 / std::sqrt(ss / static_cast<double>(E) + eps);
            for (int64_t j = 0; j < E; ++j) {
                const double y = bf16_to_float(&row[static_cast<size_t>(2 * j)]) * scale * w[static_cast<size_t>(j)];
                expect[static_cast<size_t>(j)] += y * y;
            }
            ++count;
        }
    }
    const auto& e = acc.entries().at("blk.0.attn_q.weight");
    EXPECT_EQ(e.count, count);
    ASSERT_EQ(e.sums.size(), expect.size());
    for (size_t j = 0; j < expect.size(); ++j) EXPECT_NEAR(e.sums[j] / count, expect[j] / count, 1e-5 * expect[j] / count + 1e-9) << j;
    // Q, K and V share their input.
    EXPECT_EQ(acc.entries().at("blk.0.attn_k.weight").sums, e.sums);
    EXPECT_EQ(acc.entries().at("blk.0.attn_v.weight").sums, e.sums);
}

TEST(ImatrixAccumulator, EveryBlockMatrixButNotTheOutput) {
    const ModelView model = test::open_fixture_model("tinyllama-spm");
    SerialFor serial;
    const ImatrixAccumulator acc = accumulate(model, serial);
    EXPECT_EQ(acc.entries().size(), 6u * 7u);
    EXPECT_FALSE(acc.entries().count("output.weight"));
    for (const char* w : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"}) {
        const auto& e = acc.entries().at("blk.5." + std::string(w) + ".weight");
        EXPECT_EQ(e.count, 32);
        EXPECT_EQ(static_cast<int64_t>(e.sums.size()), std::string(w) == "ffn_down" ? 768 : 256) << w;
    }
    // Feeding rows directly: a non-block weight is ignored, counts add up.
    ImatrixAccumulator direct;
    const std::vector<float> x = {1, 2, 3, -1, 0, 2};
    direct.on_matmul({"output.weight", -1, 3, 4, 2, x});
    direct.on_matmul({"blk.0.ffn_up.weight", 0, 3, 4, 2, x});
    direct.on_matmul({"blk.0.ffn_up.weight", 0, 3, 4, 1, std::span<const float>(x).first(3)});
    ASSERT_EQ(direct.entries().size(), 1u);
    const auto& e = direct.entries().at("blk.0.ffn_up.weight");
    EXPECT_EQ(e.count, 3);
    EXPECT_EQ(e.sums, (std::vector<double>{3, 8, 22}));
    EXPECT_EQ(direct.data().entries.at("blk.0.ffn_up.weight"), (std::vector<float>{1.0f, 8.0f / 3.0f, 22.0f / 3.0f}));
}

TEST(ImatrixAccumulator, SameSumsForAnyThreadCount) {
    const ModelView model = test::open_fixture_model("tinyqwen-bpe");
    SerialFor serial;
    const ImatrixAccumulator a = accumulate(model, serial);
    struct Two final : ParallelFor {
        unsigned threads() const override { return 2; }
        void run(int64_t n, const std::function<void(int64_t)>& fn) override {
            std::thread t([&] {
                for (int64_t i = 1; i < n; i += 2) fn(i);
            });
            for (int64_t i = 0; i < n; i += 2) fn(i);
            t.join();
        }
    } two;
    const ImatrixAccumulator b = accumulate(model, two);
    EXPECT_EQ(a.save(), b.save());
}

TEST(ImatrixAccumulator, SaveRestoreAndTheWrittenFilesRoundTrip) {
    const ModelView model = test::open_fixture_model("tinyllama-spm");
    SerialFor serial;
    const ImatrixAccumulator acc = accumulate(model, serial);
    const auto bytes = acc.save();
    const ImatrixAccumulator back = ImatrixAccumulator::restore(bytes);
    EXPECT_EQ(back.save(), bytes);
    auto cut = bytes;
    cut.resize(cut.size() - 3);
    EXPECT_THROW(ImatrixAccumulator::restore(cut), Failure);

    for (const bool dat : {false, true}) {
        MemorySink sink;
        const ImatrixSums sums = acc.sums({"calib.txt"}, 2, 16);
        dat ? write_imatrix_dat(sink, sums) : write_imatrix_gguf(sink, sums);
        sink.finish();
        const ImatrixData read = read_imatrix(MemorySource(sink.bytes()));
        EXPECT_EQ(read.format, dat ? "dat" : "gguf");
        EXPECT_EQ(read.datasets, std::vector<std::string>{"calib.txt"});
        EXPECT_EQ(read.chunk_count, 2u);
        const ImatrixData mine = acc.data();
        ASSERT_EQ(read.entries.size(), mine.entries.size());
        for (const auto& [name, values] : mine.entries) {
            const auto& got = read.entries.at(name);
            ASSERT_EQ(got.size(), values.size());
            for (size_t j = 0; j < values.size(); ++j) EXPECT_NEAR(got[j], values[j], 1e-6f * std::abs(values[j])) << name;
        }
    }
}

}  // namespace
}  // namespace llmq
