// The analyze job: importance matrix (llama-imatrix's definition), layer importance and super
// weights from calibration text, computed layer by layer with the LayerStreamer so memory stays
// one layer + the hidden states; checkpointed after each layer, resumable, cached.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "llmq/jobs/host.hpp"

namespace llmq {

struct AnalyzeOptions {
    std::string model_path;
    std::string output_path;            // empty: <model-name>.imatrix in the current directory
    std::string method = "activation";  // gradient and fisher are not implemented (exit 2)
    std::string calibration_path;       // empty: the bundled WikiText-2 test text
    int64_t samples = 512;              // 128..1024 (exit 15 outside)
    int64_t ctx = 512;
    bool identify_super_weights = false;
    double coverage = 0.0001;             // (0, 0.01]
    std::string imatrix_format = "gguf";  // or "dat"
    std::string checkpoint_dir;           // write a checkpoint after each layer
    std::string resume_dir;               // continue from the checkpoint there (and keep writing them)
    bool use_cache = true;                // LLM_QUANTIZE_IMATRIX_CACHE
};

inline constexpr int64_t kMinAnalyzeCtx = 16;  // llama-imatrix ignores matmuls of fewer rows
inline constexpr int64_t kMaxAnalyzeCtx = 1 << 16;

// "<model-name>.imatrix" for a model path (file or directory).
std::string default_imatrix_name(const std::string& model_path);

nlohmann::json run_analyze(const AnalyzeOptions& options, Host& host);

}  // namespace llmq
