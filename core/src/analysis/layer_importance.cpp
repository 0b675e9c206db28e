// Block influence (1 − cos per token, summed in token order in double, so any batch split gives
// the same sums) and the imatrix-weighted quantization sensitivity of each layer.
// Block-influence state blob: "LQBI", u32 version, u64 layers, then per layer f64 sum, i64 count.
#include "llmq/analysis/layer_importance.hpp"

#include <algorithm>
#include <cmath>
#include <optional>

#include "analysis/blob.hpp"
#include "analysis/weight_rows.hpp"
#include "llmq/error.hpp"
#include "llmq/quant/codec.hpp"

namespace llmq {
namespace {

constexpr uint32_t kMagic = 0x4942514c;  // "LQBI"
constexpr uint32_t kVersion = 1;
constexpr uint64_t kMaxLayers = 1u << 16;

// 1 − cos(a, b) in [0, 2]; a zero vector is orthogonal to everything but itself.
double influence(const float* a, const float* b, int64_t n) {
    double ab = 0, aa = 0, bb = 0;
    for (int64_t i = 0; i < n; ++i) {
        ab += static_cast<double>(a[i]) * b[i];
        aa += static_cast<double>(a[i]) * a[i];
        bb += static_cast<double>(b[i]) * b[i];
    }
    if (aa == 0 && bb == 0) return 0.0;
    if (aa == 0 || bb == 0) return 1.0;
    return 1.0 - std::clamp(ab / std::sqrt(aa * bb), -1.0, 1.0);
}

// The probe type of the sensitivity: Q4_K where the row length allows, else Q4_0; nullopt
// for rows no 4-bit block type fits (they are left out).
std::optional<GgmlType> probe_type(int64_t n_per_row) {
    if (n_per_row % 256 == 0) return GgmlType::Q4_K;
    if (n_per_row % 32 == 0) return GgmlType::Q4_0;
    return std::nullopt;
}

}  // namespace

BlockInfluence::BlockInfluence(int64_t n_layers)
    : sum_(static_cast<size_t>(std::max<int64_t>(0, n_layers)), 0.0), count_(static_cast<size_t>(std::max<int64_t>(0, n_layers)), 0) {}

void BlockInfluence::add(int64_t layer, std::span<const float> before, std::span<const float> after, int64_t n_embd) {
    if (layer < 0 || n_embd <= 0 || before.size() != after.size() || before.size() % static_cast<size_t>(n_embd) != 0) {
        fail(ExitCode::Importance, "block influence: layer " + std::to_string(layer) + " got " + std::to_string(before.size()) + " and " +
                                       std::to_string(after.size()) + " values for rows of " + std::to_string(n_embd));
    }
    if (sum_.size() <= static_cast<size_t>(layer)) {
        sum_.resize(static_cast<size_t>(layer) + 1, 0.0);
        count_.resize(static_cast<size_t>(layer) + 1, 0);
    }
    const auto n_tokens = static_cast<int64_t>(before.size()) / n_embd;
    double& sum = sum_[static_cast<size_t>(layer)];
    for (int64_t t = 0; t < n_tokens; ++t) sum += influence(before.data() + t * n_embd, after.data() + t * n_embd, n_embd);
    count_[static_cast<size_t>(layer)] += n_tokens;
}

std::vector<double> BlockInfluence::scores() const {
    std::vector<double> out(sum_.size(), 0.0);
    for (size_t l = 0; l < sum_.size(); ++l) {
        if (count_[l] > 0) out[l] = sum_[l] / static_cast<double>(count_[l]);
    }
    return out;
}

std::vector<uint8_t> BlockInfluence::save() const {
    analysis_blob::Writer w;
    w.value(kMagic);
    w.value(kVersion);
    w.value<uint64_t>(sum_.size());
    for (size_t l = 0; l < sum_.size(); ++l) {
        w.value(sum_[l]);
        w.value(count_[l]);
    }
    return w.take();
}

BlockInfluence BlockInfluence::restore(std::span<const uint8_t> bytes) {
    analysis_blob::Reader r(bytes, "block influence");
    if (r.value<uint32_t>() != kMagic) r.bad("not a block-influence state");
    if (const auto v = r.value<uint32_t>(); v != kVersion) r.bad("version " + std::to_string(v) + " (this llmq reads version 1)");
    const auto n = r.value<uint64_t>();
    if (n > kMaxLayers || n * 16 != r.remaining()) r.bad(std::to_string(n) + " layers in " + std::to_string(bytes.size()) + " bytes");
    BlockInfluence b(static_cast<int64_t>(n));
    for (size_t l = 0; l < n; ++l) {
        b.sum_[l] = r.value<double>();
        b.count_[l] = r.value<int64_t>();
        if (!std::isfinite(b.sum_[l]) || b.sum_[l] < 0 || b.count_[l] < 0 || b.sum_[l] > 2.0 * static_cast<double>(b.count_[l])) {
            r.bad("layer " + std::to_string(l) + " has sum " + std::to_string(b.sum_[l]) + " over " + std::to_string(b.count_[l]) + " tokens");
        }
    }
    r.expect_end();
    return b;
}

std::vector<double> quantization_sensitivity(const ModelView& model, const ImatrixData& imatrix, ParallelFor& parallel) {
    int64_t n_layers = 0;
    for (const ModelTensor& t : model.tensors) {
        if (const auto l = analysis::block_index(t.name)) n_layers = std::max(n_layers, *l + 1);
    }
    std::vector<double> error(static_cast<size_t>(n_layers), 0.0), energy(static_cast<size_t>(n_layers), 0.0);
    std::vector<double> row_error, row_energy;
    for (const analysis::WeightedMatrix& m : analysis::weighted_matrices(model, imatrix)) {
        const int64_t n = m.tensor->ne[0];
        const auto probe = probe_type(n);
        if (!probe) continue;
        const size_t n_bytes = row_size(*probe, n);
        analysis::for_each_row_chunk(*m.tensor, analysis::kRowChunkBytes, [&](int64_t row0, int64_t nrows, std::span<const float> w) {
            row_error.assign(static_cast<size_t>(nrows), 0.0);
            row_energy.assign(static_cast<size_t>(nrows), 0.0);
            parallel.run(nrows, [&](int64_t r) {
                const std::span<const float> row = w.subspan(static_cast<size_t>(r * n), static_cast<size_t>(n));
                const std::span<const float> imp = m.importance(row0 + r);
                std::vector<uint8_t> q(n_bytes);
                std::vector<float> back(static_cast<size_t>(n));
                quantize_rows(*probe, row, q, n, imp);
                dequantize(*probe, q, back);
                double e = 0, s = 0;
                for (size_t j = 0; j < row.size(); ++j) {
                    const double d = static_cast<double>(row[j]) - back[j];
                    e += imp[j] * d * d;
                    s += imp[j] * static_cast<double>(row[j]) * row[j];
                }
                row_error[static_cast<size_t>(r)] = e;
                row_energy[static_cast<size_t>(r)] = s;
            });
            // Summed in row order: the same figures whatever the thread count.
            for (int64_t r = 0; r < nrows; ++r) {
                error[static_cast<size_t>(m.layer)] += row_error[static_cast<size_t>(r)];
                energy[static_cast<size_t>(m.layer)] += row_energy[static_cast<size_t>(r)];
            }
        });
    }
    std::vector<double> out(static_cast<size_t>(n_layers), 0.0);
    for (size_t l = 0; l < out.size(); ++l) {
        if (energy[l] > 0) out[l] = error[l] / energy[l];
    }
    return out;
}

}  // namespace llmq
