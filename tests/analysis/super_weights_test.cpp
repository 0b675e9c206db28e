// Super-weight detection on real runs of the fixture model: a weight planted ×100 in an early
// ffn_down must be found first and exactly; the unmodified model must not get invented ones.
// Plus the coverage set against a brute-force ranking, and the observer's state blob.
#include "llmq/analysis/super_weights.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>
#include <tuple>

#include "analysis/super_weight_spikes.hpp"
#include "llmq/error.hpp"
#include "llmq/format/gguf.hpp"
#include "llmq/io/memory.hpp"
#include "llmq/quant/codec.hpp"
#include "llmq/runtime/streamer.hpp"
#include "llmq/runtime/tokenizer.hpp"
#include "runtime/runtime_fixtures.hpp"
#include "thread_pool.hpp"

namespace llmq {
namespace {

using nlohmann::json;

constexpr const char* kDown1 = "blk.1.ffn_down.weight";

// A few stories of the training text, BOS first, as calibration sequences.
std::vector<std::vector<int32_t>> calibration(const ModelView& model, size_t n_seq = 6, size_t n_tok = 96) {
    const Tokenizer tok = Tokenizer::from_metadata(model);
    const auto bytes = test::read_file(test::fixture("text/tinystories_train.txt"));
    const std::string text(bytes.begin(), bytes.begin() + 40000);
    const auto ids = tok.encode(text, false, false);
    std::vector<std::vector<int32_t>> out;
    for (size_t s = 0; s < n_seq; ++s) {
        std::vector<int32_t> seq{tok.bos()};
        seq.insert(seq.end(), ids.begin() + static_cast<std::ptrdiff_t>(s * n_tok), ids.begin() + static_cast<std::ptrdiff_t>((s + 1) * n_tok - 1));
        out.push_back(std::move(seq));
    }
    return out;
}

void observe(const ModelView& model, ParallelFor& parallel, MatmulObserver& observer, int64_t batch_tokens = 2048) {
    StreamerOptions options;
    options.batch_tokens = batch_tokens;
    LayerStreamer streamer(model, parallel, options);
    streamer.run(
        calibration(model), LogitsRange{0, 0}, [](size_t, int64_t, std::span<const float>) {}, &observer);
}

// The test's own statistic, independent of the detector: mean |x| per input column of one weight.
class MeanAbsInput final : public MatmulObserver {
public:
    explicit MeanAbsInput(std::string weight) : weight_(std::move(weight)) {}
    void on_matmul(const MatmulInput& in) override {
        if (in.weight != weight_) return;
        sum_.resize(static_cast<size_t>(in.n_in), 0.0);
        for (int64_t t = 0; t < in.n_tokens; ++t) {
            for (int64_t j = 0; j < in.n_in; ++j) sum_[static_cast<size_t>(j)] += std::fabs(in.x[static_cast<size_t>(t * in.n_in + j)]);
        }
    }
    int64_t argmax() const { return std::max_element(sum_.begin(), sum_.end()) - sum_.begin(); }

private:
    std::string weight_;
    std::vector<double> sum_;
};

ImatrixData ones_imatrix(const ModelView& model) {
    ImatrixData im;
    for (const ModelTensor& t : model.tensors) {
        if (t.name.starts_with("blk.") && t.n_dims == 2) im.entries[t.name].assign(static_cast<size_t>(t.ne[0]), 1.0f);
    }
    return im;
}

float bf16_value(const uint8_t* p) {
    const uint32_t bits = (uint32_t{p[0]} | (uint32_t{p[1]} << 8)) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

void store_bf16(uint8_t* p, float f) {
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    bits += 0x7fff + ((bits >> 16) & 1);  // round to nearest even
    p[0] = static_cast<uint8_t>(bits >> 16);
    p[1] = static_cast<uint8_t>(bits >> 24);
}

struct Planted {
    int64_t row = 0, col = 0;
    float value = 0;  // the planted weight as stored (bf16)
    std::filesystem::path path;
};

// Copies the fixture with W[row, col] of blk.1.ffn_down scaled ×100, where col is the input
// channel with the largest mean |x| and row the largest |W[·, col]| of that column.
Planted plant_super_weight(const ModelView& original, ParallelFor& parallel) {
    MeanAbsInput stats(kDown1);
    observe(original, parallel, stats);
    Planted p;
    p.col = stats.argmax();
    const ModelTensor* t = original.find_tensor(kDown1);
    std::vector<uint8_t> row(row_size(t->type, t->ne[0]));
    std::vector<float> w(static_cast<size_t>(t->ne[0]));
    float best = -1;
    for (int64_t r = 0; r < t->n_rows(); ++r) {
        t->read_rows(r, 1, row);
        dequantize(t->type, row, w);
        if (std::fabs(w[static_cast<size_t>(p.col)]) > best) {
            best = std::fabs(w[static_cast<size_t>(p.col)]);
            p.row = r;
        }
    }
    const auto fixture_path = test::fixture("models/tinyllama-spm.bf16.gguf");
    std::vector<uint8_t> bytes = test::read_file(fixture_path);
    const gguf::Header h = gguf::read_header(MemorySource(bytes));
    const gguf::TensorInfo* info = h.find_tensor(kDown1);
    EXPECT_EQ(info->type, GgmlType::BF16);
    const uint64_t at = h.data_offset + info->offset + 2 * static_cast<uint64_t>(p.row * info->ne[0] + p.col);
    store_bf16(&bytes[at], 100.0f * bf16_value(&bytes[at]));
    p.value = bf16_value(&bytes[at]);
    p.path = test::temp_dir("planted-super-weight") / "planted.gguf";
    test::write_file(p.path, bytes);
    return p;
}

// Per-layer figures behind the decision, for the record.
void print_layers(const SuperWeightObserver& o) {
    for (size_t l = 0; l < o.layers().size(); ++l) {
        const auto& s = o.layers()[l];
        std::vector<float> v = s.channel_peak;
        std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
        std::printf("[ layer %zu ] peak %.3f at channel %lld token %lld; median channel peak %.3f (ratio %.1f)\n", l, s.peak(),
                    static_cast<long long>(s.peak_channel), static_cast<long long>(s.peak_token), v[v.size() / 2], s.peak() / v[v.size() / 2]);
    }
}

TEST(SuperWeights, FindsAPlantedSuperWeightFirst) {
    native::ThreadPool pool(2);
    const ModelView original = test::open_fixture_model("tinyllama-spm");
    const Planted planted = plant_super_weight(original, pool);
    const ModelView model = open_gguf_model(std::make_shared<native::FileSource>(planted.path));

    SuperWeightObserver observer;
    observe(model, pool, observer);
    print_layers(observer);
    const SuperWeightReport report = find_super_weights(model, observer, ones_imatrix(model), 0.0001, pool);
    ASSERT_TRUE(report.identified);
    ASSERT_FALSE(report.locations.empty());
    const SuperWeightLocation& first = report.locations.front();
    std::printf("[ planted ] blk.1.ffn_down[%lld, %lld] = %g; found %zu location(s), first %s[%lld, %lld] value %g activation %g output %g\n",
                static_cast<long long>(planted.row), static_cast<long long>(planted.col), planted.value, report.locations.size(),
                first.tensor.c_str(), static_cast<long long>(first.row), static_cast<long long>(first.col), first.value, first.activation,
                first.output_activation);
    EXPECT_EQ(first.tensor, kDown1);
    EXPECT_EQ(first.layer, 1);
    EXPECT_EQ(first.row, planted.row);
    EXPECT_EQ(first.col, planted.col);
    EXPECT_EQ(first.value, planted.value);
    // The spike is mostly the planted product (the other 767 terms are ordinary).
    EXPECT_GT(std::fabs(first.value * first.activation), 0.5 * std::fabs(first.output_activation));
    for (size_t i = 1; i < report.locations.size(); ++i) {
        EXPECT_LE(std::fabs(report.locations[i].output_activation), std::fabs(report.locations[i - 1].output_activation));
    }

    // The mask protects it, once, next to the coverage set.
    MemorySink sink;
    write_super_weight_mask(sink, report);
    sink.finish();
    const json mask = json::parse(sink.bytes().begin(), sink.bytes().end());
    EXPECT_EQ(mask["format"], "llmq-super-weights");
    EXPECT_EQ(mask["version"], 1);
    EXPECT_EQ(mask["identified"], true);
    EXPECT_EQ(mask["super_weights"][0]["row"], planted.row);
    EXPECT_EQ(mask["super_weights"][0]["col"], planted.col);
    const json& prot = mask["protected"];
    int hits = 0;
    for (size_t i = 0; i < prot.size(); ++i) {
        if (prot[i]["tensor"] == kDown1 && prot[i]["row"] == planted.row && prot[i]["col"] == planted.col) ++hits;
        if (i > 0) {
            const auto key = [](const json& e) {
                return std::make_tuple(e["tensor"].get<std::string>(), e["row"].get<int64_t>(), e["col"].get<int64_t>());
            };
            EXPECT_LT(key(prot[i - 1]), key(prot[i])) << "protected list must be sorted and unique";
        }
    }
    EXPECT_EQ(hits, 1);
    EXPECT_GE(prot.size(), report.coverage_set.size());
    std::filesystem::remove_all(planted.path.parent_path());
}

TEST(SuperWeights, UnmodifiedFixturesHaveNone) {
    native::ThreadPool pool(2);
    for (const std::string name : {"tinyllama-spm", "tinyqwen-bpe"}) {
        const ModelView model = test::open_fixture_model(name);
        SuperWeightObserver observer;
        observe(model, pool, observer);
        print_layers(observer);
        const SuperWeightReport report = find_super_weights(model, observer, ones_imatrix(model), 0.0001, pool);
        std::printf("[ %s ] identified %s, %zu location(s), coverage set %zu\n", name.c_str(), report.identified ? "true" : "false",
                    report.locations.size(), report.coverage_set.size());
        EXPECT_FALSE(report.identified) << name;
        EXPECT_TRUE(report.locations.empty()) << name;
        EXPECT_FALSE(report.coverage_set.empty()) << name;
    }
}

TEST(SuperWeights, ObserverStateDoesNotDependOnBatchingOrThreads) {
    const ModelView model = test::open_fixture_model("tinyllama-spm");
    native::ThreadPool pool(2);
    SerialFor serial;
    SuperWeightObserver a, b;
    observe(model, pool, a, 2048);
    observe(model, serial, b, 96);  // one sequence per batch
    EXPECT_EQ(a.save(), b.save());
}

// Hand-made batches: ties go to the first token, and splitting the tokens changes nothing.
TEST(SuperWeights, ObserverKeepsFirstPeakAndItsInputRow) {
    const int64_t n_in = 3, n_out = 2;
    // token: 0      1      2      3
    const std::vector<float> x{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    const std::vector<float> y{0.5f, -1, 3, 2, -3, 1, 0, 0};
    auto feed = [&](SuperWeightObserver& o, int64_t t0, int64_t n) {
        const MatmulInput in{"blk.0.ffn_down.weight",
                             0,
                             n_in,
                             n_out,
                             n,
                             std::span<const float>(x).subspan(static_cast<size_t>(t0 * n_in), static_cast<size_t>(n * n_in))};
        o.on_matmul(in);
        o.on_matmul_output(in, std::span<const float>(y).subspan(static_cast<size_t>(t0 * n_out), static_cast<size_t>(n * n_out)));
        // Other weights are ignored.
        const MatmulInput q{"blk.0.attn_q.weight", 0, n_in, n_out, n, in.x};
        o.on_matmul_output(q, std::vector<float>(static_cast<size_t>(n * n_out), 100.0f));
    };
    SuperWeightObserver whole, split;
    feed(whole, 0, 4);
    feed(split, 0, 1);
    feed(split, 1, 2);
    feed(split, 3, 1);
    EXPECT_EQ(whole.save(), split.save());
    ASSERT_EQ(whole.layers().size(), 1u);
    const auto& s = whole.layers()[0];
    EXPECT_EQ(s.tokens, 4);
    EXPECT_EQ(s.peak_channel, 0);  // |3| at token 1 channel 0 comes before |-3| at token 2
    EXPECT_EQ(s.peak_token, 1);
    EXPECT_EQ(s.x, (std::vector<float>{4, 5, 6}));
    EXPECT_EQ(s.channel_value, (std::vector<float>{3, 2}));
    EXPECT_EQ(s.channel_token, (std::vector<int64_t>{1, 1}));
}

void expect_importance_failure(std::span<const uint8_t> bytes, const std::string& what) {
    try {
        SuperWeightObserver::restore(bytes);
        ADD_FAILURE() << "accepted " << what;
    } catch (const Failure& f) {
        EXPECT_EQ(f.error().code, ExitCode::Importance) << what;
        EXPECT_NE(std::string(f.what()).find("super-weight"), std::string::npos) << f.what();
    }
}

TEST(SuperWeights, StateRoundTripsAndRejectsMalformedBlobs) {
    const ModelView model = test::open_fixture_model("tinyllama-spm");
    native::ThreadPool pool(2);
    SuperWeightObserver observer;
    observe(model, pool, observer);
    const std::vector<uint8_t> blob = observer.save();
    const SuperWeightObserver back = SuperWeightObserver::restore(blob);
    EXPECT_EQ(back.save(), blob);
    EXPECT_EQ(SuperWeightObserver::restore(SuperWeightObserver().save()).layers().size(), 0u);

    // Reports from the original and the restored state agree.
    const auto a = find_super_weights(model, observer, ones_imatrix(model), 0.0001, pool);
    const auto b = find_super_weights(model, back, ones_imatrix(model), 0.0001, pool);
    EXPECT_EQ(a.identified, b.identified);
    EXPECT_EQ(a.locations.size(), b.locations.size());

    for (size_t cut : {size_t{0}, size_t{3}, size_t{8}, size_t{17}, blob.size() / 2, blob.size() - 1}) {
        expect_importance_failure(std::span<const uint8_t>(blob).first(cut), "a blob cut at " + std::to_string(cut));
    }
    auto longer = blob;
    longer.push_back(0);
    expect_importance_failure(longer, "a trailing byte");
    auto magic = blob;
    magic[0] ^= 1;
    expect_importance_failure(magic, "a wrong magic");
    auto version = blob;
    version[4] = 9;
    expect_importance_failure(version, "version 9");
    auto layers = blob;
    layers[8] = 0xff;
    layers[12] = 0xff;
    expect_importance_failure(layers, "a huge layer count");
    // First layer: flag at 16, name length at 17, the name, then n_in, n_out.
    const size_t name_len = blob[17];
    auto width = blob;
    width[21 + name_len + 8 + 6] = 0x7f;  // n_out's high bytes
    expect_importance_failure(width, "a huge width");
}

// ---- coverage set ----------------------------------------------------------------------------

ModelTensor f32_tensor(std::string name, int64_t ne0, int64_t ne1, std::shared_ptr<const std::vector<float>> data) {
    ModelTensor t;
    t.name = std::move(name);
    t.n_dims = 2;
    t.ne = {ne0, ne1, 1, 1};
    t.type = GgmlType::F32;
    t.read_rows = [data, ne0](int64_t row0, int64_t nrows, std::span<uint8_t> out) {
        ASSERT_EQ(out.size(), static_cast<size_t>(nrows * ne0 * 4));
        std::memcpy(out.data(), data->data() + row0 * ne0, out.size());
    };
    return t;
}

struct Ranked {
    double score;
    std::string tensor;
    int64_t row, col;
    float value;
};

TEST(SuperWeights, CoverageSetIsTheBruteForceTopK) {
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 0.05f);
    ModelView model;
    model.path = "synthetic";
    std::vector<Ranked> all;
    ImatrixData im;
    const std::vector<std::tuple<std::string, int64_t, int64_t>> shapes{
        {"blk.0.attn_q.weight", 64, 48}, {"blk.0.ffn_down.weight", 96, 64}, {"blk.1.ffn_up.weight", 64, 96}, {"token_embd.weight", 64, 100}};
    for (const auto& [name, ne0, ne1] : shapes) {
        auto data = std::make_shared<std::vector<float>>(static_cast<size_t>(ne0 * ne1));
        for (float& v : *data) v = normal(rng);
        // Exact ties across rows and tensors: the ranking must order them by (tensor, row, col).
        for (int64_t r = 0; r < ne1; r += 5) (*data)[static_cast<size_t>(r * ne0 + 3)] = 0.5f;
        model.tensors.push_back(f32_tensor(name, ne0, ne1, data));
        if (!name.starts_with("blk.")) continue;  // no imatrix entry: not considered
        auto& imp = im.entries[name];
        for (int64_t j = 0; j < ne0; ++j) imp.push_back(j == 3 ? 1.0f : 0.5f + static_cast<float>(j % 7));
        for (int64_t r = 0; r < ne1; ++r) {
            for (int64_t j = 0; j < ne0; ++j) {
                const float w = (*data)[static_cast<size_t>(r * ne0 + j)];
                all.push_back({static_cast<double>(w) * w * imp[static_cast<size_t>(j)], name, r, j, w});
            }
        }
    }
    std::sort(all.begin(), all.end(),
              [](const Ranked& a, const Ranked& b) { return std::tie(b.score, a.tensor, a.row, a.col) < std::tie(a.score, b.tensor, b.row, b.col); });
    native::ThreadPool pool(2);
    for (double coverage : {0.0001, 0.003, 0.01}) {
        const auto got = find_super_weights(model, SuperWeightObserver(), im, coverage, pool);
        EXPECT_FALSE(got.identified);
        const auto k = static_cast<size_t>(std::ceil(coverage * static_cast<double>(all.size())));
        ASSERT_EQ(got.coverage_set.size(), k) << coverage;
        for (size_t i = 0; i < k; ++i) {
            EXPECT_EQ(got.coverage_set[i].tensor, all[i].tensor) << i;
            EXPECT_EQ(got.coverage_set[i].row, all[i].row) << i;
            EXPECT_EQ(got.coverage_set[i].col, all[i].col) << i;
            EXPECT_EQ(got.coverage_set[i].value, all[i].value) << i;
            EXPECT_EQ(got.coverage_set[i].score, all[i].score) << i;
        }
    }
    // The 43 tied weights (score 0.25, far above any normal one) head the ranking: every K above
    // cut through or ended just after the tie group.
    EXPECT_TRUE(std::all_of(all.begin(), all.begin() + 43, [](const Ranked& r) { return r.col == 3 && r.value == 0.5f; }));
    EXPECT_NE(all[43].value, 0.5f);
    for (double bad : {0.0, -0.1, 0.02}) {
        try {
            find_super_weights(model, SuperWeightObserver(), im, bad, pool);
            ADD_FAILURE() << "accepted coverage " << bad;
        } catch (const Failure& f) {
            EXPECT_EQ(f.error().code, ExitCode::Usage);
        }
    }
}

TEST(SuperWeights, CoverageSetOnTheFixtureMatchesBruteForce) {
    const ModelView model = test::open_fixture_model("tinyllama-spm");
    const ImatrixData im = ones_imatrix(model);
    std::vector<Ranked> all;
    size_t total = 0;
    for (const ModelTensor& t : model.tensors) {
        if (!im.entries.count(t.name)) continue;
        std::vector<uint8_t> raw(t.nbytes());
        std::vector<float> w(static_cast<size_t>(t.n_elements()));
        t.read_rows(0, t.n_rows(), raw);
        dequantize(t.type, raw, w);
        total += w.size();
        // Only weights that can make the top set are kept (checked below: the set ends above 0.1).
        for (size_t i = 0; i < w.size(); ++i) {
            if (std::fabs(w[i]) >= 0.1f)
                all.push_back({static_cast<double>(w[i]) * w[i], t.name, static_cast<int64_t>(i) / t.ne[0], static_cast<int64_t>(i) % t.ne[0], w[i]});
        }
    }
    std::sort(all.begin(), all.end(),
              [](const Ranked& a, const Ranked& b) { return std::tie(b.score, a.tensor, a.row, a.col) < std::tie(a.score, b.tensor, b.row, b.col); });
    SerialFor serial;
    const auto got = find_super_weights(model, SuperWeightObserver(), im, 0.0001, serial);
    const auto k = static_cast<size_t>(std::ceil(0.0001 * static_cast<double>(total)));
    ASSERT_EQ(got.coverage_set.size(), k);
    ASSERT_GT(all.size(), k);
    for (size_t i = 0; i < k; ++i) {
        EXPECT_EQ(std::tie(got.coverage_set[i].tensor, got.coverage_set[i].row, got.coverage_set[i].col),
                  std::tie(all[i].tensor, all[i].row, all[i].col))
            << i;
    }
    std::printf("[ coverage ] %zu of %zu block weights, |w| from %g down to %g\n", k, total, std::fabs(got.coverage_set.front().value),
                std::fabs(got.coverage_set.back().value));
}

}  // namespace
}  // namespace llmq
