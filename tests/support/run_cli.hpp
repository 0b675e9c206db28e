// Runs the built llmq executable and captures its exit code, stdout and stderr.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "support/fixtures.hpp"

namespace llmq::test {

struct CliResult {
    int exit_code = -1;
    std::string out;
    std::string err;
};

inline std::string shell_quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

// env: extra environment variables for this run only (NAME, VALUE); prefix: a command the CLI
// runs under (an emulator), split at spaces.
inline CliResult run_llmq_with_prefix(const std::string& prefix, const std::vector<std::string>& args, const std::string& name,
                                      const std::vector<std::pair<std::string, std::string>>& env) {
    static int counter = 0;
    const auto dir = std::filesystem::temp_directory_path() / "llmq-cli-capture";
    std::filesystem::create_directories(dir);
    const auto base = dir / (name + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::string cmd = env.empty() ? "" : "env";
    for (const auto& [key, value] : env) cmd += " " + shell_quote(key + "=" + value);
    if (!prefix.empty()) cmd += (cmd.empty() ? "" : " ") + prefix;
    cmd += (cmd.empty() ? "" : " ") + shell_quote(LLMQ_CLI_PATH);
    for (const auto& a : args) cmd += " " + shell_quote(a);
    cmd += " >" + shell_quote(base.string() + ".out") + " 2>" + shell_quote(base.string() + ".err") + " </dev/null";
    const int status = std::system(cmd.c_str());
    CliResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    auto slurp = [](const std::filesystem::path& p) {
        auto bytes = read_file(p);
        std::filesystem::remove(p);
        return std::string(bytes.begin(), bytes.end());
    };
    r.out = slurp(base.string() + ".out");
    r.err = slurp(base.string() + ".err");
    return r;
}

inline CliResult run_llmq(const std::vector<std::string>& args, const std::string& name,
                          const std::vector<std::pair<std::string, std::string>>& env) {
    return run_llmq_with_prefix("", args, name, env);
}

inline CliResult run_llmq(const std::vector<std::string>& args, const std::string& name = "cli") {
    return run_llmq(args, name, {});
}

}  // namespace llmq::test
