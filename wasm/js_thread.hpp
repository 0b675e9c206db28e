// Threads in the wasm module. The threaded build (llmq-mt, -pthread) runs jobs on the thread that
// loaded it (the page's Worker, a Node worker_thread) and spreads their tasks over a pool of
// pthreads started once per instance (Emscripten's pre-spawned Workers: a pthread created later
// would need the JS event loop, which a synchronous job never returns to). JS objects live on the
// loading thread only, so every call into JS from a pool thread is handed to it: the loading thread
// serves such calls while it waits for a parallel run to finish. The single-threaded build has no
// pool; there, on_js_thread just calls.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "llmq/jobs/host.hpp"

namespace llmq::wasm {

// Runs fn on the thread that owns the JS objects (the caller itself when it is that thread);
// an exception fn throws reaches the caller.
void run_on_js_thread(const std::function<void()>& fn);

template <class F>
auto on_js_thread(F&& fn) -> std::invoke_result_t<F&> {
    using R = std::invoke_result_t<F&>;
    if constexpr (std::is_void_v<R>) {
        run_on_js_thread([&] { fn(); });
    } else {
        std::optional<R> result;
        run_on_js_thread([&] { result.emplace(fn()); });
        return std::move(*result);
    }
}

// Starts the pool: threads - 1 pthreads beside the loading thread (once; later calls change
// nothing). Returns the threads jobs may use: 1 in the single-threaded build.
unsigned start_threads(unsigned threads);

// The threads started (1 without a pool).
unsigned available_threads();

// A ParallelFor over at most `threads` of the pool's threads (1: serial on the calling thread).
std::unique_ptr<ParallelFor> parallel_for(unsigned threads);

}  // namespace llmq::wasm
