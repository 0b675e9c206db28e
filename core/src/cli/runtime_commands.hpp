// The perplexity and generate commands: argv → job options, and their human-readable reports.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "llmq/jobs/host.hpp"

namespace llmq::cli {

nlohmann::json run_perplexity_command(const std::vector<std::string>& args, Host& host);
nlohmann::json run_generate_command(const std::vector<std::string>& args, Host& host);

std::string perplexity_report(const nlohmann::json& result, bool verbose);
// The generation statistics (stderr); the text itself goes to stdout.
std::string generate_report(const nlohmann::json& result, bool verbose);

}  // namespace llmq::cli
