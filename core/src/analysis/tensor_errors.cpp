#include "llmq/analysis/tensor_errors.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include "analysis/weight_rows.hpp"
#include "llmq/error.hpp"
#include "llmq/quant/codec.hpp"

namespace llmq {
namespace {

// Sums of one row; added in row order so the totals do not depend on the thread count.
struct RowSums {
    double se = 0.0, sw = 0.0, wse = 0.0, wsw = 0.0, max = 0.0;
};

constexpr uint64_t kChunkBytes = 16ull << 20;  // both tensors' rows of one step, decoded

}  // namespace

std::vector<TensorError> tensor_errors(const ModelView& original, const ModelView& quantized, const ImatrixData* imatrix, ParallelFor& parallel,
                                       const std::function<void(size_t, size_t, const std::string&)>& on_tensor) {
    std::map<std::string, analysis::WeightedMatrix> weighted;
    std::vector<analysis::WeightedMatrix> keep;
    if (imatrix) {
        keep = analysis::weighted_matrices(original, *imatrix);
        for (const auto& w : keep) weighted[w.tensor->name] = w;
    }
    std::vector<std::pair<const ModelTensor*, const ModelTensor*>> pairs;
    for (const ModelTensor& q : quantized.tensors) {
        const ModelTensor* o = original.find_tensor(q.name);
        if (o && o->ne == q.ne) pairs.emplace_back(o, &q);
    }
    std::vector<TensorError> out;
    for (size_t i = 0; i < pairs.size(); ++i) {
        const ModelTensor& o = *pairs[i].first;
        const ModelTensor& q = *pairs[i].second;
        for (const ModelTensor* t : {&o, &q}) {
            if (!traits(t->type).dequantize)
                fail(ExitCode::Unsupported, "tensor " + t->name + " has type " + std::string(type_name(t->type)) + ", which llmq cannot decode yet");
        }
        TensorError e;
        e.name = q.name;
        e.type = q.type;
        e.ne = q.ne;
        e.n_dims = q.n_dims;
        e.parameters = static_cast<uint64_t>(q.n_elements());
        e.bytes = q.nbytes();
        const int64_t n = q.ne[0];
        const int64_t rows = q.n_rows();
        const auto it = weighted.find(q.name);
        const analysis::WeightedMatrix* wm = it == weighted.end() ? nullptr : &it->second;
        const uint64_t per_row = row_size(o.type, n) + row_size(q.type, n) + 2 * static_cast<uint64_t>(n) * sizeof(float);
        const int64_t step = std::max<int64_t>(1, static_cast<int64_t>(kChunkBytes / per_row));
        std::vector<uint8_t> raw_o, raw_q;
        std::vector<float> wo, wq;
        std::vector<RowSums> sums;
        RowSums total;
        for (int64_t r0 = 0; r0 < rows; r0 += step) {
            const int64_t nr = std::min(step, rows - r0);
            raw_o.resize(static_cast<size_t>(nr) * row_size(o.type, n));
            raw_q.resize(static_cast<size_t>(nr) * row_size(q.type, n));
            o.read_rows(r0, nr, raw_o);
            q.read_rows(r0, nr, raw_q);
            wo.resize(static_cast<size_t>(nr * n));
            wq.resize(static_cast<size_t>(nr * n));
            dequantize(o.type, raw_o, wo);
            dequantize(q.type, raw_q, wq);
            sums.assign(static_cast<size_t>(nr), RowSums{});
            parallel.run(nr, [&](int64_t r) {
                const float* a = wo.data() + r * n;
                const float* b = wq.data() + r * n;
                const std::span<const float> imp = wm ? wm->importance(r0 + r) : std::span<const float>();
                RowSums& s = sums[static_cast<size_t>(r)];
                for (int64_t j = 0; j < n; ++j) {
                    const double d = static_cast<double>(a[j]) - static_cast<double>(b[j]);
                    const double w2 = static_cast<double>(a[j]) * static_cast<double>(a[j]);
                    s.se += d * d;
                    s.sw += w2;
                    s.max = std::max(s.max, std::fabs(d));
                    if (!imp.empty()) {
                        s.wse += static_cast<double>(imp[static_cast<size_t>(j)]) * d * d;
                        s.wsw += static_cast<double>(imp[static_cast<size_t>(j)]) * w2;
                    }
                }
            });
            for (const RowSums& s : sums) {
                total.se += s.se;
                total.sw += s.sw;
                total.wse += s.wse;
                total.wsw += s.wsw;
                total.max = std::max(total.max, s.max);
            }
        }
        e.mse = e.parameters ? total.se / static_cast<double>(e.parameters) : 0.0;
        e.max_error = total.max;
        e.relative_error = total.sw > 0.0 ? total.se / total.sw : 0.0;
        if (wm) e.weighted = total.wsw > 0.0 ? total.wse / total.wsw : 0.0;
        out.push_back(std::move(e));
        if (on_tensor) on_tensor(i + 1, pairs.size(), q.name);
    }
    return out;
}

}  // namespace llmq
