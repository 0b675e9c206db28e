#include "native_host.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "llmq/error.hpp"
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

// data/ is looked for where an installed or built llmq keeps it: $LLMQ_DATA_DIR, next to the
// executable's directory (../data, ../../data from build/native/) and the source tree it was built from.
std::string bundled_data_path(const std::string& name) {
    namespace fs = std::filesystem;
    std::vector<fs::path> dirs;
    if (const char* d = std::getenv("LLMQ_DATA_DIR")) dirs.emplace_back(d);
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        dirs.push_back(exe.parent_path() / "data");
        dirs.push_back(exe.parent_path().parent_path() / "data");
        dirs.push_back(exe.parent_path().parent_path().parent_path() / "data");
        dirs.push_back(exe.parent_path().parent_path() / "share" / "llmq" / "data");
    }
#ifdef LLMQ_SOURCE_DATA_DIR
    dirs.emplace_back(LLMQ_SOURCE_DATA_DIR);
#endif
    for (const auto& d : dirs) {
        const fs::path p = d / name;
        if (fs::is_regular_file(p, ec)) return p.string();
    }
    return {};
}

NativeHost::NativeHost() {
    host_.open_files = [](const std::string& path) -> std::unique_ptr<FileSet> { return std::make_unique<DiskFileSet>(path); };
    host_.open_file = [](const std::string& path) -> std::unique_ptr<ByteSource> { return std::make_unique<FileSource>(path); };
    host_.create_file = [this](const std::string& path) -> std::unique_ptr<ByteSink> {
        auto sink = std::make_unique<FileSink>(path);
        if (sink->replaced_partial() && host_.log) host_.log(LogLevel::Info, "note: replacing " + path + ".part, left by an interrupted run");
        return sink;
    };
    host_.exists = [](const std::string& path) {
        std::error_code ec;
        return std::filesystem::exists(path, ec);
    };
    host_.same_file = [](const std::string& a, const std::string& b) {
        struct stat sa {};
        struct stat sb {};
        return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    };
    host_.remove_file = [](const std::string& path) {
        std::error_code ec;
        std::filesystem::remove(path, ec);
    };
    host_.make_directories = [](const std::string& path) {
        std::error_code ec;
        std::filesystem::create_directories(path, ec);
        if (ec) fail(ExitCode::OutputIo, "cannot create directory " + path + ": " + ec.message(), "check the path and its permissions");
    };
    host_.env = [](const std::string& name) -> std::optional<std::string> {
        if (const char* v = std::getenv(name.c_str())) return std::string(v);
        return std::nullopt;
    };
    host_.bundled_file = [](const std::string& name) { return bundled_data_path(name); };
    host_.log = [this](LogLevel level, std::string_view message) {
        if (verbosity_ == Verbosity::Quiet && level != LogLevel::Warning) return;
        if (level == LogLevel::Debug && verbosity_ != Verbosity::Debug) return;
        if (level == LogLevel::Verbose && verbosity_ < Verbosity::Verbose) return;
        const char* prefix = level == LogLevel::Warning ? "warning: " : "";
        std::fprintf(stderr, "%s%.*s\n", prefix, static_cast<int>(message.size()), message.data());
    };
    host_.now_seconds = [] { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); };
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
