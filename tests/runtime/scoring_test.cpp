// The scoring formulas of llama-perplexity (reference §6) on small hand-checked inputs.
#include "llmq/runtime/scoring.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace llmq {
namespace {

TEST(Scoring, TokenNllIsMinusLogSoftmax) {
    const std::vector<float> logits = {1.0f, 3.0f, -2.0f, 0.5f};
    double z = 0.0;
    for (float l : logits) z += std::exp(static_cast<double>(l));
    for (int32_t t = 0; t < 4; ++t) EXPECT_NEAR(token_nll(logits, t), -(logits[static_cast<size_t>(t)] - std::log(z)), 1e-6);
    // Large logits do not overflow (max subtraction).
    const std::vector<float> big = {1000.0f, 1000.0f};
    EXPECT_NEAR(token_nll(big, 1), std::log(2.0), 1e-9);
}

TEST(Scoring, PerplexityAndUncertainty) {
    NllStats s;
    for (double v : {1.0, 2.0, 3.0}) s.add(v);
    EXPECT_NEAR(s.ppl(), std::exp(2.0), 1e-12);
    // PPL · sqrt((E[x²] - E[x]²) / (n - 1)) = e² · sqrt((14/3 - 4) / 2)
    EXPECT_NEAR(s.ppl_uncertainty(), std::exp(2.0) * std::sqrt((14.0 / 3.0 - 4.0) / 2.0), 1e-12);
    NllStats one;
    one.add(1.0);
    EXPECT_EQ(one.ppl_uncertainty(), 0.0);
}

TEST(Scoring, MeanAndUncertaintyNeedMoreThanTenValues) {
    EXPECT_EQ(mean_and_uncertainty(10.0, 30.0, 10).unc, 0.0);
    const MeanUnc m = mean_and_uncertainty(11.0, 33.0, 11);
    EXPECT_DOUBLE_EQ(m.mean, 1.0);
    EXPECT_NEAR(m.unc, std::sqrt((3.0 - 1.0) / 10.0), 1e-12);
}

TEST(Scoring, PercentilesInterpolate) {
    const std::vector<double> v = {1.0, 2.0, 4.0, 8.0};
    EXPECT_DOUBLE_EQ(percentile(v, 0.0), 1.0);
    EXPECT_DOUBLE_EQ(percentile(v, 1.0), 8.0);
    EXPECT_DOUBLE_EQ(percentile(v, 0.5), 3.0);  // mean of the middle two
    EXPECT_DOUBLE_EQ(percentile(v, 0.25), 1.75);
}

TEST(Scoring, KlDivergenceOfKnownDistributions) {
    // p = softmax(base), q = softmax(test); KL = Σ p (log p - log q).
    const std::vector<float> base = {2.0f, 1.0f, 0.0f}, test = {1.0f, 1.0f, 1.0f};
    KldStats k;
    k.add(base, test, 0);
    double z = 0.0;
    for (float l : base) z += std::exp(static_cast<double>(l));
    double kl = 0.0;
    for (float l : base) {
        const double lp = l - std::log(z);
        kl += std::exp(lp) * (lp - std::log(1.0 / 3.0));
    }
    const auto s = k.summary();
    // The softmax sums use expf as llama.cpp does: agreement to float precision.
    EXPECT_NEAR(s["kld"]["mean"].get<double>(), kl, 1e-7);
    EXPECT_EQ(s["top1_agreement"], 1.0);  // first maximum of the flat distribution is token 0
    EXPECT_NEAR(s["delta_p"]["mean"].get<double>(), 1.0 / 3.0 - std::exp(2.0) / z, 1e-7);
    // Entries more than 16 nats below the top do not count (llama.cpp's stored window).
    KldStats far;
    far.add(std::vector<float>{0.0f, -40.0f}, std::vector<float>{0.0f, 0.0f}, 0);
    EXPECT_NEAR(far.summary()["kld"]["mean"].get<double>(), 0.0 - std::log(0.5), 1e-9);
}

}  // namespace
}  // namespace llmq
