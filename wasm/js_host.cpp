#include "js_host.hpp"

#include <emscripten/heap.h>

#include <algorithm>
#include <optional>
#include <string>

#include "js_error.hpp"
#include "js_io.hpp"
#include "js_thread.hpp"

namespace llmq::wasm {
namespace {

bool has_method(const val& object, const char* name) {
    return !object.isUndefined() && !object.isNull() && object[name].typeOf().as<std::string>() == "function";
}

class JsProgress final : public Progress {
public:
    explicit JsProgress(val host) : host_(std::move(host)), js_(host_["progress"]) {}
    // unit: 'bytes', or the plural label of the steps counted ('layers', 'stages', ...).
    void begin(std::string_view task, uint64_t total, ProgressUnit unit = ProgressUnit::bytes()) override {
        const std::string name = unit.kind == ProgressUnit::Kind::Bytes ? std::string("bytes") : std::string(unit.label);
        on_js_thread([&] {
            if (has_method(js_, "begin")) js_.call<void>("begin", std::string(task), static_cast<double>(total), name);
        });
    }
    void update(uint64_t done, std::string_view item) override {
        on_js_thread([&] {
            if (has_method(js_, "update")) js_.call<void>("update", static_cast<double>(done), std::string(item));
        });
    }
    void end() override {
        on_js_thread([&] {
            if (has_method(js_, "end")) js_.call<void>("end");
        });
    }
    bool cancelled() const override {
        return on_js_thread([&] { return has_method(host_, "cancelled") && host_.call<val>("cancelled").isTrue(); });
    }

private:
    val host_;
    val js_;
};

const char* verbosity_name(Verbosity v) {
    switch (v) {
        case Verbosity::Quiet:
            return "quiet";
        case Verbosity::Verbose:
            return "verbose";
        case Verbosity::Debug:
            return "debug";
        default:
            return "normal";
    }
}

}  // namespace

uint64_t heap_bytes() {
    return emscripten_get_heap_size();
}

JsHost::JsHost(val js) : js_(std::move(js)) {
    progress_ = std::make_unique<JsProgress>(js_);
    host_.open_files = [this](const std::string& path) -> std::unique_ptr<FileSet> {
        return on_js_thread([&]() -> std::unique_ptr<FileSet> { return std::make_unique<JsFileSet>(checked(js_.call<val>("openFiles", path))); });
    };
    host_.open_file = [this](const std::string& path) -> std::unique_ptr<ByteSource> {
        return on_js_thread([&]() -> std::unique_ptr<ByteSource> { return std::make_unique<JsSource>(checked(js_.call<val>("openFile", path))); });
    };
    host_.create_file = [this](const std::string& path) -> std::unique_ptr<ByteSink> {
        return on_js_thread([&]() -> std::unique_ptr<ByteSink> { return std::make_unique<JsSink>(checked(js_.call<val>("createFile", path))); });
    };
    host_.exists = [this](const std::string& path) { return on_js_thread([&] { return js_.call<val>("exists", path).isTrue(); }); };
    host_.remove_file = [this](const std::string& path) { on_js_thread([&] { js_.call<void>("removeFile", path); }); };
    // Optional members: a host without them leaves the Host's function empty, as the core expects
    // of hosts with no directories, no environment or no bundled data (a browser).
    if (has_method(js_, "makeDirectories")) {
        host_.make_directories = [this](const std::string& path) { on_js_thread([&] { checked(js_.call<val>("makeDirectories", path)); }); };
    }
    if (has_method(js_, "env")) {
        host_.env = [this](const std::string& name) -> std::optional<std::string> {
            return on_js_thread([&]() -> std::optional<std::string> {
                const val v = js_.call<val>("env", name);
                if (!v.isString()) return std::nullopt;
                return v.as<std::string>();
            });
        };
    }
    if (has_method(js_, "bundledFile")) {
        host_.bundled_file = [this](const std::string& name) {
            return on_js_thread([&] {
                const val v = js_.call<val>("bundledFile", name);
                return v.isString() ? v.as<std::string>() : std::string();
            });
        };
    }
    // The native host's filter and format, so both CLIs print the same lines.
    host_.log = [this](LogLevel level, std::string_view message) {
        if (verbosity_ == Verbosity::Quiet && level != LogLevel::Warning) return;
        if (level == LogLevel::Debug && verbosity_ != Verbosity::Debug) return;
        if (level == LogLevel::Verbose && verbosity_ < Verbosity::Verbose) return;
        std::string line = level == LogLevel::Warning ? "warning: " : "";
        line.append(message);
        line += '\n';
        write_stderr(line);
    };
    host_.now_seconds = [this] { return on_js_thread([&] { return js_.call<double>("now"); }); };
    host_.peak_memory_bytes = [this]() -> uint64_t {
        const double bytes = on_js_thread([&] { return has_method(js_, "peakMemory") ? js_.call<double>("peakMemory") : 0.0; });
        if (bytes > 0) return static_cast<uint64_t>(bytes);
        return heap_bytes();
    };
    // Threads: the host's `threads` (the jobs API) or -t (configure), else every thread started.
    const val threads = js_["threads"];
    set_threads(threads.isNumber() ? static_cast<unsigned>(std::max(0.0, threads.as<double>())) : 0);
    host_.progress = progress_.get();
}

void JsHost::set_threads(unsigned threads) {
    parallel_ = parallel_for(threads ? threads : available_threads());
    host_.parallel = parallel_.get();
}

void JsHost::configure(const GlobalOptions& options) {
    verbosity_ = options.verbosity;
    if (options.threads) set_threads(options.threads);
    if (!has_method(js_, "configure")) return;
    val o = val::object();
    o.set("format", options.format == OutputFormat::Json ? "json" : "human");
    o.set("verbosity", verbosity_name(options.verbosity));
    o.set("threads", options.threads);
    js_.call<void>("configure", o);
}

void JsHost::write_stdout(std::string_view text) {
    on_js_thread([&] { js_.call<void>("stdout", std::string(text)); });
}

void JsHost::write_stderr(std::string_view text) {
    on_js_thread([&] { js_.call<void>("stderr", std::string(text)); });
}

}  // namespace llmq::wasm
