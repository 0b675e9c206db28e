// --help texts: what each command does, every option, and examples.
#pragma once

#include <string>

namespace llmq::cli {

std::string general_help();
// Empty string for unknown commands.
std::string command_help(const std::string& command);

}  // namespace llmq::cli
