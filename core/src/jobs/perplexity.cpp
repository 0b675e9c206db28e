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

ChunkResults score_chunks(const ModelView& model, const ModelView* base, std::span<const int32_t> tokens, const ChunkScoring& s,
                          ParallelFor& parallel, const std::function<void(uint64_t, uint64_t)>& on_progress) {
    const int64_t n_ctx = s.n_ctx;
    const int64_t first = s.first < 0 ? n_ctx / 2 : s.first;
    if (n_ctx < 2 || first > n_ctx - 2) fail(ExitCode::Usage, "context of " + std::to_string(n_ctx) + " tokens is too small to score");
    if (s.n_chunks < 1 || s.n_chunks * n_ctx > static_cast<int64_t>(tokens.size())) {
        fail(ExitCode::General,
             "internal: " + std::to_string(s.n_chunks) + " chunks of " + std::to_string(n_ctx) + " tokens from " + std::to_string(tokens.size()));
    }
    StreamerOptions options;
    options.rope_frequencies = s.rope_frequencies;
    LayerStreamer streamer(model, parallel, options);
    std::optional<LayerStreamer> base_streamer;
    if (base) {
        base_streamer.emplace(*base, parallel, options);
        if (base_streamer->config().n_vocab != streamer.config().n_vocab) {
            fail(ExitCode::Usage,
                 "the models have different vocabularies (" + std::to_string(streamer.config().n_vocab) + " and " +
                     std::to_string(base_streamer->config().n_vocab) + " tokens)",
                 "--kld-base needs the original of the same model");
        }
    }
    const ModelConfig& c = streamer.config();
    const int64_t n_scored = n_ctx - 1 - first;
    const uint64_t hidden_per_chunk = static_cast<uint64_t>(n_ctx) * static_cast<uint64_t>(c.n_embd) * sizeof(float);
    int64_t per_group = std::max<int64_t>(1, static_cast<int64_t>(kHiddenBudget / std::max<uint64_t>(1, hidden_per_chunk)));
    if (base) {
        const uint64_t logits_per_chunk = static_cast<uint64_t>(n_scored) * static_cast<uint64_t>(c.n_vocab) * sizeof(float);
        per_group = std::min<int64_t>(per_group, std::max<int64_t>(1, static_cast<int64_t>(kBaseLogitsBudget / logits_per_chunk)));
    }
    per_group = std::min(per_group, s.n_chunks);
    const int64_t n_groups = (s.n_chunks + per_group - 1) / per_group;
    const uint64_t passes = base ? 2 : 1;
    const uint64_t stages_total = static_cast<uint64_t>(n_groups) * passes * static_cast<uint64_t>(c.n_layer + 2);
    uint64_t stages_before = 0;
    auto stage = [&](int64_t done, int64_t) {
        if (on_progress) on_progress(stages_before + static_cast<uint64_t>(done), stages_total);
    };

    ChunkResults r;
    if (base) r.kld.emplace();
    const LogitsRange range{first, n_ctx - 1};
    std::vector<float> base_logits;
    for (int64_t g0 = 0; g0 < s.n_chunks; g0 += per_group) {
        const int64_t g1 = std::min(s.n_chunks, g0 + per_group);
        std::vector<std::vector<int32_t>> seqs;
        for (int64_t k = g0; k < g1; ++k) {
            seqs.emplace_back(tokens.begin() + k * n_ctx, tokens.begin() + (k + 1) * n_ctx);
            if (s.bos >= 0) seqs.back()[0] = s.bos;
        }
        auto target = [&](size_t seq, int64_t pos) { return tokens[static_cast<size_t>((g0 + static_cast<int64_t>(seq)) * n_ctx + pos + 1)]; };
        std::vector<NllStats> per_chunk(seqs.size());
        if (base) {
            base_logits.assign(seqs.size() * static_cast<size_t>(n_scored * c.n_vocab), 0.0f);
            base_streamer->run(
                seqs, range,
                [&](size_t seq, int64_t pos, std::span<const float> logits) {
                    std::copy(
                        logits.begin(), logits.end(),
                        base_logits.begin() + static_cast<std::ptrdiff_t>((seq * static_cast<size_t>(n_scored) + static_cast<size_t>(pos - first)) *
                                                                          static_cast<size_t>(c.n_vocab)));
                },
                nullptr, stage);
            stages_before += static_cast<uint64_t>(c.n_layer + 2);
        }
        streamer.run(
            seqs, range,
            [&](size_t seq, int64_t pos, std::span<const float> logits) {
                const int32_t t = target(seq, pos);
                per_chunk[seq].add(token_nll(logits, t));
                if (base) {
                    const float* b = base_logits.data() +
                                     (seq * static_cast<size_t>(n_scored) + static_cast<size_t>(pos - first)) * static_cast<size_t>(c.n_vocab);
                    r.kld->add(std::span<const float>(b, static_cast<size_t>(c.n_vocab)), logits, t);
                }
            },
            nullptr, stage);
        stages_before += static_cast<uint64_t>(c.n_layer + 2);
        // The sums run in chunk order, so the totals do not depend on the grouping.
        for (const NllStats& chunk : per_chunk) {
            r.nll.sum += chunk.sum;
            r.nll.sum2 += chunk.sum2;
            r.nll.count += chunk.count;
            r.running_ppl.push_back(r.nll.ppl());
        }
    }
    return r;
}

namespace {

json run_perplexity_resolved(const PerplexityOptions& o, Host& host, double t0) {
    if (o.n_ctx < 4) fail(ExitCode::Usage, "--ctx must be at least 4");
    const ModelView model = open_model(o.model_path, host);
    std::optional<ModelView> base;
    if (!o.kld_base_path.empty()) base = open_model(o.kld_base_path, host);
    const std::string text = read_text(o.text_path, host);

    // Tokens come from the base model's vocabulary in KL mode (llama.cpp stores the base run's).
    const Tokenizer tokenizer = Tokenizer::from_metadata(base ? *base : model);
    if (tokenizer.add_eos()) {
        fail(ExitCode::Unsupported,
             "the vocabulary of " + (base ? *base : model).path + " appends EOS to every text, which llama-perplexity's procedure does not allow");
    }
    const std::vector<int32_t> tokens = tokenizer.encode(text, /*add_special=*/true, /*parse_special=*/false);
    const int64_t n_tokens = static_cast<int64_t>(tokens.size());
    if (n_tokens < 2 * o.n_ctx) {
        fail(ExitCode::Calibration,
             o.text_path + " has " + std::to_string(n_tokens) + " tokens; perplexity with --ctx " + std::to_string(o.n_ctx) + " needs at least " +
                 std::to_string(2 * o.n_ctx),
             "use a longer text or a smaller --ctx");
    }
    ChunkScoring scoring;
    scoring.n_ctx = o.n_ctx;
    scoring.n_chunks = n_tokens / o.n_ctx;
    if (o.max_chunks > 0) scoring.n_chunks = std::min(scoring.n_chunks, o.max_chunks);
    scoring.bos = tokenizer.add_bos() ? tokenizer.bos() : -1;
    scoring.rope_frequencies = o.rope_frequencies;
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
