// The coverage set of super-weight protection: the top fraction of all block weights by
// |w|²·imatrix[col], found by streaming every matrix through a bounded min-heap.
#pragma once

#include <vector>

#include "llmq/analysis/super_weights.hpp"

namespace llmq::analysis {

// K = ceil(coverage × weights considered) entries, best first; equal scores are ordered by
// (tensor name, row, col). coverage must be in (0, 0.01] (Failure(Usage) otherwise).
std::vector<CoverageWeight> coverage_set(const ModelView& model, const ImatrixData& imatrix, double coverage, ParallelFor& parallel);

}  // namespace llmq::analysis
