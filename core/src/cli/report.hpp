// Human-readable renderings of job results (stderr).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace llmq::cli {

std::string human_size(double bytes);
std::string quantize_report(const nlohmann::json& result, bool verbose);
std::string inspect_report(const nlohmann::json& result, bool verbose);

}  // namespace llmq::cli
