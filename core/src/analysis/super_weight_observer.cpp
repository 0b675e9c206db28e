// SuperWeightObserver: per-layer peaks of ffn_down's output, accumulated token by token in
// token order, so the result does not depend on how the tokens were batched. Its state blob:
// "LQSW", u32 version, u64 layer count, then per layer a u8 presence flag and, when present,
// the name, widths, counters and the arrays of LayerSpike, all little-endian.
#include <cmath>
#include <string_view>

#include "analysis/blob.hpp"
#include "analysis/super_weight_spikes.hpp"

namespace llmq {
namespace {

constexpr uint32_t kMagic = 0x5753514c;  // "LQSW"
constexpr uint32_t kVersion = 1;
constexpr int64_t kMaxWidth = int64_t{1} << 24;
constexpr uint64_t kMaxLayers = 1u << 16;

bool is_down_projection(const MatmulInput& in) {
    constexpr std::string_view suffix = ".ffn_down.weight";
    return in.layer >= 0 && in.weight.ends_with(suffix);
}

}  // namespace

SuperWeightObserver::SuperWeightObserver() = default;
SuperWeightObserver::~SuperWeightObserver() = default;
SuperWeightObserver::SuperWeightObserver(SuperWeightObserver&&) noexcept = default;
SuperWeightObserver& SuperWeightObserver::operator=(SuperWeightObserver&&) noexcept = default;

void SuperWeightObserver::on_matmul(const MatmulInput& /*input*/) {
    // Everything needed arrives with the output (the input is handed over again there).
}

void SuperWeightObserver::on_matmul_output(const MatmulInput& in, std::span<const float> y) {
    if (!is_down_projection(in)) return;
    if (in.n_tokens < 0 || in.x.size() != static_cast<size_t>(in.n_tokens * in.n_in) || y.size() != static_cast<size_t>(in.n_tokens * in.n_out)) {
        fail(ExitCode::Importance, "super-weight detection: " + std::string(in.weight) + " was reported with inconsistent sizes");
    }
    const auto layer = static_cast<size_t>(in.layer);
    if (spikes_.size() <= layer) spikes_.resize(layer + 1);
    LayerSpike& s = spikes_[layer];
    if (!s.seen()) {
        s.weight = std::string(in.weight);
        s.n_in = in.n_in;
        s.n_out = in.n_out;
        s.channel_peak.assign(static_cast<size_t>(in.n_out), 0.0f);
        s.channel_value.assign(static_cast<size_t>(in.n_out), 0.0f);
        s.channel_token.assign(static_cast<size_t>(in.n_out), -1);
        s.x.assign(static_cast<size_t>(in.n_in), 0.0f);
    } else if (s.n_in != in.n_in || s.n_out != in.n_out) {
        fail(ExitCode::Importance, "super-weight detection: " + s.weight + " changed shape between batches");
    }
    for (int64_t t = 0; t < in.n_tokens; ++t) {
        const float* row = y.data() + t * in.n_out;
        const int64_t token = s.tokens + t;
        int64_t best = -1;  // first channel of this token that beats the layer's peak
        float best_abs = s.peak();
        for (int64_t c = 0; c < in.n_out; ++c) {
            const float a = std::fabs(row[c]);
            auto& peak = s.channel_peak[static_cast<size_t>(c)];
            if (a > peak) {  // strict: ties keep the earliest token
                peak = a;
                s.channel_value[static_cast<size_t>(c)] = row[c];
                s.channel_token[static_cast<size_t>(c)] = token;
            }
            if (a > best_abs) {
                best_abs = a;
                best = c;
            }
        }
        if (best >= 0) {
            s.peak_channel = best;
            s.peak_token = token;
            const float* x = in.x.data() + t * in.n_in;
            s.x.assign(x, x + in.n_in);
        }
    }
    s.tokens += in.n_tokens;
}

std::vector<uint8_t> SuperWeightObserver::save() const {
    analysis_blob::Writer w;
    w.value(kMagic);
    w.value(kVersion);
    w.value<uint64_t>(spikes_.size());
    for (const LayerSpike& s : spikes_) {
        w.value<uint8_t>(s.seen() ? 1 : 0);
        if (!s.seen()) continue;
        w.text(s.weight);
        for (int64_t v : {s.n_in, s.n_out, s.tokens, s.peak_channel, s.peak_token}) w.value(v);
        w.values(std::span<const float>(s.channel_peak));
        w.values(std::span<const float>(s.channel_value));
        w.values(std::span<const int64_t>(s.channel_token));
        w.values(std::span<const float>(s.x));
    }
    return w.take();
}

SuperWeightObserver SuperWeightObserver::restore(std::span<const uint8_t> bytes) {
    analysis_blob::Reader r(bytes, "super-weight detection");
    if (r.value<uint32_t>() != kMagic) r.bad("not a super-weight state");
    if (const auto v = r.value<uint32_t>(); v != kVersion) r.bad("version " + std::to_string(v) + " (this llmq reads version 1)");
    const auto n_layers = r.value<uint64_t>();
    if (n_layers > kMaxLayers || n_layers > r.remaining()) r.bad(std::to_string(n_layers) + " layers");
    SuperWeightObserver o;
    o.spikes_.resize(static_cast<size_t>(n_layers));
    for (LayerSpike& s : o.spikes_) {
        const auto present = r.value<uint8_t>();
        if (present > 1) r.bad("presence flag " + std::to_string(present));
        if (!present) continue;
        s.weight = r.text(1024);
        if (s.weight.empty()) r.bad("an empty tensor name");
        s.n_in = r.value<int64_t>();
        s.n_out = r.value<int64_t>();
        s.tokens = r.value<int64_t>();
        s.peak_channel = r.value<int64_t>();
        s.peak_token = r.value<int64_t>();
        if (s.n_in < 1 || s.n_in > kMaxWidth || s.n_out < 1 || s.n_out > kMaxWidth) {
            r.bad(s.weight + " has widths " + std::to_string(s.n_in) + " x " + std::to_string(s.n_out));
        }
        const uint64_t need = static_cast<uint64_t>(s.n_out) * (4 + 4 + 8) + static_cast<uint64_t>(s.n_in) * 4;
        if (need > r.remaining()) r.bad("truncated in " + s.weight);
        if (s.tokens < 0 || s.peak_channel < -1 || s.peak_channel >= s.n_out || s.peak_token < -1 || s.peak_token >= s.tokens ||
            (s.peak_channel < 0) != (s.peak_token < 0)) {
            r.bad(s.weight + " has inconsistent counters");
        }
        s.channel_peak.resize(static_cast<size_t>(s.n_out));
        s.channel_value.resize(static_cast<size_t>(s.n_out));
        s.channel_token.resize(static_cast<size_t>(s.n_out));
        s.x.resize(static_cast<size_t>(s.n_in));
        r.values(std::span<float>(s.channel_peak));
        r.values(std::span<float>(s.channel_value));
        r.values(std::span<int64_t>(s.channel_token));
        r.values(std::span<float>(s.x));
        for (size_t c = 0; c < s.channel_peak.size(); ++c) {
            const float p = s.channel_peak[c];
            const int64_t t = s.channel_token[c];
            if (!std::isfinite(p) || p < 0 || t < -1 || t >= s.tokens || std::fabs(s.channel_value[c]) != p) {
                r.bad(s.weight + " channel " + std::to_string(c) + " is inconsistent");
            }
        }
    }
    r.expect_end();
    return o;
}

}  // namespace llmq
