// Layer importance: block influence on vectors with known cosines and on real hidden states
// (independent of the batch split), and the quantization sensitivity of the fixture model
// against an independent computation.
#include "llmq/analysis/layer_importance.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "llmq/error.hpp"
#include "llmq/quant/codec.hpp"
#include "llmq/runtime/streamer.hpp"
#include "runtime/runtime_fixtures.hpp"
#include "thread_pool.hpp"

namespace llmq {
namespace {

TEST(BlockInfluence, KnownCosines) {
    BlockInfluence b(3);
    // layer 0: identical (0), orthogonal (1), opposite (2), 45° (1 − 1/√2) → mean
    const std::vector<float> before{1, 0, 1, 0, 1, 0, 1, 1};
    const std::vector<float> after{3, 0, 0, 2, -1, 0, 1, 0};
    b.add(0, before, after, 2);
    // layer 2: a zero vector against a non-zero one counts as orthogonal, two zeros as equal.
    b.add(2, std::vector<float>{0, 0, 0, 0}, std::vector<float>{1, 1, 0, 0}, 2);
    const auto s = b.scores();
    ASSERT_EQ(s.size(), 3u);
    EXPECT_NEAR(s[0], (0.0 + 1.0 + 2.0 + (1.0 - 1.0 / std::sqrt(2.0))) / 4.0, 1e-12);
    EXPECT_EQ(s[1], 0.0);  // no tokens
    EXPECT_NEAR(s[2], 0.5, 1e-12);
    // Layers beyond the constructor's count grow the table.
    b.add(5, std::vector<float>{1, 0}, std::vector<float>{0, 1}, 2);
    EXPECT_EQ(b.scores().size(), 6u);
    EXPECT_NEAR(b.scores()[5], 1.0, 1e-12);
}

TEST(BlockInfluence, RejectsMismatchedRows) {
    BlockInfluence b(1);
    EXPECT_THROW(b.add(0, std::vector<float>{1, 2, 3}, std::vector<float>{1, 2}, 1), Failure);
    EXPECT_THROW(b.add(0, std::vector<float>{1, 2, 3}, std::vector<float>{1, 2, 3}, 2), Failure);
    EXPECT_THROW(b.add(-1, std::vector<float>{1}, std::vector<float>{1}, 1), Failure);
}

TEST(BlockInfluence, SameScoresForAnyBatchSplit) {
    std::mt19937 rng(3);
    std::normal_distribution<float> normal;
    const int64_t n_embd = 16, n_tokens = 37;
    std::vector<float> before(static_cast<size_t>(n_embd * n_tokens)), after(before.size());
    for (size_t i = 0; i < before.size(); ++i) {
        before[i] = normal(rng);
        after[i] = before[i] + 0.3f * normal(rng);
    }
    BlockInfluence whole(1), split(1);
    whole.add(0, before, after, n_embd);
    int64_t t0 = 0;
    for (int64_t n : {1, 10, 3, 23}) {
        const auto off = static_cast<size_t>(t0 * n_embd), len = static_cast<size_t>(n * n_embd);
        split.add(0, std::span<const float>(before).subspan(off, len), std::span<const float>(after).subspan(off, len), n_embd);
        t0 += n;
    }
    ASSERT_EQ(t0, n_tokens);
    EXPECT_EQ(whole.scores(), split.scores());
    EXPECT_EQ(whole.save(), split.save());
    EXPECT_GT(whole.scores()[0], 0.0);
}

void expect_importance_failure(std::span<const uint8_t> bytes, const std::string& what) {
    try {
        BlockInfluence::restore(bytes);
        ADD_FAILURE() << "accepted " << what;
    } catch (const Failure& f) {
        EXPECT_EQ(f.error().code, ExitCode::Importance) << what;
    }
}

TEST(BlockInfluence, StateRoundTripsAndRejectsMalformedBlobs) {
    BlockInfluence b(2);
    b.add(1, std::vector<float>{1, 0, 0, 1}, std::vector<float>{1, 1, 0, 1}, 2);
    const auto blob = b.save();
    EXPECT_EQ(blob.size(), 16u + 2 * 16);
    const BlockInfluence back = BlockInfluence::restore(blob);
    EXPECT_EQ(back.scores(), b.scores());
    EXPECT_EQ(back.save(), blob);
    for (size_t cut : {size_t{0}, size_t{4}, size_t{15}, blob.size() - 1}) {
        expect_importance_failure(std::span<const uint8_t>(blob).first(cut), "a cut blob");
    }
    auto extra = blob;
    extra.push_back(1);
    expect_importance_failure(extra, "a trailing byte");
    auto magic = blob;
    magic[1] = 'X';
    expect_importance_failure(magic, "a wrong magic");
    auto count = blob;
    count[16 + 16 + 8 + 7] = 0x80;  // layer 1's count negative
    expect_importance_failure(count, "a negative count");
    auto sum = blob;
    const double too_big = 1e9;
    std::memcpy(&sum[16 + 16], &too_big, 8);  // above 2 per token
    expect_importance_failure(sum, "a sum above 2 per token");
}

// Real hidden states: the streamer's per-batch before/after rows give the same influence
// whatever the batch size, every layer changes its input (score > 0) and none reverses it.
std::vector<double> fixture_influence(int64_t batch_tokens, ParallelFor& parallel) {
    const ModelView model = test::open_fixture_model("tinyllama-spm");
    StreamerOptions options;
    options.batch_tokens = batch_tokens;
    LayerStreamer streamer(model, parallel, options);
    std::vector<std::vector<int32_t>> seqs;
    for (const auto& p : test::reference_outputs()["tinyllama-spm"]["prompts"]) seqs.push_back(p["ids"].get<std::vector<int32_t>>());
    BlockInfluence bi(streamer.config().n_layer);
    StreamState state = streamer.embed(seqs);
    while (state.next_layer < streamer.config().n_layer) {
        const int64_t layer = state.next_layer;
        streamer.run_layer(state, nullptr, [&](std::span<const float> before, std::span<const float> after) {
            bi.add(layer, before, after, streamer.config().n_embd);
        });
    }
    return bi.scores();
}

TEST(BlockInfluence, FixtureScoresIndependentOfBatching) {
    native::ThreadPool pool(2);
    SerialFor serial;
    const auto a = fixture_influence(4096, pool);
    const auto b = fixture_influence(1, serial);  // one sequence per batch
    EXPECT_EQ(a, b);
    ASSERT_EQ(a.size(), 6u);
    for (size_t l = 0; l < a.size(); ++l) {
        std::printf("[ block influence ] layer %zu: %.5f\n", l, a[l]);
        EXPECT_GT(a[l], 0.0);
        EXPECT_LT(a[l], 1.0);
    }
}

// ---- quantization sensitivity ----------------------------------------------------------------

ImatrixData synthetic_imatrix(const ModelView& model) {
    ImatrixData im;
    for (const ModelTensor& t : model.tensors) {
        if (!t.name.starts_with("blk.") || t.n_dims != 2) continue;
        auto& v = im.entries[t.name];
        for (int64_t j = 0; j < t.ne[0]; ++j) v.push_back(0.25f + static_cast<float>((j * 37) % 11));
    }
    return im;
}

// The same figure computed tensor by tensor with the codecs, for one layer.
double independent_sensitivity(const ModelView& model, const ImatrixData& im, int64_t layer) {
    double error = 0, energy = 0;
    const std::string prefix = "blk." + std::to_string(layer) + ".";
    for (const ModelTensor& t : model.tensors) {
        if (!t.name.starts_with(prefix) || t.n_dims != 2) continue;
        const auto& imp = im.entries.at(t.name);
        const int64_t n = t.ne[0];
        EXPECT_EQ(n % 256, 0);  // the fixture's rows all take the Q4_K probe
        std::vector<uint8_t> raw(t.nbytes());
        t.read_rows(0, t.n_rows(), raw);
        std::vector<float> w(static_cast<size_t>(t.n_elements())), back(w.size());
        dequantize(t.type, raw, w);
        std::vector<uint8_t> q(row_size(GgmlType::Q4_K, n) * static_cast<size_t>(t.n_rows()));
        quantize_rows(GgmlType::Q4_K, w, q, n, imp);
        dequantize(GgmlType::Q4_K, q, back);
        for (size_t i = 0; i < w.size(); ++i) {
            const double d = static_cast<double>(w[i]) - back[i];
            error += imp[i % static_cast<size_t>(n)] * d * d;
            energy += imp[i % static_cast<size_t>(n)] * static_cast<double>(w[i]) * w[i];
        }
    }
    return error / energy;
}

TEST(QuantizationSensitivity, MatchesAnIndependentComputation) {
    const ModelView model = test::open_fixture_model("tinyllama-spm");
    const ImatrixData im = synthetic_imatrix(model);
    native::ThreadPool pool(2);
    SerialFor serial;
    const auto s = quantization_sensitivity(model, im, pool);
    ASSERT_EQ(s.size(), 6u);
    EXPECT_EQ(s, quantization_sensitivity(model, im, serial));  // thread count does not matter
    for (size_t l = 0; l < s.size(); ++l) {
        std::printf("[ sensitivity ] layer %zu: %.6f\n", l, s[l]);
        EXPECT_TRUE(std::isfinite(s[l]));
        EXPECT_GT(s[l], 0.0);
        EXPECT_LT(s[l], 0.1);  // 4-bit keeps most of the weight energy
    }
    EXPECT_NEAR(s[2], independent_sensitivity(model, im, 2), 1e-9 * s[2]);
    // Layers without imatrix entries contribute nothing.
    ImatrixData only_layer3;
    for (const auto& [name, v] : im.entries) {
        if (name.starts_with("blk.3.")) only_layer3.entries[name] = v;
    }
    const auto t = quantization_sensitivity(model, only_layer3, serial);
    ASSERT_EQ(t.size(), 6u);
    for (size_t l = 0; l < t.size(); ++l) EXPECT_EQ(t[l], l == 3 ? s[3] : 0.0) << l;
}

TEST(QuantizationSensitivity, RejectsAnImatrixOfTheWrongWidth) {
    const ModelView model = test::open_fixture_model("tinyllama-spm");
    ImatrixData im;
    im.entries["blk.0.attn_q.weight"] = std::vector<float>(100, 1.0f);
    SerialFor serial;
    try {
        quantization_sensitivity(model, im, serial);
        ADD_FAILURE() << "accepted a 100-wide entry";
    } catch (const Failure& f) {
        EXPECT_EQ(f.error().code, ExitCode::Imatrix);
        EXPECT_NE(std::string(f.what()).find("blk.0.attn_q.weight"), std::string::npos);
    }
}

}  // namespace
}  // namespace llmq
