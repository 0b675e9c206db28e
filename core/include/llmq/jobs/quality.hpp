// `llmq quality report` and `llmq quality compare`: how much a quantization costs. Perplexity of
// the original and of each quantized file on the same chunks (llama-perplexity's procedure), the
// KL divergence of each file's next-token distributions from the original's (its logits computed
// once per group of chunks and reused for every file), top-1 agreement, Δp, size and bits per
// weight; per tensor and per layer, the error of the dequantized weights.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "llmq/jobs/host.hpp"
#include "llmq/runtime/config.hpp"

namespace llmq {

struct QualityOptions {
    std::string original_path;
    std::vector<std::string> quantized_paths;
    std::string text_path;    // -f / --calibration-data; empty: the bundled WikiText-2 text
    int64_t n_ctx = 512;      // tokens per chunk
    int64_t max_chunks = 32;  // chunks scored (0: the whole text)
    // llama.cpp's CPU rounding (config.hpp) by default: the report predicts what llama.cpp will
    // measure, and its KL divergence depends on that rounding (−2.6 % for a Q4_K_M in float,
    // −62 % for a Q8_0, against llama.cpp's; within 0.3 % with it).
    Numerics numerics = Numerics::Ggml;
    bool include_layers = false;  // per-tensor and per-layer weight errors
    std::string imatrix_path;     // weights those errors; empty: accumulated on the original's run
    bool coherence = false;       // also the coherence check of the (first) quantized file
    std::string output_path;      // -o: FILE.html (the rendered report), FILE.csv (compare), else JSON
};

// One quantized file: {"status","original_model","quantized_model","metrics":{...},"kld":{...},
// "layer_errors":[...],"tensor_errors":[...],"coherence_score","coherence","text":{...},
// "timestamp","duration_seconds"} (CLI.md). Throws Failure on error: the models do not match
// (Usage), missing files (ModelNotFound), corrupt ones (CorruptInput).
nlohmann::json run_quality_report(const QualityOptions& options, Host& host);

// Several files: {"status","original_model","perplexity_original","text":{...},"rows":[{"model",
// "size","bpw","perplexity","perplexity_delta_pct","kld_mean","top1_agreement","pareto",...}]}
// sorted by size; pareto marks the files no other file beats on size and quality at once.
nlohmann::json run_quality_compare(const QualityOptions& options, Host& host);

// The perplexity increase in percent above which a quantization's quality report warns (and
// --strict fails): LLM_QUANTIZE_QUALITY_THRESHOLD through host.env, default 20. Failure(Usage)
// unless it is a non-negative number.
double quality_threshold(const Host& host);

}  // namespace llmq
