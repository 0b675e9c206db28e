// Assembles the native Host: POSIX files, a thread pool, stderr progress and logging.
#pragma once

#include <memory>
#include <string>

#include "llmq/cli/cli.hpp"
#include "llmq/jobs/host.hpp"
#include "progress.hpp"
#include "thread_pool.hpp"

namespace llmq::native {

class NativeHost {
public:
    NativeHost();
    Host& host() { return host_; }
    // Applies --threads, verbosity and --format (progress is off for --quiet).
    void configure(const GlobalOptions& options);

private:
    Host host_;
    std::unique_ptr<ThreadPool> pool_;
    std::unique_ptr<StderrProgress> progress_;
    Verbosity verbosity_ = Verbosity::Normal;
};

// Path of a file of llmq's data/ directory, empty if not found.
std::string bundled_data_path(const std::string& name);

// Peak resident set size of this process (VmHWM), 0 if unknown.
uint64_t peak_rss_bytes();

}  // namespace llmq::native
