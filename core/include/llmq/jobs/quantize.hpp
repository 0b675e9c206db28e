// The quantize job: model in, GGUF out, streamed tensor by tensor in bounded row chunks.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "llmq/jobs/host.hpp"
#include "llmq/quant/types.hpp"

namespace llmq {

struct QuantizeOptions {
    std::string model_path;
    std::string output_path;  // empty: <model-name>-<LEVEL>.gguf in the current directory
    std::string level;        // preset name (case-insensitive)
    std::string imatrix_path;
    std::vector<std::pair<std::string, GgmlType>> tensor_types;  // --tensor-type, in order
    std::optional<GgmlType> output_tensor_type;
    std::optional<GgmlType> token_embedding_type;
    bool pure = false;
    bool leave_output_tensor = false;
    bool allow_requantize = false;
    // Score the output's coherence (analysis/coherence.hpp) and fail with exit 12 below
    // LLM_QUANTIZE_COHERENCE_THRESHOLD; IQ1_*/TQ* levels are checked anyway, warning only.
    bool coherence_check = false;
    // --no-coherence-check: skip the automatic check of IQ1_*/TQ* (it is also skipped, with a
    // warning, when the input is too large to hold in memory for generation).
    bool no_coherence_check = false;
    uint64_t chunk_bytes = 64ull << 20;  // bound on the row buffers of one chunk
    // --quality-report: measure the written file against its input (jobs/quality.hpp) and put
    // the report in the result; above LLM_QUANTIZE_QUALITY_THRESHOLD percent more perplexity it
    // warns, and with quality_strict fails with exit 11 (the file is kept).
    bool quality_report = false;
    bool quality_strict = false;

    // Dynamic quantization (level "dynamic"): a profile (built-in name, .dqprofile path, or a
    // name in LLM_QUANTIZE_PROFILE_DIR) and at most one target; without one, the profile's.
    std::string profile;
    std::optional<double> target_bpw;
    std::optional<uint64_t> target_size;
    std::string measurements_path;    // --measurements: reused when it exists, written otherwise
    std::string calibration_path;     // text the measurement runs the model on
    int64_t calibration_samples = 0;  // samples of it (0: the default)
    std::string probes = "auto";      // KL-divergence probes per tensor: auto, none, one, two, all
    bool use_cache = true;            // measurements cached next to imatrices
    // Plan only: report every tensor's type and the exact output size, write nothing.
    bool dry_run = false;

    // Super-weight protection: the protected weights (from super_weights_path, or detected now)
    // keep their values through the quantizers' own weighted search; coverage in (0, 0.01].
    bool protect_super_weights = false;
    double protection_coverage = 0.0001;
    std::string super_weights_path;
};

// Runs the job; returns the JSON result of CLI.md. Throws Failure on error (the output path is
// then untouched).
nlohmann::json run_quantize(const QuantizeOptions& options, Host& host);

// The default output name for a model path and level: "<stem>-<LEVEL>.gguf".
std::string default_output_name(const std::string& model_path, const std::string& level);

}  // namespace llmq
