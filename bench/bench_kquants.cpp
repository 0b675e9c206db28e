// Single-threaded k-quant throughput on 32 MiB of N(0, 0.02) floats (rows of 4096), scalar
// reference path vs SIMD path, without and with an imatrix. Prints MB/s of f32 input and
// ns per weight (process CPU time); exits non-zero unless both paths produce identical bytes.
//   bench_kquants [MiB]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <vector>

#include "../core/src/quant/kquant_search.hpp"  // the scalar/SIMD switch (internal to the core)
#include "llmq/quant/codec.hpp"

namespace {

double seconds_for(llmq::GgmlType type, const std::vector<float>& x, std::vector<uint8_t>& out, int64_t n_per_row, std::span<const float> imatrix) {
    // Process CPU time: the figure should not depend on what else the machine is running.
    const auto cpu = [] {
        timespec t{};
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
        return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
    };
    const double t0 = cpu();
    llmq::quantize_rows(type, x, out, n_per_row, imatrix);
    return cpu() - t0;
}

}  // namespace

int main(int argc, char** argv) {
    const double mib = argc > 1 ? std::atof(argv[1]) : 32.0;
    const int64_t n_per_row = 4096;
    const auto rows = std::max<int64_t>(1, static_cast<int64_t>(mib * 1024 * 1024 / 4) / n_per_row);
    std::vector<float> x(static_cast<size_t>(rows * n_per_row));
    std::mt19937 rng(42);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    for (auto& v : x) v = normal(rng);
    std::vector<float> imatrix(n_per_row);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (auto& v : imatrix) v = 0.05f + 4 * u(rng) * u(rng);
    const double mb = static_cast<double>(x.size()) * 4 / 1e6;

    std::printf("%lld x %lld f32 (%.1f MB), one thread\n", static_cast<long long>(rows), static_cast<long long>(n_per_row), mb);
    std::printf("%-6s %-7s %12s %12s %9s %12s\n", "type", "imatrix", "scalar MB/s", "simd MB/s", "speedup", "simd ns/wt");
    int status = 0;
    for (const auto type : {llmq::GgmlType::Q2_K, llmq::GgmlType::Q3_K, llmq::GgmlType::Q4_K, llmq::GgmlType::Q5_K, llmq::GgmlType::Q6_K}) {
        for (const bool imat : {false, true}) {
            const std::span<const float> w = imat ? std::span<const float>(imatrix) : std::span<const float>();
            std::vector<uint8_t> a(static_cast<size_t>(rows) * llmq::row_size(type, n_per_row)), b(a.size());
            llmq::quant::set_kquant_simd(false);
            const double ts = seconds_for(type, x, a, n_per_row, w);
            llmq::quant::set_kquant_simd(true);
            const double tv = seconds_for(type, x, b, n_per_row, w);
            const bool same = a == b;
            if (!same) status = 1;
            std::printf("%-6s %-7s %12.1f %12.1f %8.2fx %12.2f%s\n", std::string(llmq::type_name(type)).c_str(), imat ? "yes" : "no", mb / ts,
                        mb / tv, ts / tv, tv * 1e9 / static_cast<double>(x.size()), same ? "" : "  MISMATCH");
        }
    }
    return status;
}
