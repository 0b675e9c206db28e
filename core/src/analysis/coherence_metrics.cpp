// The per-continuation measures of the coherence check and how they combine (docs/coherence.md).
#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include "llmq/analysis/coherence.hpp"

namespace llmq {
namespace {

double distinct_ratio(std::span<const int32_t> tokens, size_t n) {
    if (tokens.size() < n) return 1.0;
    std::set<std::vector<int32_t>> seen;
    const size_t total = tokens.size() - n + 1;
    for (size_t i = 0; i < total; ++i)
        seen.emplace(tokens.begin() + static_cast<std::ptrdiff_t>(i), tokens.begin() + static_cast<std::ptrdiff_t>(i + n));
    return static_cast<double>(seen.size()) / static_cast<double>(total);
}

// Longest common extension over all pairs of starts: quadratic-times-length, which is nothing
// for the few dozen tokens of a continuation and needs no suffix structure.
int64_t longest_repeat(std::span<const int32_t> t) {
    const size_t n = t.size();
    size_t best = 0;
    for (size_t i = 0; i < n; ++i) {
        for (size_t j = i + 1; j + best < n; ++j) {
            size_t k = 0;
            while (j + k < n && t[i + k] == t[j + k]) ++k;
            best = std::max(best, k);
        }
    }
    return static_cast<int64_t>(best);
}

// Spans up to this many tokens recur in ordinary prose ("said the little girl"); longer ones
// are the start of a loop.
constexpr int64_t kFreeRepeat = 4;

}  // namespace

RepetitionStats repetition_stats(std::span<const int32_t> tokens) {
    RepetitionStats s;
    s.distinct2 = distinct_ratio(tokens, 2);
    s.distinct3 = distinct_ratio(tokens, 3);
    s.longest_repeat = longest_repeat(tokens);
    // A repeat costs in proportion to how much of the continuation it spans: one that covers
    // half of it (a loop of period n/2 or shorter) leaves nothing.
    const double half = std::max(4.0, static_cast<double>(tokens.size()) / 2.0);
    const double span = std::clamp(1.0 - static_cast<double>(std::max<int64_t>(0, s.longest_repeat - kFreeRepeat)) / half, 0.0, 1.0);
    s.score = 0.5 * (s.distinct2 + s.distinct3) * span;
    return s;
}

double perplexity_score(double ppl) {
    if (!(ppl > 1.0)) return std::isnan(ppl) ? 0.0 : 1.0;
    return std::clamp(1.0 - std::log(ppl) / std::log(kPplZero), 0.0, 1.0);
}

double combine_coherence(double repetition, double ppl_score, double agreement) {
    const double sum = kWeightRepetition * repetition + kWeightPerplexity * ppl_score + kWeightAgreement * agreement;
    // A loop is incoherent however plausible the original finds it (models predict their own
    // repetitions well), so heavy repetition also scales the whole score down.
    return sum * std::min(1.0, repetition / kLoopGate);
}

}  // namespace llmq
