// The inspect job: a model's metadata and tensors, without reading tensor data.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "llmq/format/model.hpp"
#include "llmq/jobs/host.hpp"

namespace llmq {

// Opens MODEL (a GGUF file; HuggingFace directories when supported) through the host.
ModelView open_model(const std::string& path, Host& host);

nlohmann::json run_inspect(const std::string& model_path, Host& host);

}  // namespace llmq
