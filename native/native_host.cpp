#include "native_host.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "posix_io.hpp"

namespace llmq::native {

uint64_t peak_rss_bytes() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
    }
    return 0;
}

NativeHost::NativeHost() {
    host_.open_files = [](const std::string& path) -> std::unique_ptr<FileSet> { return std::make_unique<DiskFileSet>(path); };
    host_.open_file = [](const std::string& path) -> std::unique_ptr<ByteSource> { return std::make_unique<FileSource>(path); };
    host_.create_file = [](const std::string& path) -> std::unique_ptr<ByteSink> { return std::make_unique<FileSink>(path); };
    host_.exists = [](const std::string& path) {
        std::error_code ec;
        return std::filesystem::exists(path, ec);
    };
    host_.remove_file = [](const std::string& path) {
        std::error_code ec;
        std::filesystem::remove(path, ec);
    };
    host_.log = [this](LogLevel level, std::string_view message) {
        if (verbosity_ == Verbosity::Quiet && level != LogLevel::Warning) return;
        if (level == LogLevel::Debug && verbosity_ != Verbosity::Debug) return;
        if (level == LogLevel::Verbose && verbosity_ < Verbosity::Verbose) return;
        const char* prefix = level == LogLevel::Warning ? "warning: " : "";
        std::fprintf(stderr, "%s%.*s\n", prefix, static_cast<int>(message.size()), message.data());
    };
    host_.now_seconds = [] {
        return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    };
    host_.peak_memory_bytes = peak_rss_bytes;
    configure(GlobalOptions{});
}

void NativeHost::configure(const GlobalOptions& options) {
    verbosity_ = options.verbosity;
    const unsigned threads = options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency());
    if (!pool_ || pool_->threads() != threads) pool_ = std::make_unique<ThreadPool>(threads);
    progress_ = std::make_unique<StderrProgress>(::isatty(STDERR_FILENO) != 0, options.verbosity != Verbosity::Quiet);
    host_.parallel = pool_.get();
    host_.progress = progress_.get();
}

}  // namespace llmq::native
