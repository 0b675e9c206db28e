#include "jobs/ternary_check.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "llmq/quant/codec.hpp"

namespace llmq::jobs {
namespace {

constexpr int64_t kBlock = 256;        // the TQ block
constexpr size_t kMaxTensors = 48;     // spread over the model
constexpr int64_t kRowsPerTensor = 3;  // first, middle, last

bool ternary_target(GgmlType t) {
    return t == GgmlType::TQ1_0 || t == GgmlType::TQ2_0;
}

std::vector<float> read_row(const ModelTensor& t, int64_t row) {
    std::vector<uint8_t> raw(row_size(t.type, t.ne[0]));
    t.read_rows(row, 1, raw);
    std::vector<float> out(static_cast<size_t>(t.ne[0]));
    if (t.type == GgmlType::F32) {
        std::memcpy(out.data(), raw.data(), raw.size());
    } else {
        dequantize(t.type, raw, out);
    }
    return out;
}

}  // namespace

bool is_ternary_block(std::span<const float> block) {
    float s = 0.0f;
    for (float x : block) s = std::max(s, std::fabs(x));
    if (!std::isfinite(s)) return false;
    const float tolerance = s * 0x1p-10f;
    return std::all_of(block.begin(), block.end(), [&](float x) {
        const float a = std::fabs(x);
        return a == 0.0f || std::fabs(a - s) <= tolerance;
    });
}

std::optional<TernarySample> sample_ternary(const ModelView& model, const plan::QuantPlan& plan) {
    std::vector<const ModelTensor*> candidates;
    for (const auto& tp : plan.tensors) {
        if (tp.quantize && ternary_target(tp.target_type)) candidates.push_back(&model.tensors[tp.source_index]);
    }
    if (candidates.empty()) return std::nullopt;
    TernarySample sample;
    const size_t n = std::min(candidates.size(), kMaxTensors);
    for (size_t i = 0; i < n; ++i) {
        const ModelTensor& t = *candidates[i * candidates.size() / n];
        if (t.ne[0] % kBlock != 0 || t.n_rows() == 0) continue;
        const int64_t rows = std::min(kRowsPerTensor, t.n_rows());
        for (int64_t k = 0; k < rows; ++k) {
            const int64_t row = rows == 1 ? 0 : k * (t.n_rows() - 1) / (rows - 1);
            const std::vector<float> values = read_row(t, row);
            for (size_t b = 0; b < values.size(); b += kBlock) {
                ++sample.blocks;
                if (is_ternary_block(std::span<const float>(values).subspan(b, kBlock))) {
                    ++sample.ternary_blocks;
                } else if (sample.example.empty()) {
                    sample.example = t.name;
                }
            }
        }
    }
    return sample;
}

std::optional<std::string> ternary_warning(const ModelView& model, const plan::QuantPlan& plan) {
    const auto sample = sample_ternary(model, plan);
    if (!sample || sample->blocks == sample->ternary_blocks) return std::nullopt;
    return model.path + " is not ternary-trained: " + std::to_string(sample->blocks - sample->ternary_blocks) + " of " +
           std::to_string(sample->blocks) + " sampled blocks of 256 weights (e.g. in " + sample->example +
           ") hold more than the three values {-s, 0, +s} that TQ1_0/TQ2_0 keep, so quality will collapse. "
           "Ternary types suit BitNet b1.58/TriLM-style models; for this one use a dynamic profile, or IQ1_M / "
           "IQ2_XXS with an --imatrix";
}

}  // namespace llmq::jobs
