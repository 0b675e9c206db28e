// The wasm Host: files, progress, cancellation, clock and output lent by a JS object. Protocol
// (every method returns instead of throwing; see js_io.hpp for sources, sinks and file sets):
//   openFiles(path) -> fileset | error     openFile(path) -> source | error
//   createFile(path) -> sink | error       exists(path) -> boolean      removeFile(path)
//   stdout(text)  stderr(text)             now() -> seconds             peakMemory?() -> bytes
//   progress?: {begin(task, total, unit), update(done, item), end()}    cancelled?() -> boolean
//              (unit: 'bytes' or the plural name of the steps counted: 'layers', 'stages', ...)
//   configure?({format, verbosity, threads})
//   makeDirectories?(path) -> undefined | error          env?(name) -> string | undefined
//   bundledFile?(name) -> path (for openFile) | ''       (absent: no directories / environment / data)
//   threads?: number of threads for the job (0 or absent: every thread the module started; -t of
//              the command line overrides it). The single-threaded module runs every job serially.
#pragma once

#include <emscripten/val.h>

#include <memory>
#include <string_view>

#include "llmq/cli/cli.hpp"
#include "llmq/jobs/host.hpp"

namespace llmq::wasm {

using emscripten::val;

class JsHost {
public:
    explicit JsHost(val js);
    Host& host() { return host_; }
    // Applies the global options: log filter here, the rest (progress style) in JS.
    void configure(const GlobalOptions& options);
    void write_stdout(std::string_view text);
    void write_stderr(std::string_view text);
    // 0: every thread the module started (js_thread.hpp).
    void set_threads(unsigned threads);

private:
    val js_;
    Host host_;
    std::unique_ptr<ParallelFor> parallel_;
    std::unique_ptr<Progress> progress_;
    Verbosity verbosity_ = Verbosity::Normal;
};

// Bytes of wasm linear memory now (it only grows, so this is also its peak).
uint64_t heap_bytes();

}  // namespace llmq::wasm
