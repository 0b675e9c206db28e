// Single-thread throughput of the legacy codecs and the F16/BF16 conversions, in MB/s of f32
// data (quantize: f32 read; dequantize: f32 written). Usage: bench_legacy [MiB of floats, default 64]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "llmq/quant/codec.hpp"

namespace {

template <class F>
double best_seconds(F&& f, int reps) {
    double best = 1e30;
    for (int r = 0; r < reps; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        f();
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return best;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace llmq;
    const size_t mib = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 64;
    const int64_t n_per_row = 4096;
    const size_t rows = std::max<size_t>(1, (mib << 20) / 4 / n_per_row);
    const size_t n = rows * n_per_row;
    std::vector<float> x(n), y(n), imatrix(n_per_row);
    std::mt19937 rng(1);
    std::normal_distribution<float> weight(0.0f, 0.02f);
    std::uniform_real_distribution<float> importance(0.1f, 4.0f);
    for (auto& v : x) v = weight(rng);
    for (auto& v : imatrix) v = importance(rng);
    const double mb = static_cast<double>(n) * 4.0 / 1e6;

    std::printf("%zu MiB of f32 (%zu x %lld), one thread, best of 3, MB/s\n", mib, rows, static_cast<long long>(n_per_row));
    std::printf("%-6s %12s %12s %12s\n", "type", "quantize", "+imatrix", "dequantize");
    for (const GgmlType type : {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::F16, GgmlType::BF16}) {
        std::vector<uint8_t> q(rows * row_size(type, n_per_row));
        const double tq = best_seconds([&] { quantize_rows(type, x, q, n_per_row); }, 3);
        const double ti = best_seconds([&] { quantize_rows(type, x, q, n_per_row, imatrix); }, 1);
        const double td = best_seconds([&] { dequantize(type, q, y); }, 3);
        std::printf("%-6s %12.0f %12.0f %12.0f\n", std::string(type_name(type)).c_str(), mb / tq, mb / ti, mb / td);
    }
    return 0;
}
