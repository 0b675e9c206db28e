// The convert job: a HuggingFace directory (or a float GGUF) to a GGUF file of F32/F16/BF16
// weights, streamed tensor by tensor in bounded row chunks, never holding the model in memory.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "llmq/format/huggingface.hpp"
#include "llmq/jobs/host.hpp"

namespace llmq {

struct ConvertOptions {
    std::string model_path;
    std::string output_path;              // empty: <model-name>-<OUTTYPE>.gguf in the current directory
    HfOuttype outtype = HfOuttype::Auto;  // type of tensors with two or more dimensions
    bool vocab = true;                    // --no-vocab: no vocabulary keys
    uint64_t chunk_bytes = 64ull << 20;   // bound on the row buffers of one chunk
};

// Runs the job; returns the JSON result (status, output_path, format, outtype, input_size,
// file_size, duration_seconds, peak_memory_bytes, tensors[], warnings[]). Throws Failure on
// error; the output path is then untouched.
nlohmann::json run_convert(const ConvertOptions& options, Host& host);

}  // namespace llmq
