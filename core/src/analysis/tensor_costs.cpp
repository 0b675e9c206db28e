// Pass 1 of the cost table: imatrix-weighted quantization errors of every candidate type, and
// the loss estimate that combines them with the measured KL divergences.
#include "llmq/analysis/tensor_costs.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "analysis/portable_math.hpp"
#include "analysis/weight_rows.hpp"
#include "llmq/error.hpp"
#include "llmq/quant/codec.hpp"

namespace llmq {
namespace {

// Rows of one parallel task: at least 16384 elements, as the quantize job uses. A fixed split,
// so the sums below do not depend on the thread count.
int64_t rows_per_task(int64_t n_per_row) {
    return std::max<int64_t>(1, (16384 + n_per_row - 1) / n_per_row);
}

// Large tensors are measured on evenly spaced rows (each row is quantized on its own, so the
// sum over a row sample estimates the whole), about this many elements per tensor.
constexpr int64_t kMeasuredElements = 1 << 20;

// The importance vector of tensor rows (per expert for merged experts), or empty.
std::span<const float> importance_for(const ImatrixData* imatrix, const ModelTensor& t, int64_t row) {
    if (!imatrix) return {};
    const auto it = imatrix->entries.find(t.name);
    if (it == imatrix->entries.end()) return {};
    const auto n = static_cast<size_t>(t.ne[0]);
    if (it->second.size() == n) return it->second;
    const auto n_mat = static_cast<size_t>(t.ne[2] * t.ne[3]);
    if (it->second.size() != n * n_mat) return {};
    const auto m = static_cast<size_t>(row / t.ne[1]);
    return std::span<const float>(it->second).subspan(m * n, n);
}

}  // namespace

const TypeCost* TensorCosts::find(GgmlType t) const {
    for (const auto& c : types)
        if (c.type == t) return &c;
    return nullptr;
}

TypeCost* TensorCosts::find(GgmlType t) {
    return const_cast<TypeCost*>(std::as_const(*this).find(t));
}

std::vector<uint8_t> quantize_tensor(const ModelTensor& tensor, GgmlType type, std::span<const float> imatrix, ParallelFor& parallel) {
    const int64_t n = tensor.ne[0];
    const uint64_t out_row = row_size(type, n);
    std::vector<uint8_t> out(out_row * static_cast<uint64_t>(tensor.n_rows()));
    const int64_t per_task = rows_per_task(n);
    // Merged experts carry one importance vector each; rows of one call never cross an expert.
    const bool per_expert = imatrix.size() > static_cast<size_t>(n);
    analysis::for_each_row_chunk(tensor, analysis::kRowChunkBytes, [&](int64_t row0, int64_t nrows, std::span<const float> w) {
        const int64_t tasks = (nrows + per_task - 1) / per_task;
        parallel.run(tasks, [&](int64_t task) {
            const int64_t b = std::min(nrows, (task + 1) * per_task);
            for (int64_t r = task * per_task; r < b;) {
                int64_t end = b;
                std::span<const float> imp = imatrix;
                if (per_expert) {
                    const int64_t expert = (row0 + r) / tensor.ne[1];
                    end = std::min(b, (expert + 1) * tensor.ne[1] - row0);
                    imp = imatrix.subspan(static_cast<size_t>(expert * n), static_cast<size_t>(n));
                }
                quantize_rows(type, w.subspan(static_cast<size_t>(r * n), static_cast<size_t>((end - r) * n)),
                              std::span<uint8_t>(out).subspan(static_cast<size_t>(row0 + r) * out_row, static_cast<size_t>(end - r) * out_row), n,
                              imp);
                r = end;
            }
        });
    });
    return out;
}

void measure_weight_errors(const ModelView& model, const ImatrixData* imatrix, std::vector<TensorCosts>& tensors, ParallelFor& parallel,
                           const std::function<void(size_t, size_t, const std::string&)>& on_tensor) {
    for (size_t ti = 0; ti < tensors.size(); ++ti) {
        TensorCosts& tc = tensors[ti];
        const ModelTensor& t = model.tensors[tc.source_index];
        const int64_t n = t.ne[0];
        const size_t n_types = tc.types.size();
        tc.params = static_cast<uint64_t>(t.n_elements());
        tc.weighted = !importance_for(imatrix, t, 0).empty();
        for (auto& c : tc.types) {
            c.bytes = row_size(c.type, n) * static_cast<uint64_t>(t.n_rows());
            c.werr = 0.0;
        }
        double wnorm = 0.0;
        const int64_t stride = std::max<int64_t>(1, t.n_elements() / kMeasuredElements);
        int64_t measured_rows = 0;
        for (int64_t r = 0; r < t.n_rows(); r += stride) ++measured_rows;
        const int64_t per_task = rows_per_task(n);
        std::vector<double> task_err, task_norm;
        analysis::for_each_row_chunk(t, analysis::kRowChunkBytes, [&](int64_t row0, int64_t nrows, std::span<const float> w) {
            const int64_t tasks = (nrows + per_task - 1) / per_task;
            task_err.assign(static_cast<size_t>(tasks) * n_types, 0.0);
            task_norm.assign(static_cast<size_t>(tasks), 0.0);
            parallel.run(tasks, [&](int64_t task) {
                const int64_t a = task * per_task, b = std::min(nrows, a + per_task);
                std::vector<uint8_t> q;
                std::vector<float> back(static_cast<size_t>(n));
                const std::vector<float> ones(static_cast<size_t>(n), 1.0f);
                for (int64_t r = a; r < b; ++r) {
                    if ((row0 + r) % stride != 0) continue;
                    const std::span<const float> row = w.subspan(static_cast<size_t>(r * n), static_cast<size_t>(n));
                    const std::span<const float> imp = importance_for(imatrix, t, row0 + r);
                    const std::span<const float> weight = imp.empty() ? std::span<const float>(ones) : imp;
                    double norm = 0.0;
                    for (int64_t j = 0; j < n; ++j)
                        norm += static_cast<double>(weight[static_cast<size_t>(j)]) * row[static_cast<size_t>(j)] * row[static_cast<size_t>(j)];
                    task_norm[static_cast<size_t>(task)] += norm;
                    for (size_t k = 0; k < n_types; ++k) {
                        const GgmlType type = tc.types[k].type;
                        q.resize(row_size(type, n));
                        quantize_rows(type, row, q, n, imp);
                        dequantize(type, q, back);
                        double e = 0.0;
                        for (int64_t j = 0; j < n; ++j) {
                            const double d = static_cast<double>(row[static_cast<size_t>(j)]) - back[static_cast<size_t>(j)];
                            e += static_cast<double>(weight[static_cast<size_t>(j)]) * d * d;
                        }
                        task_err[static_cast<size_t>(task) * n_types + k] += e;
                    }
                }
            });
            for (int64_t task = 0; task < tasks; ++task) {
                wnorm += task_norm[static_cast<size_t>(task)];
                for (size_t k = 0; k < n_types; ++k) tc.types[k].werr += task_err[static_cast<size_t>(task) * n_types + k];
            }
        });
        // Scaled from the measured rows to the whole tensor.
        const double scale = static_cast<double>(t.n_rows()) / static_cast<double>(measured_rows);
        for (auto& c : tc.types) c.werr *= scale;
        tc.wnorm = wnorm * scale;
        if (on_tensor) on_tensor(ti + 1, tensors.size(), tc.name);
    }
}

void estimate_losses(CostTable& table) {
    for (TensorCosts& tc : table.tensors) {
        std::vector<const TypeCost*> measured;
        for (const auto& c : tc.types)
            if (c.kld >= 0.0 && c.werr > 0.0) measured.push_back(&c);
        std::sort(measured.begin(), measured.end(), [](const TypeCost* a, const TypeCost* b) { return a->werr < b->werr; });
        for (auto& c : tc.types) {
            if (c.kld >= 0.0) {
                c.loss = c.kld;
                continue;
            }
            if (c.werr <= 0.0) {
                c.loss = 0.0;
                continue;
            }
            if (measured.empty()) {
                // No model probe: the relative output error, every tensor counted alike.
                c.loss = tc.wnorm > 0 ? c.werr / tc.wnorm : 0.0;
                continue;
            }
            if (measured.size() == 1) {
                c.loss = measured[0]->kld * (c.werr / measured[0]->werr);
                continue;
            }
            // Log-log interpolation between the two nearest probes; beyond them the nearest
            // segment's slope, kept within [0.8, 1.5] (KL divergence grows about linearly with
            // the squared error for small errors).
            size_t hi = 1;
            while (hi + 1 < measured.size() && measured[hi]->werr < c.werr) ++hi;
            const TypeCost& a = *measured[hi - 1];
            const TypeCost& b = *measured[hi];
            const double ka = std::max(a.kld, 1e-12), kb = std::max(b.kld, 1e-12);
            double slope = (portable::log(kb) - portable::log(ka)) / (portable::log(b.werr) - portable::log(a.werr));
            if (!std::isfinite(slope)) slope = 1.0;
            const bool inside = c.werr >= a.werr && c.werr <= b.werr;
            if (!inside) slope = std::clamp(slope, 0.8, 1.5);
            c.loss = portable::exp(portable::log(ka) + slope * (portable::log(c.werr) - portable::log(a.werr)));
        }
    }
}

}  // namespace llmq
