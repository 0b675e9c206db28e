#include "llmq/runtime/scoring.hpp"

#include <algorithm>
#include <cmath>

#include "llmq/error.hpp"

namespace llmq {
namespace {

// log-softmax in double with the max subtracted (same S as token_nll).
void log_softmax(std::span<const float> logits, std::vector<double>& out) {
    const float m = *std::max_element(logits.begin(), logits.end());
    double s = 0.0;
    for (float l : logits) s += std::exp(l - m);
    const double log_s = std::log(s);
    out.resize(logits.size());
    for (size_t i = 0; i < logits.size(); ++i) out[i] = static_cast<double>(logits[i]) - m - log_s;
}

size_t first_argmax(const std::vector<double>& v) {
    return static_cast<size_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

}  // namespace

double token_nll(std::span<const float> logits, int32_t target) {
    if (target < 0 || static_cast<size_t>(target) >= logits.size()) {
        fail(ExitCode::General, "internal: target token " + std::to_string(target) + " outside the logits");
    }
    const float m = *std::max_element(logits.begin(), logits.end());
    double s = 0.0;
    for (float l : logits) s += std::exp(l - m);  // expf, as llama.cpp; the sum in double
    return -(static_cast<double>(logits[static_cast<size_t>(target)] - m) - std::log(s));
}

MeanUnc mean_and_uncertainty(double sum, double sum2, int64_t n) {
    MeanUnc r;
    if (n <= 0) return r;
    r.mean = sum / static_cast<double>(n);
    if (n > 10) {
        const double var = sum2 / static_cast<double>(n) - r.mean * r.mean;
        r.unc = var > 0.0 ? std::sqrt(var / static_cast<double>(n - 1)) : 0.0;
    }
    return r;
}

double NllStats::ppl() const {
    return count ? std::exp(sum / static_cast<double>(count)) : 0.0;
}

double NllStats::ppl_uncertainty() const {
    if (count < 2) return 0.0;
    const double mean = sum / static_cast<double>(count);
    const double var = sum2 / static_cast<double>(count) - mean * mean;
    if (var <= 0.0) return 0.0;
    return ppl() * std::sqrt(var / static_cast<double>(count - 1));
}

double percentile(const std::vector<double>& sorted, double f) {
    if (sorted.empty()) return 0.0;
    const double x = f * static_cast<double>(sorted.size() - 1);
    const size_t i = static_cast<size_t>(std::floor(x));
    if (i + 1 >= sorted.size()) return sorted.back();
    const double frac = x - static_cast<double>(i);
    return sorted[i] + frac * (sorted[i + 1] - sorted[i]);
}

void KldStats::add(std::span<const float> base, std::span<const float> test, int32_t target) {
    if (base.size() != test.size()) fail(ExitCode::General, "internal: KL divergence of logits of different sizes");
    log_softmax(base, base_logp_);
    log_softmax(test, test_logp_);
    // The NLLs exactly as the perplexity figures compute them.
    const double nll_b = token_nll(base, target);
    const double nll_t = token_nll(test, target);
    nll_base_.add(nll_b);
    nll_test_.add(nll_t);
    nll_cross_ += nll_b * nll_t;
    // Σ p_base (log p_base - log p_test) over the entries llama.cpp's stored base keeps
    // (log p_base > -16; the rest is below its 16-nat window).
    double kld = 0.0;
    for (size_t i = 0; i < base_logp_.size(); ++i) {
        if (base_logp_[i] > -16.0) kld += std::exp(base_logp_[i]) * (base_logp_[i] - test_logp_[i]);
    }
    kld_.push_back(kld);
    kld_sum_ += kld;
    kld_sum2_ += kld * kld;
    const double dp = std::exp(-nll_t) - std::exp(-nll_b);
    dp_.push_back(dp);
    dp_sum_ += dp;
    dp_sum2_ += dp * dp;
    if (first_argmax(base_logp_) == first_argmax(test_logp_)) ++same_top_;
}

nlohmann::json KldStats::summary() const {
    using nlohmann::json;
    const int64_t n = count();
    if (n == 0) return json::object();
    const double dn = static_cast<double>(n);
    const MeanUnc lq = mean_and_uncertainty(nll_test_.sum, nll_test_.sum2, n);
    const MeanUnc lb = mean_and_uncertainty(nll_base_.sum, nll_base_.sum2, n);
    // Covariance of the two NLL series, as an uncertainty term of their means (0 below 10 tokens).
    const double cov = n < 10 ? 0.0 : (nll_cross_ / dn - lq.mean * lb.mean) / (dn - 1.0);
    const double var_q = nll_test_.sum2 / dn - lq.mean * lq.mean;
    const double var_b = nll_base_.sum2 / dn - lb.mean * lb.mean;
    const double cor = var_q > 0.0 && var_b > 0.0 ? (nll_cross_ / dn - lq.mean * lb.mean) / std::sqrt(var_q * var_b) : 0.0;
    const double ppl_q = std::exp(lq.mean), ppl_b = std::exp(lb.mean);
    const double log_ratio = lq.mean - lb.mean;
    const double log_ratio_unc = std::sqrt(std::max(0.0, lq.unc * lq.unc + lb.unc * lb.unc - 2.0 * cov));
    const double diff_unc = std::sqrt(std::max(0.0, ppl_q * ppl_q * lq.unc * lq.unc + ppl_b * ppl_b * lb.unc * lb.unc - 2.0 * ppl_q * ppl_b * cov));

    std::vector<double> kld = kld_, dp = dp_;
    std::sort(kld.begin(), kld.end());
    std::sort(dp.begin(), dp.end());
    const MeanUnc k = mean_and_uncertainty(kld_sum_, kld_sum2_, n);
    const MeanUnc d = mean_and_uncertainty(dp_sum_, dp_sum2_, n);
    // RMS of Δp, and its uncertainty from that of the mean of Δp²: 0.5 · unc(MSE) / RMS.
    double sum4 = 0.0;
    for (double v : dp_) sum4 += v * v * v * v;
    const MeanUnc mse = mean_and_uncertainty(dp_sum2_, sum4, n);
    const double rms = std::sqrt(mse.mean);
    const double rms_unc = rms > 0.0 ? 0.5 * mse.unc / rms : 0.0;
    const double same = static_cast<double>(same_top_) / dn;

    json kld_j = {{"mean", k.mean},
                  {"uncertainty", k.unc},
                  {"max", kld.back()},
                  {"p99_9", percentile(kld, 0.999)},
                  {"p99", percentile(kld, 0.99)},
                  {"p95", percentile(kld, 0.95)},
                  {"p90", percentile(kld, 0.90)},
                  {"median", percentile(kld, 0.5)},
                  {"p10", percentile(kld, 0.10)},
                  {"p5", percentile(kld, 0.05)},
                  {"p1", percentile(kld, 0.01)},
                  {"p0_1", percentile(kld, 0.001)},
                  {"min", kld.front()}};
    json dp_j = {{"mean", d.mean},
                 {"uncertainty", d.unc},
                 {"rms", rms},
                 {"rms_uncertainty", rms_unc},
                 {"max", dp.back()},
                 {"p99_9", percentile(dp, 0.999)},
                 {"p99", percentile(dp, 0.99)},
                 {"p95", percentile(dp, 0.95)},
                 {"p90", percentile(dp, 0.90)},
                 {"p75", percentile(dp, 0.75)},
                 {"median", percentile(dp, 0.5)},
                 {"p25", percentile(dp, 0.25)},
                 {"p10", percentile(dp, 0.10)},
                 {"p5", percentile(dp, 0.05)},
                 {"p1", percentile(dp, 0.01)},
                 {"p0_1", percentile(dp, 0.001)},
                 {"min", dp.front()}};
    return {{"tokens", n},
            {"ppl", ppl_q},
            {"ppl_uncertainty", ppl_q * lq.unc},
            {"ppl_base", ppl_b},
            {"ppl_base_uncertainty", ppl_b * lb.unc},
            {"ln_ppl_correlation", cor},
            {"ln_ppl_ratio", log_ratio},
            {"ln_ppl_ratio_uncertainty", log_ratio_unc},
            {"ppl_ratio", std::exp(log_ratio)},
            {"ppl_ratio_uncertainty", std::exp(log_ratio) * log_ratio_unc},
            {"ppl_difference", ppl_q - ppl_b},
            {"ppl_difference_uncertainty", diff_unc},
            {"kld", kld_j},
            {"delta_p", dp_j},
            {"top1_agreement", same},
            {"top1_agreement_uncertainty", n > 1 ? std::sqrt(same * (1.0 - same) / (dn - 1.0)) : 0.0}};
}

}  // namespace llmq
