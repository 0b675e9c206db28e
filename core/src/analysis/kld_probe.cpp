// Pass 2 of the cost table: the model's own KL divergence when tensors are replaced by quantized
// versions. The original model runs once over the calibration tokens; the hidden states before
// every layer and the log-probabilities of the scored positions are kept, so a probe of a tensor
// in layer L runs only layers L.. and the head.
#include <algorithm>
#include <cmath>
#include <limits>

#include "analysis/portable_math.hpp"
#include "analysis/weight_rows.hpp"
#include "llmq/analysis/tensor_costs.hpp"
#include "llmq/error.hpp"
#include "llmq/runtime/streamer.hpp"

namespace llmq {
namespace {

// log-softmax of logits into out (double sums, float results), the same bits on every host.
void log_softmax(std::span<const float> logits, std::span<float> out) {
    float m = -std::numeric_limits<float>::infinity();
    for (float v : logits) m = std::max(m, v);
    double s = 0.0;
    for (float v : logits) s += portable::exp(static_cast<double>(v) - m);
    const double log_z = static_cast<double>(m) + portable::log(s);
    for (size_t i = 0; i < logits.size(); ++i) out[i] = static_cast<float>(static_cast<double>(logits[i]) - log_z);
}

}  // namespace

struct KldEvaluator::State {
    ModelView overlay;  // the model with some tensors swapped for quantized bytes during a run
    std::vector<std::vector<int32_t>> sequences;
    int64_t first_scored = 1;
    ParallelFor& parallel;
    int64_t n_layer = 0;
    int64_t n_vocab = 0;
    std::vector<StreamState> before_layer;  // [L]: hidden states entering layer L; [n_layer]: final
    std::vector<float> base_logp;           // scored positions × vocabulary
    int64_t scored = 0;
    int64_t runs = 0;

    State(const ModelView& model, std::vector<std::vector<int32_t>> seqs, int64_t first, ParallelFor& p)
        : overlay(model), sequences(std::move(seqs)), first_scored(first), parallel(p) {}

