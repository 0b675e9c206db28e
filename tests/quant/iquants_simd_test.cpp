// The SIMD I-quant search kernels must return exactly what the scalar reference kernels return —
// kernel by kernel on random inputs built to provoke ties, boundaries and non-finite values, and
// through the whole quantizers on large inputs with every awkward kind of data. The scalar path
// alone must also reproduce ggml's golden bytes (the golden test runs the SIMD path).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <vector>

#include "llmq/quant/codec.hpp"
#include "quant/ggml_tables.hpp"
#include "quant/iq_search.hpp"
#include "support/fixtures.hpp"
#include "support/quant_inputs.hpp"

namespace llmq {
namespace {

using quant::iq::Grid;

struct SimdGuard {
    ~SimdGuard() { quant::set_iquant_simd(true); }
};

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Values from a small set of magnitudes (many exact ties) or continuous, by `mode`.
float draw(std::mt19937& rng, int mode, float scale) {
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    if (mode == 0) return scale * static_cast<float>(static_cast<int>(u(rng) * 4)) * 0.5f;
    return scale * u(rng);
}

TEST(IquantSimd, SimdKernelsAreAvailable) {
    // The native build targets AVX2; a build without a SIMD architecture would silently compare the
    // scalar kernels with themselves.
    EXPECT_TRUE(quant::iq::simd_available());
}

TEST(IquantSimd, NeighbourSearchMatchesScalar) {
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    const float iq1_levels[3] = {-1.125f, -0.125f, 0.875f};
    const float levels[8] = {1, 3, 5, 7, 9, 11, 13, 15};
    size_t searches = 0, ties = 0;
    for (const Grid grid : {Grid::Iq2xxs, Grid::Iq2xs, Grid::Iq2s, Grid::Iq1, Grid::Iq3xxs, Grid::Iq3s}) {
        const auto& g = quant::iq::grid_map(grid);
        const float* lev = grid == Grid::Iq1 ? iq1_levels : levels;
        for (size_t l = 0; l < g.lists.size(); ++l) {
            const auto& list = g.lists[l];
            const int mode = static_cast<int>(l % 4);
            float x[8], w[8];
            for (int i = 0; i < g.dim; ++i) {
                x[i] = draw(rng, mode % 2, 6.0f) - (grid == Grid::Iq1 ? 3.0f : 0.0f);
                w[i] = mode == 2 && i % 3 == 0 ? 0.0f : draw(rng, mode / 2, 2.0f);
            }
            if (l % 97 == 0) x[l % g.dim] = (l % 2) ? kInf : kNaN;  // non-finite distances
            if (l % 89 == 0) w[0] = kInf;
            const float scale = mode == 0 ? 1.0f : 0.5f + u(rng);
            const int a = quant::iq::nearest_neighbour_scalar(g, list, x, w, scale, lev);
            const int b = quant::iq::nearest_neighbour_simd(g, list, x, w, scale, lev);
            ASSERT_EQ(a, b) << "grid " << static_cast<int>(grid) << " list " << l;
            ++searches;
            // Count searches whose minimum is shared (the first must win in both).
            int equal = 0;
            float best = kInf;
            for (uint32_t j = 0; j < list.count; ++j) {
                const uint8_t* p = g.point(g.neighbours[list.first + j]);
                float d2 = 0;
                for (int i = 0; i < g.dim; ++i) {
                    const float diff = scale * lev[p[i]] - x[i];
                    d2 += w[i] * diff * diff;
                }
                if (d2 < best) {
                    best = d2;
                    equal = 1;
                } else if (d2 == best) {
                    ++equal;
                }
            }
            ties += equal > 1;
        }
    }
    EXPECT_GT(searches, 10000u);
    EXPECT_GT(ties, 1000u);  // the inputs do exercise the tie rule
}

TEST(IquantSimd, TrialCodesAndFitsMatchScalar) {
    std::mt19937 rng(11);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (int iter = 0; iter < 2000; ++iter) {
        const int n = iter % 2 ? 32 : 16;
        const int max_code = iter % 3 ? 2 : 7;
        std::vector<float> x(n), w(n), wx(n);
        for (int i = 0; i < n; ++i) {
            x[i] = iter % 5 == 0 ? std::round(normal(rng) * 4) / 4 : normal(rng);  // ties at .5 boundaries
            w[i] = std::fabs(normal(rng));
            wx[i] = w[i] * x[i];
        }
        if (iter % 50 == 0) x[iter % n] = iter % 100 ? kInf : kNaN;
        const float id = iter % 7 == 0 ? 1.0f : std::fabs(normal(rng)) * 8;
        std::vector<int8_t> a(n), b(n);
        quant::iq::block_codes_scalar(n, x.data(), id, max_code, a.data());
        quant::iq::block_codes_simd(n, x.data(), id, max_code, b.data());
        ASSERT_EQ(a, b) << "iteration " << iter;

        const int trials = 1 + iter % 31, stride = 32;
        std::vector<int8_t> Lt(static_cast<size_t>(n) * stride);
        for (auto& l : Lt) l = static_cast<int8_t>(rng() % (max_code + 1));
        std::vector<float> sx1(32), s21(32), sx2(32), s22(32);
        quant::iq::trial_sums_scalar(n, trials, stride, Lt.data(), wx.data(), w.data(), sx1.data(), s21.data());
        quant::iq::trial_sums_simd(n, trials, stride, Lt.data(), wx.data(), w.data(), sx2.data(), s22.data());
        for (int t = 0; t < trials; ++t) {
            ASSERT_EQ(std::bit_cast<uint32_t>(sx1[t]), std::bit_cast<uint32_t>(sx2[t])) << "iteration " << iter;
            ASSERT_EQ(std::bit_cast<uint32_t>(s21[t]), std::bit_cast<uint32_t>(s22[t])) << "iteration " << iter;
        }
    }
}

TEST(IquantSimd, Iq4IndexAndFitsMatchScalar) {
    // Every table value, every midpoint (ties go up), their float neighbours, the range ends,
    // non-finite values, and random values.
    const auto& v = quant::tables::kvalues_iq4nl;
    std::vector<float> x;
    for (int k = 0; k < 16; ++k) {
        const float a = v[k];
        x.insert(x.end(), {a, std::nextafter(a, -kInf), std::nextafter(a, kInf)});
        if (k < 15) {
            const float mid = (a + static_cast<float>(v[k + 1])) / 2;
            x.insert(x.end(), {mid, std::nextafter(mid, -kInf), std::nextafter(mid, kInf)});
        }
    }
    x.insert(x.end(), {-1000.f, 1000.f, kInf, -kInf, kNaN, 0.0f, -0.0f});
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(-140.0f, 130.0f);
    while (x.size() % 32) x.push_back(u(rng));
    for (int i = 0; i < 4096; ++i) x.push_back(u(rng));
    std::vector<uint8_t> a(x.size()), b(x.size());
    quant::iq::iq4_codes_scalar(static_cast<int>(x.size()), x.data(), 1.0f, a.data());
    quant::iq::iq4_codes_simd(static_cast<int>(x.size()), x.data(), 1.0f, b.data());
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(a[i], b[i]) << "x = " << x[i];

    std::normal_distribution<float> normal(0.0f, 0.02f);
    for (int iter = 0; iter < 500; ++iter) {
        std::array<float, 32> xs, w;
        for (int j = 0; j < 32; ++j) {
            xs[j] = normal(rng);
            w[j] = xs[j] * xs[j];
        }
        std::array<float, 16> ids, sx1, s21, sx2, s22;
        for (int t = 0; t < 16; ++t) ids[t] = static_cast<float>(t - 127) / 0.05f;
        quant::iq::iq4_trial_sums_scalar(32, 16, ids.data(), xs.data(), w.data(), sx1.data(), s21.data());
        quant::iq::iq4_trial_sums_simd(32, 16, ids.data(), xs.data(), w.data(), sx2.data(), s22.data());
        for (int t = 0; t < 16; ++t) {
            ASSERT_EQ(std::bit_cast<uint32_t>(sx1[t]), std::bit_cast<uint32_t>(sx2[t]));
            ASSERT_EQ(std::bit_cast<uint32_t>(s21[t]), std::bit_cast<uint32_t>(s22[t]));
        }
    }
}

TEST(IquantSimd, Iq1SplitSearchesMatchScalar) {
    std::mt19937 rng(5);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    const float xp[3] = {-0.875f, 0.125f, 1.125f}, xm[3] = {-1.125f, -0.125f, 0.875f};
    for (int iter = 0; iter < 3000; ++iter) {
        const int mode = iter % 4;  // 0 continuous, 1 few distinct values, 2 one-signed, 3 zero weights
        std::array<float, 32> x, w;
        for (int i = 0; i < 32; ++i) {
            x[i] = mode == 1 ? std::round(normal(rng) * 2) / 2 : normal(rng);
            if (mode == 2) x[i] = std::fabs(x[i]);
            w[i] = mode == 3 && i % 4 == 0 ? 0.0f : std::fabs(normal(rng)) + (mode == 1 ? 0.0f : 0.1f);
        }
        std::array<int, 32> order;
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return x[a] < x[b]; });
        std::array<float, 33> sumx{}, sumw{};
        for (int j = 0; j < 32; ++j) {
            sumx[j + 1] = sumx[j] + w[order[j]] * x[order[j]];
            sumw[j + 1] = sumw[j] + w[order[j]];
        }
        const auto s1 = quant::iq::iq1s_best_split_scalar(32, sumx.data(), sumw.data(), xp, xm, 1.0f);
        const auto s2 = quant::iq::iq1s_best_split_simd(32, sumx.data(), sumw.data(), xp, xm, 1.0f);
        ASSERT_EQ(std::tie(s1.i1, s1.i2, s1.variant), std::tie(s2.i1, s2.i2, s2.variant)) << "iteration " << iter;
        ASSERT_EQ(std::bit_cast<uint32_t>(s1.scale), std::bit_cast<uint32_t>(s2.scale));

