// The quality command: report (one quantized file against its original) and compare (several),
// and their human-readable tables.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "llmq/jobs/host.hpp"

namespace llmq::cli {

nlohmann::json run_quality_command(const std::vector<std::string>& args, Host& host);
std::string quality_text(const nlohmann::json& result, bool verbose);

}  // namespace llmq::cli
