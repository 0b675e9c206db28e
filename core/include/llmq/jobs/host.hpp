// What a host lends a job: files, threads, progress, the clock and memory figures.
// The native CLI, the wasm module and the tests each implement these.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "llmq/io/io.hpp"

namespace llmq {

// Runs fn(i) for i in [0, n); returns when all are done. Tasks must be independent: results
// never depend on how they are spread over threads.
class ParallelFor {
public:
    virtual ~ParallelFor() = default;
    virtual unsigned threads() const = 0;
    virtual void run(int64_t n, const std::function<void(int64_t)>& fn) = 0;
};

// Runs everything on the calling thread (tests, single-threaded wasm).
class SerialFor final : public ParallelFor {
public:
    unsigned threads() const override { return 1; }
    void run(int64_t n, const std::function<void(int64_t)>& fn) override {
        for (int64_t i = 0; i < n; ++i) fn(i);
    }
};

// What a job's progress counts: bytes (shown as MB with a rate) or steps of a kind named by a
// plural label ("layers", "stages"), shown as "3/6 layers".
struct ProgressUnit {
    enum class Kind { Bytes, Steps };
    Kind kind = Kind::Bytes;
    std::string_view label = "bytes";
    static constexpr ProgressUnit bytes() { return {}; }
    static constexpr ProgressUnit steps(std::string_view label) { return {Kind::Steps, label}; }
};

// Progress of a long job, in units named at begin (bytes of output for quantize).
class Progress {
public:
    virtual ~Progress() = default;
    // Overriders repeat the default (calls go through Progress*, which binds it anyway).
    virtual void begin(std::string_view task, uint64_t total, ProgressUnit unit = ProgressUnit::bytes()) = 0;
    // done: units finished so far; item: what is being worked on (a tensor name).
    virtual void update(uint64_t done, std::string_view item) = 0;
    virtual void end() = 0;
    // Polled between chunks; a true answer stops the job with ExitCode::Interrupted.
    virtual bool cancelled() const { return false; }
};

class NullProgress final : public Progress {
public:
    void begin(std::string_view, uint64_t, ProgressUnit = ProgressUnit::bytes()) override {}
    void update(uint64_t, std::string_view) override {}
    void end() override {}
};

enum class LogLevel { Debug, Verbose, Info, Warning };

struct Host {
    // Opens a model path: a single file or a directory.
    std::function<std::unique_ptr<FileSet>(const std::string& path)> open_files;
    // Opens one file (imatrix, calibration data, ...).
    std::function<std::unique_ptr<ByteSource>(const std::string& path)> open_file;
    // Creates an output file that appears at path only when finished.
    std::function<std::unique_ptr<ByteSink>(const std::string& path)> create_file;
    // True if a file or directory exists at path (outputs are never silently replaced by a
    // directory, and inputs are told apart from outputs).
    std::function<bool(const std::string& path)> exists;
    // True when both paths name the same existing file, also through symbolic or hard links.
    // Empty on hosts without such links (paths are then compared lexically).
    std::function<bool(const std::string& a, const std::string& b)> same_file;
    // Removes a finished output that failed validation.
    std::function<void(const std::string& path)> remove_file;
    // Creates a directory and its missing parents (checkpoints, the imatrix cache); throws
    // Failure (ExitCode::OutputIo) when it cannot. Empty on hosts without directories.
    std::function<void(const std::string& path)> make_directories;
    // An environment variable (LLM_QUANTIZE_*, HOME); nullopt when unset or when the host has no
    // environment (a browser). Empty means no environment at all.
    std::function<std::optional<std::string>(const std::string& name)> env;
    // Path (for open_file) of a file shipped with llmq under data/, e.g. "wikitext-2-test.raw";
    // empty when this host has none.
    std::function<std::string(const std::string& name)> bundled_file;
    std::function<void(LogLevel, std::string_view)> log;
    std::function<double()> now_seconds;
    std::function<uint64_t()> peak_memory_bytes;  // 0 when unknown
    ParallelFor* parallel = nullptr;
    Progress* progress = nullptr;
};

}  // namespace llmq