        std::array<int, 16> order16;
        std::iota(order16.begin(), order16.end(), 0);
        std::stable_sort(order16.begin(), order16.end(), [&](int a, int b) { return x[a] < x[b]; });
        const auto m1 = quant::iq::iq1m_best_split_scalar(16, order16.data(), w.data(), x.data(), xp, xm, 1.0f);
        const auto m2 = quant::iq::iq1m_best_split_simd(16, order16.data(), w.data(), x.data(), xp, xm, 1.0f);
        ASSERT_EQ(std::tie(m1.i1, m1.i2, m1.variant), std::tie(m2.i1, m2.i2, m2.variant)) << "iteration " << iter;
        ASSERT_EQ(std::bit_cast<uint32_t>(m1.scale), std::bit_cast<uint32_t>(m2.scale));
    }
}

// ---- whole quantizers ---------------------------------------------------------------------------

constexpr int64_t kRows = 32;
constexpr int64_t kCols = 4096;

std::vector<float> make_input() {
    return test::make_varied_input(kRows, kCols);
}

std::vector<float> make_imatrix() {
    std::mt19937 rng(99);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    std::vector<float> w(kCols);
    for (auto& v : w) {
        const float t = u(rng);
        v = 0.05f + 4 * t * t;
    }
    for (int64_t c = 0; c < kCols; c += 97) w[c] = 1e-6f;
    return w;
}

