// Deciding which ffn_down output spikes are super activations and tracing each back to the
// weight that made it. One pass: the spikes of every layer seen during calibration are judged
// together (no zero-and-rerun as in the paper's procedure).
#include <algorithm>
#include <cmath>

#include "analysis/super_weight_coverage.hpp"
#include "analysis/super_weight_spikes.hpp"
#include "llmq/error.hpp"
#include "llmq/quant/codec.hpp"

namespace llmq {
namespace {

// A channel's peak must exceed the median channel peak of its layer by this factor (a typical
// channel's worst token is the scale: it ignores the spike channel itself, unlike an RMS,
// which a spike present at every token inflates to ≥ spike/√n_embd) ...
constexpr double kWithinLayer = 20.0;
// ... and the median peak of the other layers by this factor (a layer whose activations are
// all large is not a spike).
constexpr double kAcrossLayers = 5.0;
constexpr size_t kMaxLocations = 8;

double median(std::vector<float> v) {
    if (v.empty()) return 0.0;
    const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
    std::nth_element(v.begin(), mid, v.end());
    double m = *mid;
    if (v.size() % 2 == 0) m = 0.5 * (m + *std::max_element(v.begin(), mid));
    return m;
}

struct Spike {
    int64_t layer, row, token;
    float output;
};

// The weight of row `row` contributing most to y[row] = Σ_j W[row, j]·x[j].
SuperWeightLocation trace(const ModelView& model, const SuperWeightObserver::LayerSpike& s, const Spike& spike) {
    const ModelTensor* t = model.find_tensor(s.weight);
    if (!t || t->ne[0] != s.n_in || t->n_rows() != s.n_out) {
        fail(ExitCode::Importance, "super-weight detection saw " + s.weight + " as " + std::to_string(s.n_in) + " x " + std::to_string(s.n_out) +
                                       ", which does not match " + model.path);
    }
    if (!traits(t->type).dequantize) {
        fail(ExitCode::Unsupported, "tensor " + t->name + " has type " + std::string(type_name(t->type)) + ", which llmq cannot decode yet");
    }
    std::vector<uint8_t> raw(row_size(t->type, t->ne[0]));
    std::vector<float> w(static_cast<size_t>(t->ne[0]));
    t->read_rows(spike.row, 1, raw);
    dequantize(t->type, raw, w);
    size_t col = 0;
    double best = -1;
    for (size_t j = 0; j < w.size(); ++j) {
        const double c = std::fabs(static_cast<double>(w[j]) * static_cast<double>(s.x[j]));
        if (c > best) {  // strict: the first column wins ties
            best = c;
            col = j;
        }
    }
    return {s.weight, spike.layer, spike.row, static_cast<int64_t>(col), w[col], s.x[col], spike.output};
}

}  // namespace

SuperWeightReport find_super_weights(const ModelView& model, const SuperWeightObserver& observer, const ImatrixData& imatrix, double coverage,
                                     ParallelFor& parallel) {
    SuperWeightReport report;
    report.coverage = coverage;
    report.coverage_set = analysis::coverage_set(model, imatrix, coverage, parallel);

    const auto& layers = observer.layers();
    std::vector<float> layer_peaks(layers.size(), 0.0f);
    for (size_t l = 0; l < layers.size(); ++l) layer_peaks[l] = layers[l].peak();

    std::vector<Spike> spikes;
    for (size_t l = 0; l < layers.size(); ++l) {
        const auto& s = layers[l];
        if (!s.seen() || s.peak_channel < 0) continue;
        std::vector<float> others;
        for (size_t o = 0; o < layers.size(); ++o) {
            if (o != l && layers[o].seen()) others.push_back(layer_peaks[o]);
        }
        const double channel_scale = median(s.channel_peak);
        const double layer_scale = median(others);
        // Channels that spike at the layer's peak token: their weights multiplied the same input
        // row (several super weights may share a column, e.g. Llama-3-8B's layer 1).
        for (int64_t c = 0; c < s.n_out; ++c) {
            const auto i = static_cast<size_t>(c);
            if (s.channel_token[i] != s.peak_token) continue;
            const double p = s.channel_peak[i];
            if (p > kWithinLayer * channel_scale && p > kAcrossLayers * layer_scale) {
                spikes.push_back({static_cast<int64_t>(l), c, s.peak_token, s.channel_value[i]});
            }
        }
    }
    std::sort(spikes.begin(), spikes.end(), [](const Spike& a, const Spike& b) {
        const float ma = std::fabs(a.output), mb = std::fabs(b.output);
        if (ma != mb) return ma > mb;
        return a.layer != b.layer ? a.layer < b.layer : a.row < b.row;
    });
    if (spikes.size() > kMaxLocations) spikes.resize(kMaxLocations);
    for (const Spike& sp : spikes) report.locations.push_back(trace(model, layers[static_cast<size_t>(sp.layer)], sp));
    report.identified = !report.locations.empty();
    return report;
}

}  // namespace llmq
