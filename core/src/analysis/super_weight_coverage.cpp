// Coverage set: every block matrix with an imatrix entry is read in bounded row chunks, scored
// in parallel per row, then offered to a heap of the best K in row order (the heap holds a
// total order, so the result does not depend on the thread count).
#include "analysis/super_weight_coverage.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "analysis/weight_rows.hpp"
#include "llmq/error.hpp"

namespace llmq::analysis {
namespace {

struct Entry {
    double score;
    uint32_t matrix;  // index into the name-sorted matrix list, so index order = name order
    int64_t row;
    int64_t col;
    float value;
};

// a ranks before b: higher score, then (tensor name, row, col).
bool better(const Entry& a, const Entry& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.matrix != b.matrix) return a.matrix < b.matrix;
    if (a.row != b.row) return a.row < b.row;
    return a.col < b.col;
}

}  // namespace

std::vector<CoverageWeight> coverage_set(const ModelView& model, const ImatrixData& imatrix, double coverage, ParallelFor& parallel) {
    if (!(coverage > 0.0 && coverage <= 0.01)) {
        char shown[32];
        std::snprintf(shown, sizeof shown, "%g", coverage);
        fail(ExitCode::Usage, std::string("--coverage ") + shown + " is outside (0, 0.01]", "the default is 0.0001 (0.01 %)");
    }
    const std::vector<WeightedMatrix> matrices = weighted_matrices(model, imatrix);
    double total = 0;
    for (const WeightedMatrix& m : matrices) total += static_cast<double>(m.tensor->n_elements());
    const auto k = static_cast<size_t>(std::ceil(coverage * total));
    std::vector<Entry> heap;  // front = the worst entry kept (heap ordered by `better`)
    heap.reserve(k);
    std::vector<double> scores;
    for (size_t mi = 0; mi < matrices.size() && k > 0; ++mi) {
        const WeightedMatrix& m = matrices[mi];
        const int64_t n = m.tensor->ne[0];
        for_each_row_chunk(*m.tensor, kRowChunkBytes, [&](int64_t row0, int64_t nrows, std::span<const float> w) {
            scores.resize(w.size());
            parallel.run(nrows, [&](int64_t r) {
                const std::span<const float> imp = m.importance(row0 + r);
                const size_t base = static_cast<size_t>(r * n);
                for (int64_t j = 0; j < n; ++j) {
                    const double v = w[base + static_cast<size_t>(j)];
                    scores[base + static_cast<size_t>(j)] = v * v * static_cast<double>(imp[static_cast<size_t>(j)]);
                }
            });
            for (int64_t r = 0; r < nrows; ++r) {
                for (int64_t j = 0; j < n; ++j) {
                    const size_t i = static_cast<size_t>(r * n + j);
                    if (!std::isfinite(scores[i])) continue;
                    const Entry e{scores[i], static_cast<uint32_t>(mi), row0 + r, j, w[i]};
                    if (heap.size() < k) {
                        heap.push_back(e);
                        std::push_heap(heap.begin(), heap.end(), better);
                    } else if (better(e, heap.front())) {
                        std::pop_heap(heap.begin(), heap.end(), better);
                        heap.back() = e;
                        std::push_heap(heap.begin(), heap.end(), better);
                    }
                }
            }
        });
    }
    std::sort(heap.begin(), heap.end(), better);
    std::vector<CoverageWeight> out;
    out.reserve(heap.size());
    for (const Entry& e : heap) out.push_back({matrices[e.matrix].tensor->name, e.row, e.col, e.value, e.score});
    return out;
}

}  // namespace llmq::analysis
