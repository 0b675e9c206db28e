// The inspect job: a model's metadata and tensors, without reading tensor data.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "llmq/format/model.hpp"
#include "llmq/jobs/host.hpp"

namespace llmq {

// Opens MODEL through the host: a GGUF file, or a HuggingFace directory (open_hf_model).
ModelView open_model(const std::string& path, Host& host);

nlohmann::json run_inspect(const std::string& model_path, Host& host);

}  // namespace llmq
