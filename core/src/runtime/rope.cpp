#include "runtime/rope.hpp"

#include <cmath>

#include "llmq/error.hpp"
#include "quant/scalar.hpp"

namespace llmq::runtime {

RopeTable::RopeTable(const ModelConfig& config, std::vector<float> factors, RopeFrequencies precision)
    : style_(config.rope), precision_(precision), half_(config.n_rot / 2) {
    freq_.resize(static_cast<size_t>(half_));
    for (int64_t i = 0; i < half_; ++i) {
        // theta_i = base^(-2i/n_rot); angles in double so long contexts keep their precision.
        double f = std::pow(config.rope_theta, -2.0 * static_cast<double>(i) / static_cast<double>(config.n_rot));
        f *= config.rope_freq_scale;
        if (!factors.empty()) f /= static_cast<double>(factors[static_cast<size_t>(i)]);
        if (precision == RopeFrequencies::BFloat16) f = quant::bf16_to_fp32(quant::fp32_to_bf16(static_cast<float>(f)));
        freq_[static_cast<size_t>(i)] = f;
    }
}

void RopeTable::reserve(int64_t n_pos) {
    if (n_pos <= n_pos_) return;
    cos_.resize(static_cast<size_t>(n_pos * half_));
    sin_.resize(static_cast<size_t>(n_pos * half_));
    for (int64_t p = n_pos_; p < n_pos; ++p) {
        for (int64_t i = 0; i < half_; ++i) {
            if (precision_ == RopeFrequencies::BFloat16) {
                // The angle in float32 as torch forms it; cos/sin through double so that every
                // libm (glibc natively, musl in wasm) gives the same floats.
                const float a = static_cast<float>(p) * static_cast<float>(freq_[static_cast<size_t>(i)]);
                cos_[static_cast<size_t>(p * half_ + i)] = static_cast<float>(std::cos(static_cast<double>(a)));
                sin_[static_cast<size_t>(p * half_ + i)] = static_cast<float>(std::sin(static_cast<double>(a)));
                continue;
            }
            const double a = static_cast<double>(p) * freq_[static_cast<size_t>(i)];
            cos_[static_cast<size_t>(p * half_ + i)] = static_cast<float>(std::cos(a));
            sin_[static_cast<size_t>(p * half_ + i)] = static_cast<float>(std::sin(a));
        }
    }
    n_pos_ = n_pos;
}

void RopeTable::apply(float* head, int64_t pos) const {
    if (pos < 0 || pos >= n_pos_) fail(ExitCode::General, "internal: RoPE position " + std::to_string(pos) + " not prepared");
    const float* c = cos_.data() + pos * half_;
    const float* s = sin_.data() + pos * half_;
    // Normal: dimensions (2i, 2i+1) rotate together; NeoX: (i, i + n_rot/2).
    const int64_t stride = style_ == RopeStyle::Normal ? 2 : 1;
    const int64_t offset = style_ == RopeStyle::Normal ? 1 : half_;
    for (int64_t i = 0; i < half_; ++i) {
        float& x0 = head[i * stride];
        float& x1 = head[i * stride + offset];
        const float a = x0, b = x1;
        x0 = a * c[i] - b * s[i];
        x1 = a * s[i] + b * c[i];
    }
}

}  // namespace llmq::runtime
