// The host-independent exp and log of the dynamic measurement agree with the C library to
// about 1e-15 over the range the KL divergences use.
#include "analysis/portable_math.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace llmq {
namespace {

TEST(PortableMath, ExpAndLogAgreeWithTheCLibrary) {
    double worst_exp = 0, worst_log = 0;
    for (double x = -740.0; x <= 700.0; x += 0.0137) {
        worst_exp = std::max(worst_exp, std::fabs(portable::exp(x) / std::exp(x) - 1.0));
    }
    for (double x = 1e-300; x < 1e300; x *= 1.37) {
        const double want = std::log(x);
        worst_log = std::max(worst_log, std::fabs(portable::log(x) - want) / std::max(1.0, std::fabs(want)));
    }
    std::printf("[          ] worst relative error: exp %.2e, log %.2e\n", worst_exp, worst_log);
    EXPECT_LT(worst_exp, 2e-14);
    EXPECT_LT(worst_log, 2e-15);
    EXPECT_EQ(portable::exp(0.0), 1.0);
    EXPECT_EQ(portable::log(1.0), 0.0);
    EXPECT_EQ(portable::exp(-800.0), 0.0);
    EXPECT_TRUE(std::isinf(portable::log(0.0)));
}

}  // namespace
}  // namespace llmq
