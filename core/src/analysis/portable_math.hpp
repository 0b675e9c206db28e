// exp and log from +, −, ×, ÷ only, so a measurement gives the same bits on every host: the C
// libraries differ in their last bit (glibc picks FMA variants on AVX2 machines, wasm's musl
// does not), and a cost that differs in its last bit can flip a solver's tie. About 1e-15
// relative accuracy, plenty for losses. Requires -ffp-contract=off (the core's flags).
#pragma once

#include <cmath>
#include <limits>

namespace llmq::portable {

inline double exp(double x) {
    if (x != x) return x;
    if (x > 709.0) return std::numeric_limits<double>::infinity();
    if (x < -745.0) return 0.0;
    // x = k·ln2 + r, |r| <= ln2/2; ln2 split in two so k·ln2 is exact enough.
    constexpr double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    const double k = std::nearbyint(x * 1.44269504088896338700e+00);
    const double r = (x - k * ln2_hi) - k * ln2_lo;
    // Taylor series to r^13/13!: the remainder is below 1e-17 for |r| <= 0.35.
    double term = 1.0, sum = 1.0;
    for (int i = 1; i <= 13; ++i) {
        term = term * r / i;
        sum = sum + term;
    }
    return std::ldexp(sum, static_cast<int>(k));
}

inline double log(double x) {
    if (x != x || x < 0) return std::numeric_limits<double>::quiet_NaN();
    if (x == 0) return -std::numeric_limits<double>::infinity();
    if (x == std::numeric_limits<double>::infinity()) return x;
    int e = 0;
    double m = std::frexp(x, &e);  // x = m·2^e, m in [0.5, 1)
    if (m < 0.70710678118654752440) {
        m = m * 2.0;
        e = e - 1;
    }
    // log m = 2·atanh(s), s = (m−1)/(m+1), |s| <= 0.172: the series to s^29 is exact to 1e-17.
    const double s = (m - 1.0) / (m + 1.0), s2 = s * s;
    double term = s, sum = 0.0;
    for (int i = 1; i <= 29; i += 2) {
        sum = sum + term / i;
        term = term * s2;
    }
    constexpr double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    return (2.0 * sum + e * ln2_lo) + e * ln2_hi;
}

}  // namespace llmq::portable
