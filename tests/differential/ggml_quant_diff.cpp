// Differential test of llmq's quantizers against ggml's own (opt-in: `make ggml-diff`, which builds
// this against a llama.cpp build's libggml-base). Random blocks — Gaussian values with outliers,
// random importance weights — are quantized by both, with and without an importance matrix, and
// every byte compared. Prints, per type, how many blocks differ; exit 1 if any does. The
// differences it finds become golden regression tests (tests/fixtures/regressions).
//   ggml_quant_diff [BLOCKS] [TYPE...]     (default: 20000 blocks, every type both write)
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ggml.h"
#include "llmq/quant/codec.hpp"
#include "llmq/quant/types.hpp"

namespace {

// Blocks of 256 values: a Gaussian row with a scattered 7× outlier every 29th value in one block
// of five (the shape of real weight rows), and importance weights spread over 60×.
struct Blocks {
    std::mt19937 rng{7};
    std::normal_distribution<float> normal{0.0f, 1.0f};
    std::uniform_real_distribution<float> importance{0.05f, 3.0f};

    void next(int k, std::vector<float>& x, std::vector<float>& w) {
        for (size_t i = 0; i < x.size(); ++i) {
            const bool outlier = k % 5 == 0 && i % 29 == 0;
            x[i] = 0.02f * normal(rng) * (outlier ? 7.0f : 1.0f);
            w[i] = importance(rng);
        }
    }
};

}  // namespace

int main(int argc, char** argv) {
    const int blocks = argc > 1 ? std::atoi(argv[1]) : 20000;
    std::vector<std::string> names;
    for (int a = 2; a < argc; ++a) names.push_back(argv[a]);
    if (names.empty()) {
        for (uint32_t id = 0; id < llmq::kGgmlTypeCount; ++id) {
            const llmq::TypeTraits* t = llmq::find_traits(id);
            if (t && t->quantized && t->quantize) names.emplace_back(t->name);
        }
    }
    int failed = 0;
    std::vector<float> x(256), w(256);
    for (const auto& name : names) {
        const auto type = llmq::type_from_name(name);
        if (!type) {
            std::fprintf(stderr, "unknown type %s\n", name.c_str());
            return 2;
        }
        const llmq::TypeTraits& t = llmq::traits(*type);
        const auto gtype = static_cast<ggml_type>(static_cast<int>(*type));
        ggml_quantize_init(gtype);
        const size_t bytes = t.type_size * static_cast<size_t>(256 / t.block_size);
        std::vector<uint8_t> theirs(bytes), ours(bytes);
        int with = 0, without = 0;
        Blocks gen;
        for (int k = 0; k < blocks; ++k) {
            gen.next(k, x, w);
            ggml_quantize_chunk(gtype, x.data(), theirs.data(), 0, 1, 256, w.data());
            llmq::quantize_rows(*type, x, ours, 256, w);
            with += std::memcmp(theirs.data(), ours.data(), bytes) != 0;
            if (!t.ggml_requires_imatrix) {
                ggml_quantize_chunk(gtype, x.data(), theirs.data(), 0, 1, 256, nullptr);
                llmq::quantize_rows(*type, x, ours, 256, {});
                without += std::memcmp(theirs.data(), ours.data(), bytes) != 0;
            }
        }
        std::printf("%-8s %7d blocks: %5d differ with an importance matrix, %5d without\n", name.c_str(), blocks, with, without);
        failed += with + without;
    }
    return failed ? 1 : 0;
}
