// The native llmq executable: hands argv to the shared command layer with native adapters.
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "llmq/cli/cli.hpp"
#include "native_host.hpp"

namespace {

extern "C" void on_interrupt(int) {
    // Second Ctrl-C: leave immediately (the .part file is removed by the sink's owner normally).
    if (llmq::native::StderrProgress::cancel_requested().exchange(true)) std::_Exit(130);
}

}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGINT, on_interrupt);
    std::signal(SIGTERM, on_interrupt);
    // Past a file size limit (ulimit -f) a write then fails with EFBIG, an output error (exit 7)
    // that removes the partial file, instead of the signal killing llmq and leaving it behind.
    std::signal(SIGXFSZ, SIG_IGN);
    llmq::native::NativeHost native;
    llmq::CliEnvironment env;
    env.host = &native.host();
    env.write_stdout = [](std::string_view s) {
        std::fwrite(s.data(), 1, s.size(), stdout);
        std::fflush(stdout);
    };
    env.write_stderr = [](std::string_view s) {
        std::fwrite(s.data(), 1, s.size(), stderr);
        std::fflush(stderr);
    };
    env.configure = [&](const llmq::GlobalOptions& options) { native.configure(options); };
    std::vector<std::string> args(argv + 1, argv + argc);
    return llmq::run_cli(args, env);
}
