// How far each tensor of a quantized model is from the original's: both files' weights are
// dequantized row by row (streamed, bounded memory) and compared. The quality report's
// per-tensor and per-layer errors.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "llmq/format/imatrix.hpp"
#include "llmq/format/model.hpp"
#include "llmq/jobs/host.hpp"

namespace llmq {

struct TensorError {
    std::string name;
    GgmlType type = GgmlType::F32;  // in the quantized file
    std::array<int64_t, 4> ne{1, 1, 1, 1};
    uint32_t n_dims = 0;
    uint64_t parameters = 0;
    uint64_t bytes = 0;              // in the quantized file
    double mse = 0.0;                // mean of (w - q)²
    double max_error = 0.0;          // max |w - q|
    double relative_error = 0.0;     // Σ(w - q)² / Σw² (0 when the tensor is all zeros)
    std::optional<double> weighted;  // the same with each column weighted by its importance
};

// Every tensor of quantized that original has with the same shape, in quantized's order.
// imatrix (optional) weights the columns of block matrices. on_tensor(done, total, name) after
// each tensor; it may throw to stop.
std::vector<TensorError> tensor_errors(const ModelView& original, const ModelView& quantized, const ImatrixData* imatrix, ParallelFor& parallel,
                                       const std::function<void(size_t, size_t, const std::string&)>& on_tensor = {});

}  // namespace llmq
