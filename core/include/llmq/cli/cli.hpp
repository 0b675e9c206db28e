// The command grammar of CLI.md, shared by the native CLI and `npx llmq` so the two cannot drift:
// parse argv, run a job, print human or JSON output, map errors to exit codes.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "llmq/jobs/host.hpp"

namespace llmq {

enum class OutputFormat { Human, Json, Csv };  // Csv: quality compare only
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

namespace cli {
// Parses a byte count: plain bytes or a number with a unit (3.2GB, 800MiB; KB/MB/GB/TB are
// powers of 1000, KiB/MiB/GiB/TiB of 1024). Failure(Usage) naming option otherwise.
uint64_t parse_size(const std::string& text, const std::string& option);
}  // namespace cli

}  // namespace llmq
