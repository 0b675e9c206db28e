#include "llmq/runtime/streamer.hpp"

#include <algorithm>
#include <numeric>

#include "llmq/error.hpp"
#include "llmq/runtime/weights.hpp"
#include "runtime/layer.hpp"
#include "runtime/rope.hpp"

namespace llmq {

using runtime::Segment;

int64_t StreamState::n_tokens() const {
    return std::accumulate(lengths.begin(), lengths.end(), int64_t{0});
}

struct LayerStreamer::Work {
    Work(const ModelView& model, const ModelConfig& c, RopeFrequencies frequencies) : rope(c, load_rope_factors(model, c), frequencies) {}
    runtime::RopeTable rope;
    runtime::LayerScratch scratch;
    LayerWeights weights;       // one layer at a time, in the same buffers
    std::vector<float> before;  // input rows of one batch, when a BatchDone wants them
};

LayerStreamer::LayerStreamer(const ModelView& model, ParallelFor& parallel, StreamerOptions options)
    : model_(model), parallel_(parallel), options_(options), config_(model_config(model)) {
    config_.numerics = options.numerics;
}

LayerStreamer::~LayerStreamer() = default;
LayerStreamer::LayerStreamer(LayerStreamer&&) noexcept = default;

void LayerStreamer::release() {
    work_.reset();
}

StreamState LayerStreamer::embed(std::span<const std::vector<int32_t>> sequences) const {
    StreamState state;
    std::vector<int32_t> tokens;
    for (const auto& seq : sequences) {
        if (seq.empty()) fail(ExitCode::General, "internal: empty sequence given to the layer streamer");
        state.lengths.push_back(static_cast<int64_t>(seq.size()));
        tokens.insert(tokens.end(), seq.begin(), seq.end());
    }
    state.hidden.resize(tokens.size() * static_cast<size_t>(config_.n_embd));
    embed_tokens(model_, config_, tokens, state.hidden);
    return state;
}

void LayerStreamer::run_layer(StreamState& state, MatmulObserver* observer, const BatchDone& on_batch) {
    const ModelConfig& c = config_;
    const int64_t E = c.n_embd;
    if (state.next_layer < 0 || state.next_layer >= c.n_layer) {
        fail(ExitCode::General, "internal: layer " + std::to_string(state.next_layer) + " requested of a model with " + std::to_string(c.n_layer));
    }
    if (static_cast<int64_t>(state.hidden.size()) != state.n_tokens() * E)
        fail(ExitCode::General, "internal: hidden states do not match the sequence lengths");
    if (!work_) work_ = std::make_unique<Work>(model_, c, options_.rope_frequencies);
    Work& w = *work_;
    w.rope.reserve(state.lengths.empty() ? 1 : *std::max_element(state.lengths.begin(), state.lengths.end()));
    load_layer(model_, c, state.next_layer, w.weights, options_.read_chunk_bytes);

    // Batches of whole sequences, each at most batch_tokens long unless one sequence is longer.
    int64_t row0 = 0;
    for (size_t i = 0; i < state.lengths.size();) {
        std::vector<Segment> segs;
        int64_t n = 0;
        while (i < state.lengths.size() && (segs.empty() || n + state.lengths[i] <= options_.batch_tokens)) {
            segs.push_back({n, state.lengths[i], 0, nullptr, nullptr});
            n += state.lengths[i++];
        }
        const std::span<float> rows = std::span<float>(state.hidden).subspan(static_cast<size_t>(row0 * E), static_cast<size_t>(n * E));
        if (on_batch) w.before.assign(rows.begin(), rows.end());
        runtime::forward_layer(w.weights, c, w.rope, rows, n, segs, w.scratch, parallel_, observer);
        if (on_batch) on_batch(w.before, rows);
        row0 += n;
    }
    ++state.next_layer;
    // The last layer's buffers are not needed by the head.
    if (state.next_layer == c.n_layer) release();
}

void LayerStreamer::run_head(const StreamState& state, LogitsRange range, const LogitsSink& sink, MatmulObserver* observer) {
    const ModelConfig& c = config_;
    const int64_t E = c.n_embd;
    if (state.next_layer != c.n_layer) fail(ExitCode::General, "internal: output head run before the last layer");
    const OutputWeights head = load_output(model_, c, options_.read_chunk_bytes);
    struct Wanted {
        size_t seq;
        int64_t pos;
        int64_t row;
    };
    std::vector<Wanted> wanted;
    int64_t row0 = 0;
    for (size_t i = 0; i < state.lengths.size(); ++i) {
        const int64_t end = std::min(range.end, state.lengths[i]);
        for (int64_t p = std::max<int64_t>(0, range.begin); p < end; ++p) wanted.push_back({i, p, row0 + p});
        row0 += state.lengths[i];
    }
    const int64_t rows_per_batch =
        std::clamp<int64_t>(static_cast<int64_t>(options_.logits_bytes / (sizeof(float) * static_cast<uint64_t>(c.n_vocab))), 1,
                            std::max<int64_t>(1, options_.batch_tokens));
    std::vector<float> x, logits, norm_scratch;
    for (size_t w0 = 0; w0 < wanted.size(); w0 += static_cast<size_t>(rows_per_batch)) {
        const size_t w1 = std::min(wanted.size(), w0 + static_cast<size_t>(rows_per_batch));
        const int64_t n = static_cast<int64_t>(w1 - w0);
        x.resize(static_cast<size_t>(n * E));
        for (size_t k = w0; k < w1; ++k) {
            std::copy_n(state.hidden.data() + wanted[k].row * E, E, x.data() + static_cast<int64_t>(k - w0) * E);
        }
        logits.resize(static_cast<size_t>(n * c.n_vocab));
        runtime::forward_output(head.norm, head.output, c, x, n, logits, norm_scratch, parallel_, observer);
        for (size_t k = w0; k < w1; ++k) {
            sink(wanted[k].seq, wanted[k].pos,
                 std::span<const float>(logits.data() + static_cast<int64_t>(k - w0) * c.n_vocab, static_cast<size_t>(c.n_vocab)));
        }
    }
}

void LayerStreamer::run(std::span<const std::vector<int32_t>> sequences, LogitsRange range, const LogitsSink& sink, MatmulObserver* observer,
                        const StageDone& on_stage) {
    if (sequences.empty()) return;
    const int64_t total_stages = config_.n_layer + 2;
    int64_t stage = 0;
    auto stage_done = [&] {
        ++stage;
        if (on_stage) on_stage(stage, total_stages);
    };
    StreamState state = embed(sequences);
    stage_done();
    while (state.next_layer < config_.n_layer) {
        run_layer(state, observer);
        stage_done();
    }
    release();
    run_head(state, range, sink, observer);
    stage_done();
}

}  // namespace llmq