class IquantSimdQuantizer : public ::testing::TestWithParam<GgmlType> {};

TEST_P(IquantSimdQuantizer, MatchesScalarBitForBit) {
    const GgmlType type = GetParam();
    static const auto input = make_input();
    static const auto imatrix = make_imatrix();
    const size_t bytes = static_cast<size_t>(kRows) * row_size(type, kCols);
    const size_t block_bytes = traits(type).type_size;
    SimdGuard guard;
    for (const bool with_imatrix : {false, true}) {
        if (!with_imatrix && traits(type).ggml_requires_imatrix) continue;
        const auto imat = with_imatrix ? std::span<const float>(imatrix) : std::span<const float>();
        std::vector<uint8_t> scalar(bytes), simd(bytes);
        quant::set_iquant_simd(false);
        quantize_rows(type, input, scalar, kCols, imat);
        quant::set_iquant_simd(true);
        quantize_rows(type, input, simd, kCols, imat);
        size_t differing = 0;
        for (size_t b = 0; b < bytes / block_bytes; ++b)
            differing += !std::equal(scalar.begin() + b * block_bytes, scalar.begin() + (b + 1) * block_bytes, simd.begin() + b * block_bytes);
        EXPECT_EQ(differing, 0u) << type_name(type) << (with_imatrix ? " imatrix" : " no imatrix");
    }
}

