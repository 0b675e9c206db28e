// The analyze command: argv → AnalyzeOptions, and its human-readable report.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "llmq/jobs/host.hpp"

namespace llmq::cli {

nlohmann::json run_analyze_command(const std::vector<std::string>& args, Host& host);
std::string analyze_report(const nlohmann::json& result, bool verbose);

}  // namespace llmq::cli
