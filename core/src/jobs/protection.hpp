// Super-weight protection in the quantize job (reference/advanced-methods.md §4.3, without a side
// tensor): the protected weights (traced super weights and the coverage set) get row-specific
// importance so the quantizer's own weighted scale search keeps them, and the rows are quantized
// one by one with it. The output stays plain GGUF.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "llmq/analysis/super_weights.hpp"
#include "llmq/format/imatrix.hpp"
#include "llmq/format/model.hpp"
#include "llmq/jobs/host.hpp"

namespace llmq::jobs {

inline constexpr double kMaxProtectionCoverage = 0.01;

struct ProtectionRequest {
    double coverage = 0.0001;
    std::string mask_path;         // --super-weights: a mask from `llmq analyze --identify-super-weights`
    std::string calibration_path;  // text the detection runs on when there is no mask
};

// The mask to apply: read from mask_path, or detected now (128 samples of calibration text,
// the importance matrix accumulated on them when imatrix is null).
SuperWeightMask protection_mask(const ModelView& model, const ImatrixData* imatrix, const ProtectionRequest& request, Host& host);

// The importance for one row holding protected weights: base (or ones without an importance
// matrix) with every protected column raised far above the whole row's importance.
void protected_importance(std::span<const float> base, std::span<const ProtectedWeight> in_row, std::vector<float>& out);

}  // namespace llmq::jobs
