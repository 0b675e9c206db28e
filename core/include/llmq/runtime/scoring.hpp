// Per-token quality measures exactly as llama-perplexity computes them (reference/ggml-formats.md
// §6): the negative log-likelihood of the next token, perplexity with its uncertainty, and the
// KL-divergence statistics of a model against a base model.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <vector>

namespace llmq {

// -log p(target): m = max logit, S = Σ expf(l_i - m) summed in double, nll = -(l_t - m - ln S).
double token_nll(std::span<const float> logits, int32_t target);

// mean ± uncertainty of a series from its sums (llama.cpp's helper): the uncertainty is
// sqrt((E[x²] - E[x]²) / (n - 1)), reported as 0 unless n > 10.
struct MeanUnc {
    double mean = 0.0;
    double unc = 0.0;
};
MeanUnc mean_and_uncertainty(double sum, double sum2, int64_t n);

// Running NLL sums of the scored tokens.
struct NllStats {
    double sum = 0.0, sum2 = 0.0;
    int64_t count = 0;

    void add(double nll) {
        sum += nll;
        sum2 += nll * nll;
        ++count;
    }
    double ppl() const;  // exp(mean nll)
    // PPL · sqrt((mean(nll²) - mean(nll)²) / (count - 1)); 0 when undefined (count < 2 or the
    // variance term is not positive).
    double ppl_uncertainty() const;
};

// Linear interpolation at index f·(n-1) of sorted values (median = mean of the middle two).
double percentile(const std::vector<double>& sorted, double f);

// KL divergence of a model's next-token distributions from a base model's, token by token.
class KldStats {
public:
    // base and test: the two models' logits at one position; target: the next token.
    void add(std::span<const float> base, std::span<const float> test, int32_t target);

    int64_t count() const { return static_cast<int64_t>(kld_.size()); }
    const NllStats& nll_test() const { return nll_test_; }
    const NllStats& nll_base() const { return nll_base_; }
    // The figures llama-perplexity --kl-divergence prints, as JSON (means, uncertainties,
    // percentiles; probabilities as fractions, not percent).
    nlohmann::json summary() const;

private:
    NllStats nll_test_, nll_base_;
    double nll_cross_ = 0.0;  // Σ nll_test · nll_base, for the covariance
    double kld_sum_ = 0.0, kld_sum2_ = 0.0;
    double dp_sum_ = 0.0, dp_sum2_ = 0.0;
    int64_t same_top_ = 0;
    std::vector<double> kld_, dp_;
    std::vector<double> base_logp_, test_logp_;  // scratch
};

}  // namespace llmq
