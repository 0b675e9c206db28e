// The profile command: list | show | create | validate, and their human-readable reports.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "llmq/jobs/host.hpp"

namespace llmq::cli {

nlohmann::json run_profile_command(const std::vector<std::string>& args, Host& host);
std::string profile_report(const nlohmann::json& result, bool verbose);

}  // namespace llmq::cli
