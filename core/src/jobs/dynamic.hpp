// Dynamic quantization inside the quantize job: the profile, the cost table (measured, cached,
// or read from --measurements), the byte budget of the target, the solver's choice per tensor,
// and what the report says about it.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "llmq/analysis/super_weights.hpp"
#include "llmq/format/gguf.hpp"
#include "llmq/format/imatrix.hpp"
#include "llmq/format/model.hpp"
#include "llmq/jobs/host.hpp"
#include "llmq/plan/profile.hpp"

namespace llmq::jobs {

struct DynamicRequest {
    std::string profile;  // built-in name, file path, or name in LLM_QUANTIZE_PROFILE_DIR
    std::optional<double> target_bpw;
    std::optional<uint64_t> target_size;
    std::string measurements_path;  // --measurements: read when it exists, else written
    std::string calibration_path;   // text for the KL-divergence probes (empty: see dynamic.cpp)
    int64_t samples = 0;            // calibration samples of the probes (0: the default, 8)
    std::string probes = "auto";    // KL-divergence probes per tensor: auto, none, one, two, all
    bool use_cache = true;
};

// Finds a profile: a built-in name, a path to a .dqprofile file, or NAME.dqprofile in
// $LLM_QUANTIZE_PROFILE_DIR (default ~/.config/llmq/profiles). Failure(Profile) otherwise.
plan::Profile load_profile(const std::string& spec, Host& host);

// $LLM_QUANTIZE_PROFILE_DIR, else ~/.config/llmq/profiles; empty when the host has no
// environment. Failure(Usage) when the variable is set but empty.
std::string profile_dir(Host& host);

struct DynamicDecision {
    plan::Profile profile;
    std::string target_text;                                           // "4.50 bpw", "3200000000 bytes" (the llmq.target metadata)
    std::map<std::string, std::pair<GgmlType, std::string>> assigned;  // tensor → type, reason
    std::map<std::string, double> loss;                                // tensor → estimated loss of its type
    uint32_t ftype = 0;                                                // general.file_type of the mix
    nlohmann::json report;                                             // profile, target, budget, measurement (cost, source), estimate
    // The importance matrix accumulated on the calibration tokens when none was given: the
    // quantizers must use the one the costs were measured with.
    std::optional<ImatrixData> computed_imatrix;
};

// "4.5 bpw" or "3200000000 bytes": the target as the llmq.target metadata and the report say it.
std::string describe_target(const DynamicRequest& request, const plan::Profile& profile);

// Everything the budget must leave room for besides the quantizable tensors: the header (its
// size does not depend on the tensor types) and the tensors that stay as they are.
struct FixedCosts {
    uint64_t header_bytes = 0;  // padded to the alignment
    uint64_t kept_bytes = 0;    // padded data of the tensors that are not quantized
    uint64_t kept_raw_bytes = 0;
    uint64_t total_params = 0;  // of every tensor (bits per weight are counted over all)
    uint32_t alignment = 32;
};

// The quantizable tensors (indices) and what the rest costs, for a header of metadata `kv`.
// Tensors a user type (--tensor-type, --output-tensor-type, --token-embedding-type) fixes are
// not quantizable here: they take that type and count as kept.
struct DynamicSetup {
    std::vector<size_t> quantizable;
    FixedCosts fixed;
};
struct FixedTypes {
    bool leave_output_tensor = false;
    std::vector<std::pair<std::string, GgmlType>> tensor_types;
    std::optional<GgmlType> output_tensor_type;
    std::optional<GgmlType> token_embedding_type;
};
DynamicSetup dynamic_setup(const ModelView& model, const std::vector<gguf::KeyValue>& kv, uint32_t alignment, const FixedTypes& fixed_types);

// The types a tensor may take under a profile: allowed by its rules, fitting its rows, and not
// needing an importance vector it will not have.
std::vector<GgmlType> candidate_types(const plan::Profile& profile, const ModelTensor& tensor, bool has_importance);

// Measures (or reads) the costs of the quantizable tensors `quantizable` (indices into
// model.tensors) and solves for the target. imatrix may be null (one is then accumulated on
// the calibration tokens).
DynamicDecision decide_dynamic(const ModelView& model, const std::vector<size_t>& quantizable, const ImatrixData* imatrix,
                               const std::string& imatrix_path, const DynamicRequest& request, const plan::Profile& profile, const FixedCosts& fixed,
                               const SuperWeightMask* protect, Host& host);

}  // namespace llmq::jobs
