// The command grammar of CLI.md, shared by the native CLI and `npx llmq` so the two cannot drift:
// parse argv, run a job, print human or JSON output, map errors to exit codes.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "llmq/jobs/host.hpp"

namespace llmq {

enum class OutputFormat { Human, Json };
enum class Verbosity { Quiet, Normal, Verbose, Debug };

struct GlobalOptions {
    OutputFormat format = OutputFormat::Human;
    Verbosity verbosity = Verbosity::Normal;
    unsigned threads = 0;  // 0: all cores
};

struct CliEnvironment {
    Host* host = nullptr;
    std::function<void(std::string_view)> write_stdout;
    std::function<void(std::string_view)> write_stderr;
    // Called once the global options are known, before the command runs: the host sets its
    // thread count, log filter and progress style from them.
    std::function<void(const GlobalOptions&)> configure;
};

// Runs one command line (args excludes the program name). Returns the process exit code.
int run_cli(const std::vector<std::string>& args, CliEnvironment& env);

}  // namespace llmq
