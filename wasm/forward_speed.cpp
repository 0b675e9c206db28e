// forwardSpeed: prompt-processing speed of the runtime inside the module, for bench/ only (never a
// user command). The measurement of bench/bench_forward.cpp: one sequence of ctx deterministic
// token ids (the synthetic model has no vocabulary), logits of the last position, through the
// layer streamer and (optionally) the resident executor; best of reps, timed with the host clock.
#include <emscripten/bind.h>

#include <algorithm>
#include <new>
#include <string>
#include <vector>

#include "js_error.hpp"
#include "js_host.hpp"
#include "llmq/error.hpp"
#include "llmq/jobs/inspect.hpp"
#include "llmq/runtime/config.hpp"
#include "llmq/runtime/resident.hpp"
#include "llmq/runtime/streamer.hpp"

namespace llmq::wasm {
namespace {

// The ids of bench_forward.cpp, so both measure the same work.
std::vector<int32_t> bench_ids(int64_t ctx, int64_t n_vocab) {
    std::vector<int32_t> ids(static_cast<size_t>(ctx));
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (auto& id : ids) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        id = static_cast<int32_t>((s >> 33) % static_cast<uint64_t>(n_vocab));
    }
    return ids;
}

template <class F>
double best_seconds(Host& host, int reps, F&& f) {
    double best = 1e30;
    for (int r = 0; r < reps; ++r) {
        const double t0 = host.now_seconds();
        f();
        best = std::min(best, host.now_seconds() - t0);
    }
    return best;
}

// options: {model, ctx, reps?, resident?}; → {ok, json: {ctx, streamed_tokens_per_second,
// resident_tokens_per_second | null}} or {ok: false, error}.
val forward_speed_js(val options, val js_host) {
    try {
        JsHost js(js_host);
        Host& host = js.host();
        const std::string path = options["model"].as<std::string>();
        const int64_t ctx = static_cast<int64_t>(options["ctx"].as<double>());
        const int reps = options["reps"].isNumber() ? std::max(1, options["reps"].as<int>()) : 2;
        const bool resident = !options["resident"].isFalse();
        const ModelView model = open_model(path, host);
        const std::vector<std::vector<int32_t>> seqs = {bench_ids(ctx, model_config(model).n_vocab)};
        float sink = 0.0f;
        LayerStreamer streamer(model, *host.parallel);
        const double streamed = best_seconds(host, reps, [&] {
            streamer.run(seqs, {ctx - 1, ctx}, [&](size_t, int64_t, std::span<const float> l) { sink += l[0]; });
        });
        streamer.release();
        val r = val::object();
        r.set("ok", true);
        r.set("ctx", static_cast<double>(ctx));
        r.set("streamed_tokens_per_second", static_cast<double>(ctx) / streamed);
        r.set("resident_tokens_per_second", val::null());
        if (resident) {
            const ResidentModel held(model, *host.parallel);
            const double t = best_seconds(host, reps, [&] {
                Session session(held, ctx);
                sink += session.eval(seqs[0])[0];
            });
            r.set("resident_tokens_per_second", static_cast<double>(ctx) / t);
        }
        r.set("sink", sink);  // keeps the work observable
        return r;
    } catch (const Failure& f) {
        val r = val::object();
        r.set("ok", false);
        r.set("error", error_object(f.error()));
        return r;
    } catch (const std::bad_alloc&) {
        val r = val::object();
        r.set("ok", false);
        r.set("error", error_object({ExitCode::OutOfMemory, "out of memory: the WebAssembly heap reached its limit", ""}));
        return r;
    }
}

}  // namespace
}  // namespace llmq::wasm

EMSCRIPTEN_BINDINGS(llmq_forward_speed) {
    emscripten::function("forwardSpeed", &llmq::wasm::forward_speed_js);
}