    // The layer a tensor enters the computation at: -1 for the embedding (and anything outside the
    // blocks but the head), n_layer for the output head.
    int64_t entry_layer(const std::string& name) const {
        if (const auto l = analysis::block_index(name)) return *l;
        if (name == "output.weight" || name == "output_norm.weight") return n_layer;
        return -1;
    }
};

KldEvaluator::KldEvaluator(const ModelView& model, std::vector<std::vector<int32_t>> sequences, int64_t first_scored, ParallelFor& parallel,
                           MatmulObserver* base_observer)
    : s_(std::make_unique<State>(model, std::move(sequences), first_scored, parallel)) {
    State& s = *s_;
    LayerStreamer streamer(s.overlay, parallel);
    s.n_layer = streamer.config().n_layer;
    s.n_vocab = streamer.config().n_vocab;
    for (const auto& seq : s.sequences) s.scored += std::max<int64_t>(0, static_cast<int64_t>(seq.size()) - first_scored);
    if (s.scored == 0) fail(ExitCode::Calibration, "the calibration samples are too short to score any position");
    StreamState state = streamer.embed(s.sequences);
    s.before_layer.reserve(static_cast<size_t>(s.n_layer + 1));
    s.before_layer.push_back(state);
    while (state.next_layer < s.n_layer) {
        streamer.run_layer(state, base_observer);
        s.before_layer.push_back(state);
    }
    s.base_logp.resize(static_cast<size_t>(s.scored * s.n_vocab));
    int64_t k = 0;
    streamer.run_head(state, {first_scored}, [&](size_t, int64_t, std::span<const float> logits) {
        log_softmax(logits, std::span<float>(s.base_logp).subspan(static_cast<size_t>(k++ * s.n_vocab), static_cast<size_t>(s.n_vocab)));
    });
}

KldEvaluator::~KldEvaluator() = default;
KldEvaluator::KldEvaluator(KldEvaluator&&) noexcept = default;

int64_t KldEvaluator::scored_tokens() const {
    return s_->scored;
}

int64_t KldEvaluator::runs() const {
    return s_->runs;
}

double KldEvaluator::kld(std::span<const Replacement> changed) {
    if (changed.empty()) return 0.0;
    State& s = *s_;
    std::vector<ModelTensor> saved;
    int64_t first = s.n_layer;
    for (const Replacement& r : changed) {
        ModelTensor& t = s.overlay.tensors.at(r.tensor);
        saved.push_back(t);
        first = std::min(first, s.entry_layer(t.name));
        if (r.bytes->size() != row_size(r.type, t.ne[0]) * static_cast<uint64_t>(t.n_rows()))
            fail(ExitCode::General, "internal: replacement bytes of " + t.name + " do not match its shape");
        t.type = r.type;
        const auto bytes = r.bytes;
        const uint64_t row_bytes = row_size(r.type, t.ne[0]);
        t.read_rows = [bytes, row_bytes](int64_t row0, int64_t nrows, std::span<uint8_t> out) {
            std::copy_n(bytes->data() + static_cast<uint64_t>(row0) * row_bytes, static_cast<uint64_t>(nrows) * row_bytes, out.data());
        };
    }
    struct Restore {
        State& s;
        std::span<const Replacement> changed;
        std::vector<ModelTensor>& saved;
        ~Restore() {
            for (size_t i = 0; i < changed.size(); ++i) s.overlay.tensors[changed[i].tensor] = saved[i];
        }
    } restore{s, changed, saved};

    LayerStreamer streamer(s.overlay, s.parallel);
    StreamState state = first < 0 ? streamer.embed(s.sequences) : s.before_layer[static_cast<size_t>(first)];
    while (state.next_layer < s.n_layer) streamer.run_layer(state);
    double sum = 0.0;
    int64_t k = 0;
    std::vector<float> test(static_cast<size_t>(s.n_vocab));
    streamer.run_head(state, {s.first_scored}, [&](size_t, int64_t, std::span<const float> logits) {
        log_softmax(logits, test);
        const float* base = s.base_logp.data() + k++ * s.n_vocab;
        double d = 0.0;
        for (int64_t v = 0; v < s.n_vocab; ++v) {
            const double lb = base[v];
            d += portable::exp(lb) * (lb - static_cast<double>(test[static_cast<size_t>(v)]));
        }
        sum += std::max(0.0, d);
    });
    ++s.runs;
    return sum / static_cast<double>(s.scored);
}

void measure_kld(KldEvaluator& evaluator, const ModelView& model, const ImatrixData* imatrix, CostTable& table,
                 const std::function<std::vector<GgmlType>(const TensorCosts&)>& probes, ParallelFor& parallel,
                 const std::function<void(size_t, size_t, const std::string&)>& on_probe) {
    table.kld_tokens = evaluator.scored_tokens();
    size_t total = 0, done = 0;
    std::vector<std::vector<GgmlType>> wanted;
    for (const auto& tc : table.tensors) {
        wanted.push_back(probes(tc));
        total += wanted.back().size();
    }
    for (size_t i = 0; i < table.tensors.size(); ++i) {
        TensorCosts& tc = table.tensors[i];
        const ModelTensor& t = model.tensors[tc.source_index];
        std::span<const float> imp;
        if (imatrix) {
            if (auto it = imatrix->entries.find(t.name); it != imatrix->entries.end() && it->second.size() % static_cast<size_t>(t.ne[0]) == 0)
                imp = it->second;
        }
        for (GgmlType type : wanted[i]) {
            TypeCost* cost = tc.find(type);
            if (!cost) fail(ExitCode::General, "internal: probe type " + std::string(type_name(type)) + " is not a candidate of " + tc.name);
            auto bytes = std::make_shared<const std::vector<uint8_t>>(quantize_tensor(t, type, imp, parallel));
            const KldEvaluator::Replacement r{tc.source_index, type, bytes};
            cost->kld = evaluator.kld(std::span<const KldEvaluator::Replacement>(&r, 1));
            ++table.kld_probes;
            if (on_probe) on_probe(++done, total, tc.name);
        }
    }
}

}  // namespace llmq