// Non-finite values (a corrupt model) must neither crash the searches nor make the paths differ.
TEST_P(IquantSimdQuantizer, NonFiniteInputMatchesScalar) {
    const GgmlType type = GetParam();
    auto x = make_input();
    x.resize(static_cast<size_t>(4 * kCols));
    for (size_t i = 0; i < x.size(); i += 61) x[i] = (i / 61) % 3 == 0 ? kNaN : (i / 61) % 3 == 1 ? kInf : -kInf;
    std::fill_n(x.begin() + kCols, 256, kNaN);
    std::vector<float> imatrix(kCols, 1.0f);
    imatrix[7] = kInf;
    const size_t bytes = 4 * row_size(type, kCols);
    std::vector<uint8_t> scalar(bytes), simd(bytes);
    SimdGuard guard;
    quant::set_iquant_simd(false);
    quantize_rows(type, x, scalar, kCols, imatrix);
    quant::set_iquant_simd(true);
    quantize_rows(type, x, simd, kCols, imatrix);
    EXPECT_EQ(scalar, simd) << type_name(type);
}

INSTANTIATE_TEST_SUITE_P(Types, IquantSimdQuantizer,
                         ::testing::Values(GgmlType::IQ1_S, GgmlType::IQ1_M, GgmlType::IQ2_XXS, GgmlType::IQ2_XS, GgmlType::IQ2_S, GgmlType::IQ3_XXS,
                                           GgmlType::IQ3_S, GgmlType::IQ4_NL, GgmlType::IQ4_XS),
                         [](const auto& info) { return std::string(type_name(info.param)); });

// The golden test runs the default (SIMD) kernels; the scalar reference must give the same bytes.
TEST(IquantSimd, ScalarKernelsReproduceTheGoldens) {
    const auto manifest = nlohmann::json::parse(test::read_file(test::fixture("ggml-golden/manifest.json")));
    const auto input = test::read_f32(test::fixture("ggml-golden/input_f32.bin"));
    const auto imatrix = test::read_f32(test::fixture("ggml-golden/imatrix_f32.bin"));
    SimdGuard guard;
    quant::set_iquant_simd(false);
    int checked = 0;
    for (const auto& c : manifest["quantization_cases"]) {
        const std::string name = c["type"];
        if (name.rfind("iq", 0) != 0) continue;
        const auto type = type_from_name(name);
        ASSERT_TRUE(type.has_value());
        const auto expected = test::read_file(test::fixture("ggml-golden/" + c["quantized"].get<std::string>()));
        std::vector<uint8_t> out(expected.size());
        quantize_rows(*type, input, out, c["n_per_row"].get<int64_t>(),
                      c["mode"] == "imat" ? std::span<const float>(imatrix) : std::span<const float>());
        EXPECT_EQ(out, expected) << name << " " << c["mode"];
        ++checked;
    }
    EXPECT_EQ(checked, 15);
}

}  // namespace
}  // namespace llmq
