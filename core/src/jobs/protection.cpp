#include "jobs/protection.hpp"

#include <algorithm>

#include "jobs/cache.hpp"
#include "llmq/analysis/calibration.hpp"
#include "llmq/analysis/imatrix_accumulator.hpp"
#include "llmq/error.hpp"
#include "llmq/runtime/config.hpp"
#include "llmq/runtime/streamer.hpp"
#include "llmq/runtime/tokenizer.hpp"

namespace llmq::jobs {
namespace {

// The detection run: analyze's numbers (128 samples of up to 256 tokens find a planted ×100
// weight with a wide margin, docs/super-weights.md).
constexpr int64_t kDetectionSamples = 128;
constexpr int64_t kDetectionCtx = 256;
// A protected column weighs this many times the whole row's importance.
constexpr float kProtectionBoost = 1e4f;

// Both observers of the detection run.
class DetectionObservers final : public MatmulObserver {
public:
    DetectionObservers(SuperWeightObserver& spikes, ImatrixAccumulator* imatrix) : spikes_(spikes), imatrix_(imatrix) {}
    bool wants_output() const override { return true; }
    void on_matmul(const MatmulInput& in) override {
        spikes_.on_matmul(in);
        if (imatrix_) imatrix_->on_matmul(in);
    }
    void on_matmul_output(const MatmulInput& in, std::span<const float> y) override { spikes_.on_matmul_output(in, y); }

private:
    SuperWeightObserver& spikes_;
    ImatrixAccumulator* imatrix_;
};

}  // namespace

SuperWeightMask protection_mask(const ModelView& model, const ImatrixData* imatrix, const ProtectionRequest& request, Host& host) {
    if (!request.mask_path.empty()) {
        if (!host.exists(request.mask_path))
            fail(ExitCode::Usage, "super-weight mask " + request.mask_path + " not found",
                 "write one with `llmq analyze MODEL --identify-super-weights`, or leave out --super-weights to detect them now");
        return read_super_weight_mask(read_whole(request.mask_path, host), request.mask_path);
    }
    std::string path = request.calibration_path;
    if (path.empty() && imatrix && !imatrix->datasets.empty() && host.exists(imatrix->datasets.front())) path = imatrix->datasets.front();
    if (path.empty() && host.bundled_file) path = host.bundled_file("wikitext-2-test.raw");
    if (path.empty()) fail(ExitCode::Calibration, "no calibration text to detect super weights on", "pass --calibration-data or --super-weights");

    const Tokenizer tokenizer = Tokenizer::from_metadata(model);
    const ModelConfig config = model_config(model);
    const int64_t ctx = config.n_ctx_train > 0 ? std::min(kDetectionCtx, config.n_ctx_train) : kDetectionCtx;
    const std::vector<uint8_t> bytes = read_whole(path, host);
    const std::string text = calibration_text(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), path);
    const std::vector<int32_t> tokens = tokenizer.encode(text, /*add_special=*/true, /*parse_special=*/false);
    const int64_t samples = std::min<int64_t>(kDetectionSamples, static_cast<int64_t>(tokens.size()) / ctx);
    if (samples < 1) fail(ExitCode::Calibration, "calibration data " + path + " is too short to detect super weights", "use a longer text");
    std::vector<std::vector<int32_t>> seqs;
    const int32_t bos = tokenizer.add_bos() ? tokenizer.bos() : -1;
    for (int64_t k = 0; k < samples; ++k) {
        seqs.emplace_back(tokens.begin() + k * ctx, tokens.begin() + (k + 1) * ctx);
        if (bos >= 0) seqs.back()[0] = bos;
    }
    if (host.log) host.log(LogLevel::Info, "protect: looking for super weights over " + std::to_string(samples) + " samples of " + path);
    SerialFor serial;
    ParallelFor& parallel = host.parallel ? *host.parallel : serial;
    SuperWeightObserver spikes;
    ImatrixAccumulator accumulated;
    DetectionObservers observers(spikes, imatrix ? nullptr : &accumulated);
    LayerStreamer streamer(model, parallel);
    StreamState state = streamer.embed(seqs);
    while (state.next_layer < streamer.config().n_layer) streamer.run_layer(state, &observers);
    streamer.release();
    state = {};
    const ImatrixData computed = imatrix ? ImatrixData{} : accumulated.data();
    return mask_of(find_super_weights(model, spikes, imatrix ? *imatrix : computed, request.coverage, parallel));
}

void protected_importance(std::span<const float> base, std::span<const ProtectedWeight> in_row, std::vector<float>& out) {
    if (base.empty()) {
        std::fill(out.begin(), out.end(), 1.0f);
    } else {
        std::copy(base.begin(), base.end(), out.begin());
    }
    double total = 0.0;
    for (float v : out) total += v;
    const auto boost = static_cast<float>(std::max(total, 1e-30) * kProtectionBoost);
    for (const ProtectedWeight& p : in_row) out[static_cast<size_t>(p.col)] = std::max(out[static_cast<size_t>(p.col)], boost);
}

}  // namespace llmq::jobs
