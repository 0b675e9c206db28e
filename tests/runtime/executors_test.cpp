// The two executors compute the same numbers: the layer streamer (any batching, many sequences
// at once) and the resident executor (whole prompt or token by token through the KV cache), for
// any thread count. And the matmul observer sees every weight of every layer with its input.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "llmq/error.hpp"
#include "llmq/runtime/resident.hpp"
#include "llmq/runtime/streamer.hpp"
#include "llmq/runtime/weights.hpp"
#include "runtime/runtime_fixtures.hpp"
#include "thread_pool.hpp"

namespace llmq {
namespace {

std::vector<std::vector<int32_t>> prompt_ids(const std::string& model) {
    std::vector<std::vector<int32_t>> out;
    for (const auto& p : test::reference_outputs()[model]["prompts"]) out.push_back(p["ids"].get<std::vector<int32_t>>());
    return out;
}

// Logits of every position of every sequence, from the streamer.
std::vector<std::vector<float>> stream_all(const ModelView& model, ParallelFor& par, const std::vector<std::vector<int32_t>>& seqs,
                                           StreamerOptions options = {}, MatmulObserver* observer = nullptr) {
    LayerStreamer streamer(model, par, options);
    std::vector<std::vector<float>> out(seqs.size());
    streamer.run(
        seqs, {},
        [&](size_t s, int64_t pos, std::span<const float> logits) {
            EXPECT_EQ(static_cast<int64_t>(out[s].size()), pos * streamer.config().n_vocab) << "logits out of order";
            out[s].insert(out[s].end(), logits.begin(), logits.end());
        },
        observer);
    return out;
}

class ExecutorsTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ExecutorsTest, StreamerAndResidentGiveIdenticalLogits) {
    const ModelView model = test::open_fixture_model(GetParam());
    native::ThreadPool pool(2);
    const auto seqs = prompt_ids(GetParam());
    const auto streamed = stream_all(model, pool, seqs);
    const ResidentModel resident(model, pool);
    for (size_t i = 0; i < seqs.size(); ++i) {
        Session whole(resident, 64);
        EXPECT_EQ(whole.eval(seqs[i], /*all_logits=*/true), streamed[i]) << "prompt " << i;
        // Token by token through the KV cache.
        Session stepwise(resident, 64);
        std::vector<float> steps;
        for (int32_t t : seqs[i]) {
            const auto l = stepwise.eval(std::span<const int32_t>(&t, 1));
            steps.insert(steps.end(), l.begin(), l.end());
        }
        EXPECT_EQ(steps, streamed[i]) << "prompt " << i;
    }
}

TEST_P(ExecutorsTest, ResultsDoNotDependOnThreadsOrBatching) {
    const ModelView model = test::open_fixture_model(GetParam());
    const auto seqs = prompt_ids(GetParam());
    SerialFor serial;
    const auto reference = stream_all(model, serial, seqs);
    native::ThreadPool three(3);
    EXPECT_EQ(stream_all(model, three, seqs), reference);
    StreamerOptions tiny;
    tiny.batch_tokens = 1;         // one sequence per pass
    tiny.read_chunk_bytes = 1000;  // many small reads per matrix
    tiny.logits_bytes = 1;         // one row of logits at a time
    EXPECT_EQ(stream_all(model, three, seqs, tiny), reference);
    // A sequence's logits do not depend on the others in its batch.
    EXPECT_EQ(stream_all(model, three, {seqs[2]})[0], reference[2]);
}

// Records what every matmul saw.
class RecordingObserver final : public MatmulObserver {
public:
    struct Seen {
        int64_t layer = 0, n_in = 0, n_out = 0, tokens = 0, calls = 0;
        std::vector<float> first_row;
    };
    std::map<std::string, Seen> seen;
    void on_matmul(const MatmulInput& in) override {
        EXPECT_EQ(in.x.size(), static_cast<size_t>(in.n_tokens * in.n_in)) << in.weight;
        Seen& s = seen[std::string(in.weight)];
        if (s.calls == 0) s.first_row.assign(in.x.begin(), in.x.begin() + in.n_in);
        EXPECT_TRUE(s.calls == 0 || (s.n_in == in.n_in && s.n_out == in.n_out && s.layer == in.layer)) << in.weight;
        s.layer = in.layer;
        s.n_in = in.n_in;
        s.n_out = in.n_out;
        s.tokens += in.n_tokens;
        ++s.calls;
    }
};

TEST_P(ExecutorsTest, ObserverSeesEveryMatmulWithItsInput) {
    const ModelView model = test::open_fixture_model(GetParam());
    native::ThreadPool pool(2);
    const auto seqs = prompt_ids(GetParam());
    int64_t n_tokens = 0;
    for (const auto& s : seqs) n_tokens += static_cast<int64_t>(s.size());
    RecordingObserver observer;
    StreamerOptions options;
    options.batch_tokens = 12;  // several passes per layer: the calls add up
    stream_all(model, pool, seqs, options, &observer);

    const ModelConfig c = model_config(model);
    size_t expected_weights = 0;
    for (int64_t l = 0; l < c.n_layer; ++l) {
        for (const char* what : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"}) {
            const std::string name = layer_tensor_name(l, what);
            ++expected_weights;
            ASSERT_TRUE(observer.seen.count(name)) << name;
            const auto& s = observer.seen.at(name);
            const ModelTensor* t = model.find_tensor(name);
            EXPECT_EQ(s.n_in, t->ne[0]) << name;
            EXPECT_EQ(s.n_out, t->ne[1]) << name;
            EXPECT_EQ(s.layer, l) << name;
            EXPECT_EQ(s.tokens, n_tokens) << name;
            EXPECT_GT(s.calls, 1) << name;
        }
        // Q, K and V share their input.
        EXPECT_EQ(observer.seen.at(layer_tensor_name(l, "attn_q")).first_row, observer.seen.at(layer_tensor_name(l, "attn_k")).first_row);
        EXPECT_EQ(observer.seen.at(layer_tensor_name(l, "attn_q")).first_row, observer.seen.at(layer_tensor_name(l, "attn_v")).first_row);
        EXPECT_EQ(observer.seen.at(layer_tensor_name(l, "ffn_gate")).first_row, observer.seen.at(layer_tensor_name(l, "ffn_up")).first_row);
    }
    const std::string output = c.tied_output ? "token_embd.weight" : "output.weight";
    ASSERT_TRUE(observer.seen.count(output));
    EXPECT_EQ(observer.seen.at(output).layer, -1);
    EXPECT_EQ(observer.seen.at(output).n_out, c.n_vocab);
    EXPECT_EQ(observer.seen.at(output).tokens, n_tokens);  // logits of every position were asked for
    EXPECT_EQ(observer.seen.size(), expected_weights + 1);

    // The first input of blk.0.attn_q is RMSNorm(embedding of the first token) · attn_norm.
    const Matrix embd = load_matrix(*model.find_tensor("token_embd.weight"));
    std::vector<float> e(static_cast<size_t>(c.n_embd));
    decode_row(embd, seqs[0][0], e);
    const std::vector<float> norm = load_vector(*model.find_tensor("blk.0.attn_norm.weight"));
    double ss = 0.0;
    for (float v : e) ss += static_cast<double>(v) * v;
    const double scale = 1.0 / std::sqrt(ss / c.n_embd + c.rms_eps);
    const auto& row = observer.seen.at("blk.0.attn_q.weight").first_row;
    for (int64_t i = 0; i < c.n_embd; ++i)
        EXPECT_NEAR(row[static_cast<size_t>(i)], e[static_cast<size_t>(i)] * scale * norm[static_cast<size_t>(i)], 1e-5) << i;
}

TEST_P(ExecutorsTest, ResidentObserverSeesTheSameInputs) {
    const ModelView model = test::open_fixture_model(GetParam());
    native::ThreadPool pool(2);
    const auto seq = prompt_ids(GetParam())[0];
    RecordingObserver streamed, resident_seen;
    stream_all(model, pool, {seq}, {}, &streamed);
    const ResidentModel resident(model, pool);
    Session session(resident, 32);
    session.eval(seq, /*all_logits=*/true, &resident_seen);
    ASSERT_EQ(streamed.seen.size(), resident_seen.seen.size());
    for (const auto& [name, s] : streamed.seen) {
        EXPECT_EQ(resident_seen.seen.at(name).first_row, s.first_row) << name;
        EXPECT_EQ(resident_seen.seen.at(name).tokens, s.tokens) << name;
    }
}

TEST(Executors, RejectsTokensOutsideTheVocabulary) {
    const ModelView model = test::open_fixture_model("tinyllama-spm");
    SerialFor serial;
    LayerStreamer streamer(model, serial);
    try {
        streamer.run(std::vector<std::vector<int32_t>>{{1, 2048}}, {}, [](size_t, int64_t, std::span<const float>) {});
        FAIL() << "no error";
    } catch (const Failure& f) {
        EXPECT_EQ(f.error().code, ExitCode::Usage);
        EXPECT_NE(f.error().message.find("2048"), std::string::npos);
    }
    const ResidentModel resident(model, serial);
    Session session(resident, 4);
    EXPECT_THROW(session.eval(std::vector<int32_t>{-1}), Failure);
    // The context is bounded.
    session.eval(std::vector<int32_t>{1, 2, 3});
    EXPECT_THROW(session.eval(std::vector<int32_t>{4, 5}), Failure);
    EXPECT_EQ(session.n_past(), 3);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ExecutorsTest, ::testing::Values("tinyllama-spm", "tinyqwen-bpe"),
                         [](const auto& info) { return info.param == "tinyllama-spm" ? "TinyllamaSpm" : "TinyqwenBpe"; });

}  // namespace
}  // namespace llmq
