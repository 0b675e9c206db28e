// The LayerStreamer's step-wise API, on which analyze's checkpoints rest.
#include <gtest/gtest.h>

#include "llmq/error.hpp"
#include "llmq/runtime/streamer.hpp"
#include "runtime/runtime_fixtures.hpp"

namespace llmq {
namespace {

const std::vector<std::vector<int32_t>> kSeqs = {{1, 415, 1032, 77, 9, 300}, {1, 44, 45, 46, 1500, 12, 80, 81}, {1, 600, 601}};

TEST(StreamerSteps, StepsGiveTheLogitsOfRun) {
    const ModelView model = test::open_fixture_model("tinyllama-spm");
    SerialFor serial;
    StreamerOptions small;
    small.batch_tokens = 8;  // several batches per layer
    LayerStreamer streamer(model, serial, small);
    std::vector<float> by_run, by_steps;
    streamer.run(kSeqs, {}, [&](size_t, int64_t, std::span<const float> l) { by_run.insert(by_run.end(), l.begin(), l.end()); });

    StreamState state = streamer.embed(kSeqs);
    EXPECT_EQ(state.n_tokens(), 17);
    EXPECT_EQ(state.hidden.size(), 17u * 256u);
    int batches = 0;
    while (state.next_layer < streamer.config().n_layer) {
        streamer.run_layer(state, nullptr, [&](std::span<const float> before, std::span<const float> after) {
            EXPECT_EQ(before.size(), after.size());
            EXPECT_NE(std::vector<float>(before.begin(), before.end()), std::vector<float>(after.begin(), after.end()));
            ++batches;
        });
    }
    EXPECT_EQ(batches, 6 * 3);  // batches of whole sequences up to 8 tokens: {6}, {8}, {3}
    streamer.run_head(state, {}, [&](size_t, int64_t, std::span<const float> l) { by_steps.insert(by_steps.end(), l.begin(), l.end()); });
    EXPECT_EQ(by_run, by_steps);
}

TEST(StreamerSteps, AStateCopiedAfterALayerContinuesIdentically) {
    const ModelView model = test::open_fixture_model("tinyqwen-bpe");
    SerialFor serial;
    LayerStreamer a(model, serial);
    StreamState full = a.embed(kSeqs);
    StreamState saved;
    while (full.next_layer < a.config().n_layer) {
        a.run_layer(full);
        if (full.next_layer == 2) saved = full;
    }
    LayerStreamer b(model, serial);  // a fresh streamer, as after a restart
    while (saved.next_layer < b.config().n_layer) b.run_layer(saved);
    EXPECT_EQ(saved.hidden, full.hidden);
    EXPECT_THROW(b.run_layer(saved), Failure);  // past the last layer
}

}  // namespace
}  // namespace llmq
