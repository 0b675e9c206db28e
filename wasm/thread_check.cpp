// threadCheck: for tests only (never a user command). Runs tasks over the instance's threads where
// each task calls into the host's JS (its clock, and opening a file), so that a test sees the
// calls of pool threads run on the loading thread, and a host error inside a pool thread's task
// come back as the job's error.
#include <emscripten/bind.h>
#include <emscripten/threading.h>

#include <atomic>
#include <chrono>
#include <string>

#include "js_error.hpp"
#include "js_host.hpp"
#include "llmq/error.hpp"

namespace llmq::wasm {
namespace {

// options: {tasks, spinMs?: busy time of each task (default 2, so that every thread gets some),
// missing?: a path to open in the last task}; → {ok, tasks, offThread, threads} (tasks: host
// calls that returned; offThread: tasks run by pool threads) or {ok: false, error} (the open's).
val thread_check_js(val options, val js_host) {
    JsHost js(js_host);
    Host& host = js.host();
    const int64_t tasks = options["tasks"].isNumber() ? static_cast<int64_t>(options["tasks"].as<double>()) : 64;
    const double spin_ms = options["spinMs"].isNumber() ? options["spinMs"].as<double>() : 2.0;
    const std::string missing = options["missing"].isString() ? options["missing"].as<std::string>() : std::string();
    std::atomic<int64_t> off_thread{0};
    std::atomic<int64_t> calls{0};
    try {
        host.parallel->run(tasks, [&](int64_t i) {
            const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double, std::milli>(spin_ms);
            while (std::chrono::steady_clock::now() < until) {
            }
            if (!emscripten_is_main_runtime_thread()) ++off_thread;
            if (host.now_seconds() >= 0) ++calls;
            if (!missing.empty() && i == tasks - 1) host.open_file(missing);
        });
    } catch (const Failure& f) {
        val r = val::object();
        r.set("ok", false);
        r.set("error", error_object(f.error()));
        return r;
    }
    val r = val::object();
    r.set("ok", calls.load() == tasks);
    r.set("tasks", static_cast<double>(calls.load()));
    r.set("offThread", static_cast<double>(off_thread.load()));
    r.set("threads", host.parallel->threads());
    return r;
}

}  // namespace
}  // namespace llmq::wasm

EMSCRIPTEN_BINDINGS(llmq_thread_check) {
    emscripten::function("threadCheck", &llmq::wasm::thread_check_js);
}
