#include "llmq/runtime/streamer.hpp"

#include <algorithm>

#include "llmq/error.hpp"
#include "llmq/runtime/weights.hpp"
#include "runtime/layer.hpp"
#include "runtime/rope.hpp"

namespace llmq {

using runtime::Segment;

LayerStreamer::LayerStreamer(const ModelView& model, ParallelFor& parallel, StreamerOptions options)
    : model_(model), parallel_(parallel), options_(options), config_(model_config(model)) {}

void LayerStreamer::run(std::span<const std::vector<int32_t>> sequences, LogitsRange range, const LogitsSink& sink,
                        MatmulObserver* observer, const StageDone& on_stage) {
    if (sequences.empty()) return;
    const ModelConfig& c = config_;
    const int64_t E = c.n_embd;
    const int64_t total_stages = c.n_layer + 2;
    int64_t stage = 0;
    auto stage_done = [&] {
        ++stage;
        if (on_stage) on_stage(stage, total_stages);
    };

    // Rows of the hidden-state matrix: sequence after sequence.
    std::vector<int32_t> tokens;
    std::vector<Segment> all;
    int64_t longest = 0;
    for (const auto& seq : sequences) {
        if (seq.empty()) fail(ExitCode::General, "internal: empty sequence given to the layer streamer");
        all.push_back({static_cast<int64_t>(tokens.size()), static_cast<int64_t>(seq.size()), 0, nullptr, nullptr});
        tokens.insert(tokens.end(), seq.begin(), seq.end());
        longest = std::max<int64_t>(longest, static_cast<int64_t>(seq.size()));
    }
    const int64_t n_tokens = static_cast<int64_t>(tokens.size());
    std::vector<float> hidden(static_cast<size_t>(n_tokens * E));
    embed_tokens(model_, c, tokens, hidden);
    stage_done();

    // Batches of whole sequences, each at most batch_tokens long unless one sequence is longer.
    std::vector<std::pair<size_t, size_t>> batches;  // [first, last) sequence index
    for (size_t i = 0; i < all.size();) {
        size_t j = i;
        int64_t n = 0;
        while (j < all.size() && (j == i || n + all[j].n <= options_.batch_tokens)) n += all[j++].n;
        batches.emplace_back(i, j);
        i = j;
    }

    runtime::RopeTable rope(c, load_rope_factors(model_, c));
    rope.reserve(longest);
    runtime::LayerScratch scratch;
    LayerWeights weights;  // one layer at a time, in the same buffers
    for (int64_t l = 0; l < c.n_layer; ++l) {
        load_layer(model_, c, l, weights, options_.read_chunk_bytes);
        for (const auto& [first, last] : batches) {
            const int64_t row0 = all[first].row;
            std::vector<Segment> segs(all.begin() + static_cast<std::ptrdiff_t>(first), all.begin() + static_cast<std::ptrdiff_t>(last));
            for (auto& s : segs) s.row -= row0;
            const int64_t n = segs.back().row + segs.back().n;
            runtime::forward_layer(weights, c, rope, std::span<float>(hidden).subspan(static_cast<size_t>(row0 * E), static_cast<size_t>(n * E)),
                                   n, segs, scratch, parallel_, observer);
        }
        stage_done();
    }
    scratch = {};
    weights = {};

    // The output head on the requested positions only, in bounded batches of rows.
    const OutputWeights head = load_output(model_, c, options_.read_chunk_bytes);
    struct Wanted {
        size_t seq;
        int64_t pos;
        int64_t row;
    };
    std::vector<Wanted> wanted;
    for (size_t i = 0; i < all.size(); ++i) {
        const int64_t end = std::min(range.end, all[i].n);
        for (int64_t p = std::max<int64_t>(0, range.begin); p < end; ++p) wanted.push_back({i, p, all[i].row + p});
    }
    const int64_t rows_per_batch = std::clamp<int64_t>(
        static_cast<int64_t>(options_.logits_bytes / (sizeof(float) * static_cast<uint64_t>(c.n_vocab))), 1, std::max<int64_t>(1, options_.batch_tokens));
    std::vector<float> x, logits, norm_scratch;
    for (size_t w0 = 0; w0 < wanted.size(); w0 += static_cast<size_t>(rows_per_batch)) {
        const size_t w1 = std::min(wanted.size(), w0 + static_cast<size_t>(rows_per_batch));
        const int64_t n = static_cast<int64_t>(w1 - w0);
        x.resize(static_cast<size_t>(n * E));
        for (size_t k = w0; k < w1; ++k) {
            std::copy_n(hidden.data() + wanted[k].row * E, E, x.data() + static_cast<int64_t>(k - w0) * E);
        }
        logits.resize(static_cast<size_t>(n * c.n_vocab));
        runtime::forward_output(head.norm, head.output, c, x, n, logits, norm_scratch, parallel_, observer);
        for (size_t k = w0; k < w1; ++k) {
            sink(wanted[k].seq, wanted[k].pos,
                 std::span<const float>(logits.data() + static_cast<int64_t>(k - w0) * c.n_vocab, static_cast<size_t>(c.n_vocab)));
        }
    }
    stage_done();
}

}  // namespace llmq
