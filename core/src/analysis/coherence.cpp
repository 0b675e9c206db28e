// Runs the coherence check: greedy generation with the quantized model, then teacher forcing of
// each continuation through the original model (perplexity and top-1 agreement).
#include "llmq/analysis/coherence.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <optional>

#include "llmq/error.hpp"
#include "llmq/quant/codec.hpp"
#include "llmq/runtime/resident.hpp"
#include "llmq/runtime/scoring.hpp"
#include "llmq/runtime/tokenizer.hpp"

namespace llmq {
namespace {

using nlohmann::json;

struct Generated {
    std::vector<int32_t> prompt;
    std::vector<int32_t> tokens;
};

// Greedy choice among text tokens. EOS/BOS are masked: a model that ends right after a
// sentence-final prompt (which small story models like to do) would leave nothing to judge,
// and a broken model could pass by stopping at once.
class TextArgmax {
public:
    explicit TextArgmax(const Tokenizer& t) : eos_(t.eos()), bos_(t.bos()) {}
    int32_t operator()(std::span<const float> logits) const {
        int32_t best = -1;
        for (size_t i = 0; i < logits.size(); ++i) {
            const auto id = static_cast<int32_t>(i);
            if (id == eos_ || id == bos_) continue;
            if (best < 0 || logits[i] > logits[static_cast<size_t>(best)]) best = id;
        }
        return best;
    }

private:
    int32_t eos_, bos_;
};

// Models whose weights fit this as f32 are decoded once at load. The runtime decodes a row block
// and then takes float dot products, so the numbers are the same; only the per-token decoding of
// every block (most of a small model's generation time) is saved. Larger models keep their type.
constexpr uint64_t kDecodeBudgetBytes = 256ull << 20;

ModelView decoded_if_small(const ModelView& model) {
    uint64_t f32_bytes = 0;
    for (const auto& t : model.tensors) f32_bytes += static_cast<uint64_t>(t.n_elements()) * sizeof(float);
    if (f32_bytes > kDecodeBudgetBytes) return model;
    ModelView view = model;
    for (auto& t : view.tensors) {
        if (t.type == GgmlType::F32 || !traits(t.type).dequantize) continue;
        const GgmlType stored = t.type;
        const int64_t n_per_row = t.ne[0];
        auto read = t.read_rows;
        t.type = GgmlType::F32;
        t.read_rows = [stored, n_per_row, read](int64_t row0, int64_t nrows, std::span<uint8_t> out) {
            std::vector<uint8_t> raw(row_size(stored, n_per_row) * static_cast<uint64_t>(nrows));
            read(row0, nrows, raw);
            dequantize(stored, raw, std::span<float>(reinterpret_cast<float*>(out.data()), static_cast<size_t>(nrows * n_per_row)));
        };
    }
    return view;
}

void check_cancel(Host& host) {
    if (host.progress && host.progress->cancelled()) fail(ExitCode::Interrupted, "coherence check interrupted");
}

}  // namespace

CoherenceReport check_coherence(const ModelView& original, const ModelView& quantized, const CoherenceOptions& options, Host& host) {
    const double t0 = host.now_seconds ? host.now_seconds() : 0.0;
    const auto prompts = coherence_prompts();
    const Tokenizer tokenizer = Tokenizer::from_metadata(quantized);
    SerialFor serial;
    ParallelFor& parallel = host.parallel ? *host.parallel : serial;
    Progress* progress = host.progress;
    const auto n_prompts = static_cast<uint64_t>(prompts.size());
    if (progress) progress->begin("coherence check", 2 * n_prompts, ProgressUnit::steps("prompt passes"));

    std::vector<Generated> generated(prompts.size());
    int64_t longest = 0;
    for (size_t i = 0; i < prompts.size(); ++i) {
        generated[i].prompt = tokenizer.encode(prompts[i], /*add_special=*/true, /*parse_special=*/false);
        longest = std::max<int64_t>(longest, static_cast<int64_t>(generated[i].prompt.size()));
    }
    const int64_t n_ctx = longest + options.n_tokens;
    const TextArgmax pick(tokenizer);

    try {
        // Phase 1: the quantized model writes; it is released before the original is loaded.
        {
            const ResidentModel model(decoded_if_small(quantized), parallel);
            Session session(model, n_ctx);
            for (size_t i = 0; i < prompts.size(); ++i) {
                check_cancel(host);
                Generated& g = generated[i];
                session.clear();
                std::vector<float> logits = session.eval(g.prompt);
                while (static_cast<int64_t>(g.tokens.size()) < options.n_tokens) {
                    const int32_t next = pick(logits);
                    g.tokens.push_back(next);
                    if (static_cast<int64_t>(g.tokens.size()) < options.n_tokens) logits = session.eval(std::span<const int32_t>(&next, 1));
                }
                if (progress) progress->update(i + 1, prompts[i]);
            }
        }

        // Phase 2: the original model reads every continuation once (teacher forcing).
        CoherenceReport report;
        report.threshold = options.threshold;
        const ResidentModel model(decoded_if_small(original), parallel);
        Session session(model, n_ctx);
        const auto n_vocab = static_cast<size_t>(model.config().n_vocab);
        for (size_t i = 0; i < prompts.size(); ++i) {
            check_cancel(host);
            const Generated& g = generated[i];
            const std::vector<int32_t>& targets = g.tokens;
            session.clear();
            std::vector<float> logits = session.eval(g.prompt);
            if (targets.size() > 1) {
                const std::vector<float> rest = session.eval(std::span<const int32_t>(targets.data(), targets.size() - 1), /*all_logits=*/true);
                logits.insert(logits.end(), rest.begin(), rest.end());
            }
            PromptCoherence p;
            p.prompt = std::string(prompts[i]);
            p.tokens = g.tokens;
            p.text = tokenizer.decode(g.tokens);
            NllStats nll;
            int64_t matches = 0;
            bool diverged = false;
            for (size_t k = 0; k < targets.size(); ++k) {
                const std::span<const float> row(logits.data() + k * n_vocab, n_vocab);
                nll.add(token_nll(row, targets[k]));
                const bool same = pick(row) == targets[k];
                matches += same ? 1 : 0;
                if (!same) diverged = true;
                if (!diverged) ++p.first_divergence;
            }
            p.original_ppl = targets.empty() ? 1.0 : nll.ppl();
            p.ppl_score = perplexity_score(p.original_ppl);
            p.agreement = targets.empty() ? 1.0 : static_cast<double>(matches) / static_cast<double>(targets.size());
            p.repetition = repetition_stats(p.tokens);
            p.score = combine_coherence(p.repetition.score, p.ppl_score, p.agreement);
            report.prompts.push_back(std::move(p));
            if (progress) progress->update(n_prompts + i + 1, prompts[i]);
        }
        if (progress) progress->end();
        double sum = 0.0;
        for (const auto& p : report.prompts) sum += p.score;
        report.score = report.prompts.empty() ? 0.0 : sum / static_cast<double>(report.prompts.size());
        report.passed = report.score >= report.threshold;
        report.duration_seconds = (host.now_seconds ? host.now_seconds() : 0.0) - t0;
        return report;
    } catch (...) {
        if (progress) progress->end();
        throw;
    }
}

json CoherenceReport::to_json() const {
    json list = json::array();
    for (const auto& p : prompts) {
        list.push_back({{"prompt", p.prompt},
                        {"text", p.text},
                        {"score", p.score},
                        {"repetition", p.repetition.score},
                        {"original_ppl", p.original_ppl},
                        {"agreement", p.agreement},
                        {"distinct_2", p.repetition.distinct2},
                        {"distinct_3", p.repetition.distinct3},
                        {"longest_repeat", p.repetition.longest_repeat},
                        {"first_divergence", p.first_divergence},
                        {"n_tokens", p.tokens.size()}});
    }
    return {{"score", score}, {"threshold", threshold}, {"passed", passed}, {"duration_seconds", duration_seconds}, {"prompts", list}};
}

double coherence_threshold(const Host& host) {
    constexpr const char* kName = "LLM_QUANTIZE_COHERENCE_THRESHOLD";
    const std::optional<std::string> value = host.env ? host.env(kName) : std::nullopt;
    if (!value) return 0.5;
    char* end = nullptr;
    const double t = std::strtod(value->c_str(), &end);
    const bool whole = !value->empty() && end == value->c_str() + value->size();
    if (!whole || !(t >= 0.0 && t <= 1.0)) {
        fail(ExitCode::Usage, std::string(kName) + "='" + *value + "' is not a coherence threshold",
             "set it to a number between 0 and 1 (default 0.5), or unset it");
    }
    return t;
}

}  // namespace llmq
