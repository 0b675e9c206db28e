// llmq perplexity: tokenize the text once (BOS as the vocabulary adds it), cut it into
// consecutive chunks of n_ctx tokens, overwrite each chunk's first token with BOS when the
// vocabulary adds one, score the second half of each chunk (llama-perplexity, reference §6).
#include "llmq/jobs/perplexity.hpp"

#include <algorithm>

#include "llmq/error.hpp"
#include "llmq/jobs/inspect.hpp"
#include "llmq/runtime/streamer.hpp"
#include "llmq/runtime/tokenizer.hpp"

namespace llmq {
namespace {

using nlohmann::json;

constexpr uint64_t kHiddenBudget = 256ull << 20;      // hidden states of one group of chunks
constexpr uint64_t kBaseLogitsBudget = 512ull << 20;  // base-model logits kept for KL divergence

std::string read_text(const std::string& path, Host& host) {
    if (!host.exists(path)) fail(ExitCode::Calibration, "text file " + path + " not found", "pass an existing plain-text file with -f");
    const auto source = host.open_file(path);
    std::string text(source->size(), '\0');
    source->read(0, std::span<uint8_t>(reinterpret_cast<uint8_t*>(text.data()), text.size()));
    return text;
}

}  // namespace

namespace {

// The scoring geometry shared by both entry points.
struct Grouping {
    int64_t first = 0, n_scored = 0, per_group = 1, n_groups = 0;
};

Grouping grouping(const ModelConfig& c, const ChunkScoring& s, bool keeps_base_logits) {
    const int64_t n_ctx = s.n_ctx;
    Grouping g;
    g.first = s.first < 0 ? n_ctx / 2 : s.first;
    if (n_ctx < 2 || g.first > n_ctx - 2) fail(ExitCode::Usage, "context of " + std::to_string(n_ctx) + " tokens is too small to score");
    g.n_scored = n_ctx - 1 - g.first;
    const uint64_t hidden_per_chunk = static_cast<uint64_t>(n_ctx) * static_cast<uint64_t>(c.n_embd) * sizeof(float);
    g.per_group = std::max<int64_t>(1, static_cast<int64_t>(kHiddenBudget / std::max<uint64_t>(1, hidden_per_chunk)));
    if (keeps_base_logits) {
        const uint64_t logits_per_chunk = static_cast<uint64_t>(g.n_scored) * static_cast<uint64_t>(c.n_vocab) * sizeof(float);
        g.per_group = std::min<int64_t>(g.per_group, std::max<int64_t>(1, static_cast<int64_t>(kBaseLogitsBudget / logits_per_chunk)));
    }
    g.per_group = std::min(g.per_group, s.n_chunks);
    g.n_groups = (s.n_chunks + g.per_group - 1) / g.per_group;
    return g;
}

void check_chunks(std::span<const int32_t> tokens, const ChunkScoring& s) {
    if (s.n_chunks < 1 || s.n_chunks * s.n_ctx > static_cast<int64_t>(tokens.size())) {
        fail(ExitCode::General,
             "internal: " + std::to_string(s.n_chunks) + " chunks of " + std::to_string(s.n_ctx) + " tokens from " + std::to_string(tokens.size()));
    }
}

// Adds the per-chunk sums in chunk order, so the totals do not depend on the grouping.
void add_chunks(NllStats& total, std::vector<double>* running, std::span<const NllStats> chunks) {
    for (const NllStats& chunk : chunks) {
        total.sum += chunk.sum;
        total.sum2 += chunk.sum2;
        total.count += chunk.count;
        if (running) running->push_back(total.ppl());
    }
}

}  // namespace

MultiChunkResults score_chunks_against(const ModelView& base, std::span<const ModelView* const> models, std::span<const int32_t> tokens,
                                       const ChunkScoring& s, ParallelFor& parallel, const std::function<void(uint64_t, uint64_t)>& on_progress,
                                       MatmulObserver* base_observer) {
    check_chunks(tokens, s);
    StreamerOptions options;
    options.rope_frequencies = s.rope_frequencies;
    options.numerics = s.numerics;
    LayerStreamer base_streamer(base, parallel, options);
    std::vector<LayerStreamer> streamers;
    for (const ModelView* m : models) {
        streamers.emplace_back(*m, parallel, options);
        if (streamers.back().config().n_vocab != base_streamer.config().n_vocab) {
            fail(ExitCode::Usage,
                 "the models have different vocabularies (" + std::to_string(base_streamer.config().n_vocab) + " tokens in " + base.path + ", " +
                     std::to_string(streamers.back().config().n_vocab) + " in " + m->path + ")",
                 "compare a model with quantizations of itself");
        }
    }
    const ModelConfig& c = base_streamer.config();
    const int64_t n_ctx = s.n_ctx;
    const Grouping g = grouping(c, s, !models.empty());
    const uint64_t stages_per_run = static_cast<uint64_t>(c.n_layer + 2);
    const uint64_t stages_total = static_cast<uint64_t>(g.n_groups) * (1 + models.size()) * stages_per_run;
    uint64_t stages_before = 0;
    auto stage = [&](int64_t done, int64_t) {
        if (on_progress) on_progress(stages_before + static_cast<uint64_t>(done), stages_total);
    };

    MultiChunkResults r;
    r.models.resize(models.size());
    for (auto& m : r.models) m.kld.emplace();
    const LogitsRange range{g.first, n_ctx - 1};
    std::vector<float> base_logits;
    const auto row_of = [&](size_t seq, int64_t pos) {
        return (seq * static_cast<size_t>(g.n_scored) + static_cast<size_t>(pos - g.first)) * static_cast<size_t>(c.n_vocab);
    };
    for (int64_t g0 = 0; g0 < s.n_chunks; g0 += g.per_group) {
        const int64_t g1 = std::min(s.n_chunks, g0 + g.per_group);
        std::vector<std::vector<int32_t>> seqs;
        for (int64_t k = g0; k < g1; ++k) {
            seqs.emplace_back(tokens.begin() + k * n_ctx, tokens.begin() + (k + 1) * n_ctx);
            if (s.bos >= 0) seqs.back()[0] = s.bos;
        }
        auto target = [&](size_t seq, int64_t pos) { return tokens[static_cast<size_t>((g0 + static_cast<int64_t>(seq)) * n_ctx + pos + 1)]; };
        std::vector<NllStats> base_chunks(seqs.size());
        if (!models.empty()) base_logits.assign(seqs.size() * static_cast<size_t>(g.n_scored * c.n_vocab), 0.0f);
        base_streamer.run(
            seqs, range,
            [&](size_t seq, int64_t pos, std::span<const float> logits) {
                base_chunks[seq].add(token_nll(logits, target(seq, pos)));
                if (!models.empty()) std::copy(logits.begin(), logits.end(), base_logits.begin() + static_cast<std::ptrdiff_t>(row_of(seq, pos)));
            },
            base_observer, stage);
        stages_before += stages_per_run;
        add_chunks(r.base_nll, nullptr, base_chunks);
        for (size_t i = 0; i < models.size(); ++i) {
            std::vector<NllStats> per_chunk(seqs.size());
            ChunkResults& out = r.models[i];
            streamers[i].run(
                seqs, range,
                [&](size_t seq, int64_t pos, std::span<const float> logits) {
                    const int32_t t = target(seq, pos);
                    per_chunk[seq].add(token_nll(logits, t));
                    out.kld->add(std::span<const float>(base_logits.data() + row_of(seq, pos), static_cast<size_t>(c.n_vocab)), logits, t);
                },
                nullptr, stage);
            stages_before += stages_per_run;
            add_chunks(out.nll, &out.running_ppl, per_chunk);
        }
    }
    return r;
}

ChunkResults score_chunks(const ModelView& model, const ModelView* base, std::span<const int32_t> tokens, const ChunkScoring& s,
                          ParallelFor& parallel, const std::function<void(uint64_t, uint64_t)>& on_progress) {
    if (base) {
        const ModelView* models[] = {&model};
        try {
            return std::move(score_chunks_against(*base, models, tokens, s, parallel, on_progress).models.front());
        } catch (const Failure& f) {
            if (f.error().code != ExitCode::Usage || f.error().message.find("different vocabularies") == std::string::npos) throw;
            fail(ExitCode::Usage, f.error().message, "--kld-base needs the original of the same model");
        }
    }
    check_chunks(tokens, s);
    StreamerOptions options;
    options.rope_frequencies = s.rope_frequencies;
    options.numerics = s.numerics;
    LayerStreamer streamer(model, parallel, options);
    const ModelConfig& c = streamer.config();
    const Grouping g = grouping(c, s, false);
    const uint64_t stages_total = static_cast<uint64_t>(g.n_groups) * static_cast<uint64_t>(c.n_layer + 2);
    uint64_t stages_before = 0;
    ChunkResults r;
    for (int64_t g0 = 0; g0 < s.n_chunks; g0 += g.per_group) {
        const int64_t g1 = std::min(s.n_chunks, g0 + g.per_group);
        std::vector<std::vector<int32_t>> seqs;
        for (int64_t k = g0; k < g1; ++k) {
            seqs.emplace_back(tokens.begin() + k * s.n_ctx, tokens.begin() + (k + 1) * s.n_ctx);
            if (s.bos >= 0) seqs.back()[0] = s.bos;
        }
        std::vector<NllStats> per_chunk(seqs.size());
        streamer.run(
            seqs, LogitsRange{g.first, s.n_ctx - 1},
            [&](size_t seq, int64_t pos, std::span<const float> logits) {
                per_chunk[seq].add(token_nll(logits, tokens[static_cast<size_t>((g0 + static_cast<int64_t>(seq)) * s.n_ctx + pos + 1)]));
            },
            nullptr,
            [&](int64_t done, int64_t) {
                if (on_progress) on_progress(stages_before + static_cast<uint64_t>(done), stages_total);
            });
        stages_before += static_cast<uint64_t>(c.n_layer + 2);
        add_chunks(r.nll, &r.running_ppl, per_chunk);
    }
    return r;
}

ScoredText tokenize_for_scoring(const ModelView& vocabulary, std::string_view text, const std::string& text_path, int64_t n_ctx, int64_t max_chunks) {
    const Tokenizer tokenizer = Tokenizer::from_metadata(vocabulary);
    if (tokenizer.add_eos()) {
        fail(ExitCode::Unsupported,
             "the vocabulary of " + vocabulary.path + " appends EOS to every text, which llama-perplexity's procedure does not allow");
    }
    ScoredText out;
    out.tokens = tokenizer.encode(text, /*add_special=*/true, /*parse_special=*/false);
    const auto n_tokens = static_cast<int64_t>(out.tokens.size());
    if (n_tokens < 2 * n_ctx) {
        fail(ExitCode::Calibration,
             text_path + " has " + std::to_string(n_tokens) + " tokens; scoring with --ctx " + std::to_string(n_ctx) + " needs at least " +
                 std::to_string(2 * n_ctx),
             "use a longer text or a smaller --ctx");
    }
    out.scoring.n_ctx = n_ctx;
    out.scoring.n_chunks = n_tokens / n_ctx;
    if (max_chunks > 0) out.scoring.n_chunks = std::min(out.scoring.n_chunks, max_chunks);
    out.scoring.bos = tokenizer.add_bos() ? tokenizer.bos() : -1;
    return out;
}

namespace {

json run_perplexity_resolved(const PerplexityOptions& o, Host& host, double t0) {
    if (o.n_ctx < 4) fail(ExitCode::Usage, "--ctx must be at least 4");
    const ModelView model = open_model(o.model_path, host);
    std::optional<ModelView> base;
    if (!o.kld_base_path.empty()) base = open_model(o.kld_base_path, host);
    const std::string text = read_text(o.text_path, host);

    // Tokens come from the base model's vocabulary in KL mode (llama.cpp stores the base run's).
    ScoredText input = tokenize_for_scoring(base ? *base : model, text, o.text_path, o.n_ctx, o.max_chunks);
    const std::vector<int32_t>& tokens = input.tokens;
    const auto n_tokens = static_cast<int64_t>(tokens.size());
    ChunkScoring& scoring = input.scoring;
    scoring.rope_frequencies = o.rope_frequencies;
    scoring.numerics = o.numerics;
    if (host.log) {
        host.log(LogLevel::Verbose, "perplexity: " + std::to_string(n_tokens) + " tokens, " + std::to_string(scoring.n_chunks) + " chunks of " +
                                        std::to_string(o.n_ctx) + (scoring.bos >= 0 ? ", BOS at each chunk start" : ""));
    }

    SerialFor serial;
    ParallelFor& parallel = host.parallel ? *host.parallel : serial;
    Progress* progress = host.progress;
    bool begun = false;
    const ChunkResults r = score_chunks(model, base ? &*base : nullptr, tokens, scoring, parallel, [&](uint64_t done, uint64_t total) {
        if (progress) {
            if (progress->cancelled()) fail(ExitCode::Interrupted, "perplexity interrupted");
            if (!begun) progress->begin("perplexity", total, ProgressUnit::steps("stages"));
            begun = true;
            progress->update(done, "");
        }
    });
    if (progress && begun) progress->end();

    json running = json::array();
    for (double p : r.running_ppl) running.push_back(p);
    json result = {{"status", "success"},
                   {"model_path", o.model_path},
                   {"text_path", o.text_path},
                   {"ctx", o.n_ctx},
                   {"chunks", scoring.n_chunks},
                   {"tokens", n_tokens},
                   {"scored_tokens", r.nll.count},
                   {"bos_at_chunk_start", scoring.bos >= 0},
                   {"rope_freqs", rope_frequencies_name(o.rope_frequencies)},
                   {"numerics", numerics_name(o.numerics)},
                   {"perplexity", r.nll.ppl()},
                   {"perplexity_uncertainty", r.nll.ppl_uncertainty()},
                   {"chunk_perplexities", running},
                   {"kld_base_path", o.kld_base_path.empty() ? json(nullptr) : json(o.kld_base_path)},
                   {"kld", r.kld ? r.kld->summary() : json(nullptr)},
                   {"duration_seconds", host.now_seconds ? host.now_seconds() - t0 : 0.0}};
    return result;
}

}  // namespace

json run_perplexity(const PerplexityOptions& o, Host& host) {
    const double t0 = host.now_seconds ? host.now_seconds() : 0.0;
    PerplexityOptions resolved = o;
    if (resolved.text_path.empty()) {
        // Default: the bundled WikiText-2 test text, as llama-perplexity is usually run.
        if (host.bundled_file) resolved.text_path = host.bundled_file("wikitext-2-test.raw");
        if (resolved.text_path.empty()) {
            fail(ExitCode::Usage,
                 "no text given and the bundled WikiText-2 text (data/wikitext-2-test.raw) was not "
                 "found",
                 "pass a plain-text file with -f TEXT, or set LLMQ_DATA_DIR to llmq's data/ "
                 "directory");
        }
    }
    return run_perplexity_resolved(resolved, host, t0);
}

}  // namespace llmq
