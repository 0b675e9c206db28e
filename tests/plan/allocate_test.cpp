// The bit-budget solver against an exhaustive search on small random instances, and its edges.
#include "llmq/plan/allocate.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "llmq/error.hpp"

namespace llmq {
namespace {

using plan::CandidateCost;
using plan::TensorChoices;

// Types stand for "a candidate" here; the solver only reads bytes and loss.
constexpr GgmlType kTypes[] = {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_0};

// Tensors of random sizes whose loss falls roughly 4x per extra bit, with noise, so fronts are
// not always convex (as measured losses are not).
std::vector<TensorChoices> random_instance(std::mt19937& rng, size_t n) {
    std::uniform_int_distribution<int> size(1, 40);
    std::uniform_real_distribution<double> sens(0.1, 10.0), noise(0.5, 1.5);
    const double bits[] = {2.625, 3.4375, 4.5, 5.5, 6.5625, 8.5};
    std::vector<TensorChoices> ts(n);
    for (size_t i = 0; i < n; ++i) {
        ts[i].name = "t" + std::to_string(i);
        const double params = 256.0 * size(rng);
        const double s = sens(rng);
        for (size_t k = 0; k < 6; ++k) {
            ts[i].options.push_back({kTypes[k], static_cast<uint64_t>(params * bits[k] / 8.0), s * params * std::pow(4.0, -bits[k]) * noise(rng)});
        }
    }
    return ts;
}

double exhaustive_best(const std::vector<TensorChoices>& ts, uint64_t budget) {
    double best = INFINITY;
    std::vector<size_t> idx(ts.size(), 0);
    for (;;) {
        uint64_t bytes = 0;
        double loss = 0;
        for (size_t i = 0; i < ts.size(); ++i) {
            bytes += ts[i].options[idx[i]].bytes;
            loss += ts[i].options[idx[i]].loss;
        }
        if (bytes <= budget) best = std::min(best, loss);
        size_t k = 0;
        while (k < ts.size() && ++idx[k] == ts[k].options.size()) idx[k++] = 0;
        if (k == ts.size()) return best;
    }
}

TEST(Allocate, MatchesExhaustiveSearchOnSmallInstances) {
    std::mt19937 rng(7);
    int exact = 0, cases = 0;
    double worst_excess = 0;
    for (int rep = 0; rep < 60; ++rep) {
        const auto ts = random_instance(rng, 6);
        const uint64_t lo = plan::min_bytes(ts), hi = plan::max_bytes(ts);
        for (double f : {0.1, 0.3, 0.5, 0.7, 0.9}) {
            const auto budget = static_cast<uint64_t>(static_cast<double>(lo) + f * static_cast<double>(hi - lo));
            const auto a = plan::allocate(ts, budget);
            ASSERT_LE(a.bytes, budget);
            double loss = 0;
            uint64_t bytes = 0;
            for (size_t i = 0; i < ts.size(); ++i) {
                loss += ts[i].options[a.choice[i]].loss;
                bytes += ts[i].options[a.choice[i]].bytes;
            }
            EXPECT_DOUBLE_EQ(loss, a.loss);
            EXPECT_EQ(bytes, a.bytes);
            const double best = exhaustive_best(ts, budget);
            ASSERT_GE(loss, best * (1 - 1e-12));
            worst_excess = std::max(worst_excess, loss / best - 1);
            exact += loss <= best * (1 + 1e-12);
            ++cases;
        }
    }
    std::printf("[          ] optimal in %d of %d cases, worst %.2f%% above the optimum\n", exact, cases, 100 * worst_excess);
    EXPECT_GE(exact, cases * 95 / 100);
    EXPECT_LT(worst_excess, 0.01);
}

TEST(Allocate, LargeBudgetTakesTheLowestLossAndSmallBudgetTheSmallest) {
    std::mt19937 rng(3);
    const auto ts = random_instance(rng, 20);
    const auto top = plan::allocate(ts, plan::max_bytes(ts));
    const auto bottom = plan::allocate(ts, plan::min_bytes(ts));
    EXPECT_EQ(bottom.bytes, plan::min_bytes(ts));
    for (size_t i = 0; i < ts.size(); ++i) {
        double lowest = INFINITY;
        for (const auto& o : ts[i].options) lowest = std::min(lowest, o.loss);
        EXPECT_EQ(ts[i].options[top.choice[i]].loss, lowest) << ts[i].name;
    }
}

TEST(Allocate, ABudgetBelowTheSmallestMixIsAUsageErrorNamingIt) {
    std::mt19937 rng(5);
    const auto ts = random_instance(rng, 4);
    try {
        plan::allocate(ts, plan::min_bytes(ts) - 1);
        FAIL() << "no error";
    } catch (const Failure& f) {
        EXPECT_EQ(f.error().code, ExitCode::Usage);
        EXPECT_NE(f.error().message.find(std::to_string(plan::min_bytes(ts))), std::string::npos) << f.error().message;
    }
}

TEST(Allocate, SpendsTheBudgetWhereTheLossIsAndIsDeterministic) {
    // Two equal tensors, one 100x more sensitive: it must get the wider type.
    std::vector<TensorChoices> ts(2);
    for (size_t i = 0; i < 2; ++i) {
        ts[i].name = i ? "sensitive" : "robust";
        const double s = i ? 100.0 : 1.0;
        ts[i].options = {{GgmlType::Q2_K, 100, s * 8}, {GgmlType::Q4_K, 200, s * 2}, {GgmlType::Q8_0, 400, s * 0.1}};
    }
    const auto a = plan::allocate(ts, 500);
    EXPECT_EQ(ts[1].options[a.choice[1]].type, GgmlType::Q8_0);
    EXPECT_EQ(ts[0].options[a.choice[0]].type, GgmlType::Q2_K);
    const auto b = plan::allocate(ts, 500);
    EXPECT_EQ(a.choice, b.choice);
}

}  // namespace
}  // namespace llmq
