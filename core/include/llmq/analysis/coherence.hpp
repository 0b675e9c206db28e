// The coherence check: does a quantized model still write sensible text? Greedy continuations
// of a fixed, bundled set of prompts are generated with the quantized model and scored in [0, 1]
// from three signs (docs/coherence.md): how repetitive the continuation is, how plausible the
// ORIGINAL model finds it (its perplexity of the continuation given the prompt), and how often
// the quantized model picked the token the original would have picked in the same context.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llmq/format/model.hpp"
#include "llmq/jobs/host.hpp"

namespace llmq {

// The bundled prompts, in a fixed order (changing them changes every score).
std::span<const std::string_view> coherence_prompts();

// Degeneration of a token sequence (Welleck et al.'s distinct-n and the longest repeat).
struct RepetitionStats {
    double distinct2 = 1.0;      // unique bigrams / bigrams (1 when there are none)
    double distinct3 = 1.0;      // unique trigrams / trigrams (1 when there are none)
    int64_t longest_repeat = 0;  // longest token span that occurs at least twice (overlaps allowed)
    double score = 1.0;          // [0, 1]: 1 = no sign of looping
};
RepetitionStats repetition_stats(std::span<const int32_t> tokens);

// The original model's perplexity of a continuation mapped to [0, 1]: 1 at ppl <= 1,
// 1 - ln(ppl) / ln(kPplZero) above, 0 from kPplZero on (log-linear: each factor of
// kPplZero^(1/10) costs a tenth).
inline constexpr double kPplZero = 1000.0;
double perplexity_score(double ppl);

// A prompt's score: the weighted sum of the three parts (weights sum to 1), multiplied by
// min(1, repetition / kLoopGate) so that a looping continuation fails even when the original
// model finds the loop plausible.
inline constexpr double kWeightRepetition = 0.3;
inline constexpr double kWeightPerplexity = 0.35;
inline constexpr double kWeightAgreement = 0.35;
inline constexpr double kLoopGate = 0.5;
double combine_coherence(double repetition, double ppl_score, double agreement);

struct PromptCoherence {
    std::string prompt;
    std::string text;             // the quantized model's continuation
    std::vector<int32_t> tokens;  // its n_tokens tokens (EOS and BOS are never chosen)
    RepetitionStats repetition;
    double original_ppl = 1.0;  // the original model's perplexity of the continuation
    double ppl_score = 1.0;
    double agreement = 1.0;        // fraction of positions where the original's argmax (EOS/BOS masked) is the token
    int64_t first_divergence = 0;  // tokens equal to the original's own greedy continuation
    double score = 0.0;
};

struct CoherenceReport {
    double score = 0.0;  // mean of the prompts' scores
    double threshold = 0.5;
    bool passed = false;  // score >= threshold
    std::vector<PromptCoherence> prompts;
    double duration_seconds = 0.0;

    // {"score","threshold","passed","duration_seconds","prompts":[{"prompt","text","score",
    //  "repetition","original_ppl","agreement", ...}]}
    nlohmann::json to_json() const;
};

struct CoherenceOptions {
    int64_t n_tokens = 32;  // tokens generated per prompt
    double threshold = 0.5;
};

// Generates with `quantized` (all prompts first, then the model is released), then scores with
// `original`, so only one of the two models is resident at a time. Reports host.progress per
// prompt; throws Failure like the runtime (Unsupported for an architecture it cannot run).
CoherenceReport check_coherence(const ModelView& original, const ModelView& quantized, const CoherenceOptions& options, Host& host);

// LLM_QUANTIZE_COHERENCE_THRESHOLD through host.env (default 0.5); Failure(Usage) unless it is
// a number in [0, 1].
double coherence_threshold(const Host& host);

}  // namespace llmq
