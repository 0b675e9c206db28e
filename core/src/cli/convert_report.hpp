// Human-readable rendering of a convert result (stderr).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace llmq::cli {

std::string convert_report(const nlohmann::json& result, bool verbose);

}  // namespace llmq::cli
