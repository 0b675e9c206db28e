// Embind entry points of the wasm module: the command layer (runCli, the grammar of CLI.md with
// the native CLI's messages, JSON and exit codes) and the jobs (quantize, inspect, perplexity,
// generate, analyze) for the ESM
// API, each over a host implemented in JS (js_host.hpp). No exception crosses into JS: jobs
// return {ok: true, json} or {ok: false, error: {code, type, message, hint}}.
#include <emscripten/bind.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <new>
#include <string>
#include <vector>

#include "js_error.hpp"
#include "js_host.hpp"
#include "js_thread.hpp"
#include "level_facts.hpp"
#include "llmq/cli/cli.hpp"
#include "llmq/error.hpp"
#include "llmq/jobs/analyze.hpp"
#include "llmq/jobs/generate.hpp"
#include "llmq/jobs/inspect.hpp"
#include "llmq/jobs/perplexity.hpp"
#include "llmq/jobs/profile.hpp"
#include "llmq/jobs/quality.hpp"
#include "llmq/jobs/quantize.hpp"
#include "llmq/plan/plan.hpp"
#include "llmq/quant/codec.hpp"
#include "llmq/report/quality.hpp"

namespace llmq::wasm {
namespace {

val failure(const Error& error) {
    val o = val::object();
    o.set("ok", false);
    o.set("error", error_object(error));
    return o;
}

// Runs a job, turning whatever it throws into an error object.
template <class Job>
val guarded(Job&& job) {
    try {
        val o = val::object();
        o.set("ok", true);
        o.set("json", job().dump());
        return o;
    } catch (const Failure& f) {
        return failure(f.error());
    } catch (const std::bad_alloc&) {
        return failure({ExitCode::OutOfMemory, "out of memory: the WebAssembly heap reached its limit",
                        "use a smaller chunkMb (row buffer in MiB), or the native llmq for this model"});
    } catch (const std::exception& e) {
        return failure({ExitCode::General, std::string("internal error: ") + e.what(), "please report this with the model and options"});
    } catch (...) {
        return failure({ExitCode::General, "internal error: a host adapter failed", "please report this with the model and options"});
    }
}

std::string text(const val& object, const char* key) {
    const val v = object[key];
    if (v.isUndefined() || v.isNull()) return {};
    if (!v.isString()) fail(ExitCode::Usage, std::string("option ") + key + " must be a string");
    return v.as<std::string>();
}

bool flag(const val& object, const char* key) {
    return object[key].isTrue();
}

GgmlType writable_type(const std::string& name, const std::string& option) {
    const auto t = type_from_name(name);
    if (!t || !traits(*t).quantize) {
        fail(ExitCode::Usage, "invalid tensor type '" + name + "' for " + option,
             "use a ggml type name llmq can write: f32 f16 bf16 q4_0 q4_1 q5_0 q5_1 q8_0 q2_K q3_K "
             "q4_K q5_K q6_K");
    }
    return *t;
}

// The API's options object (see node/src/index.d.ts) as the job's options.
QuantizeOptions quantize_options(const val& o) {
    QuantizeOptions q;
    q.model_path = text(o, "model");
    if (q.model_path.empty()) fail(ExitCode::Usage, "quantize needs a model", "pass the path of a .gguf file or a model directory");
    q.level = text(o, "level");
    if (q.level.empty()) fail(ExitCode::Usage, "quantize needs a level", "for example level: 'Q4_K_M'");
    q.output_path = text(o, "output");
    q.imatrix_path = text(o, "imatrix");
    const val types = o["tensorTypes"];
    if (!types.isUndefined() && !types.isNull()) {
        for (const val& pair : emscripten::vecFromJSArray<val>(types)) {
            const std::string pattern = pair[0].isString() ? pair[0].as<std::string>() : std::string();
            const std::string type = pair[1].isString() ? pair[1].as<std::string>() : std::string();
            if (pattern.empty()) fail(ExitCode::Usage, "invalid tensorTypes entry", "expected [regex, type] pairs, e.g. ['attn_v', 'q8_0']");
            q.tensor_types.emplace_back(pattern, writable_type(type, "tensorTypes"));
        }
    }
    if (auto t = text(o, "outputTensorType"); !t.empty()) q.output_tensor_type = writable_type(t, "outputTensorType");
    if (auto t = text(o, "tokenEmbeddingType"); !t.empty()) q.token_embedding_type = writable_type(t, "tokenEmbeddingType");
    q.pure = flag(o, "pure");
    q.leave_output_tensor = flag(o, "leaveOutputTensor");
    q.allow_requantize = flag(o, "allowRequantize");
    q.coherence_check = flag(o, "coherenceCheck");
    q.no_coherence_check = flag(o, "noCoherenceCheck");
    if (q.coherence_check && q.no_coherence_check) {
        fail(ExitCode::Usage, "coherenceCheck and noCoherenceCheck contradict each other", "keep one of them");
    }
    // Dynamic quantization (level 'dynamic').
    q.profile = text(o, "profile");
    const val bpw = o["targetBpw"];
    if (!bpw.isUndefined() && !bpw.isNull()) {
        const double x = bpw.isNumber() ? bpw.as<double>() : std::nan("");
        if (!(x >= 1 && x <= 32)) fail(ExitCode::Usage, "invalid value for targetBpw", "expected a number from 1 to 32");
        q.target_bpw = x;
    }
    const val size = o["targetSize"];
    if (!size.isUndefined() && !size.isNull()) {
        if (size.isNumber()) {
            const double x = size.as<double>();
            if (!(x >= 1 && x < 9e15) || x != std::floor(x))
                fail(ExitCode::Usage, "invalid value for targetSize", "expected bytes, or a string such as '3.2GB'");
            q.target_size = static_cast<uint64_t>(x);
        } else {
            q.target_size = cli::parse_size(size.isString() ? size.as<std::string>() : std::string(), "targetSize");
        }
    }
    q.measurements_path = text(o, "measurements");
    q.calibration_path = text(o, "calibrationData");
    const val samples = o["calibrationSamples"];
    if (!samples.isUndefined() && !samples.isNull()) {
        const double x = samples.isNumber() ? samples.as<double>() : 0.0;
        if (!(x >= 1 && x <= 1024) || x != std::floor(x))
            fail(ExitCode::Usage, "invalid value for calibrationSamples", "expected a whole number from 1 to 1024");
        q.calibration_samples = static_cast<int64_t>(x);
    }
    if (auto p = text(o, "probes"); !p.empty()) {
        if (p != "auto" && p != "none" && p != "one" && p != "two" && p != "all")
            fail(ExitCode::Usage, "invalid value '" + p + "' for probes", "use auto (default), none, one, two or all");
        q.probes = p;
    }
    // Super-weight protection (any level).
    q.protect_super_weights = flag(o, "protectSuperWeights");
    const val coverage = o["protectionCoverage"];
    if (!coverage.isUndefined() && !coverage.isNull()) {
        q.protection_coverage = coverage.isNumber() ? coverage.as<double>() : std::nan("");
        if (!std::isfinite(q.protection_coverage)) fail(ExitCode::Usage, "invalid value for protectionCoverage", "expected a number in (0, 0.01]");
    }
    q.super_weights_path = text(o, "superWeights");
    q.quality_report = flag(o, "qualityReport");
    q.quality_strict = flag(o, "strict");
    q.dry_run = flag(o, "dryRun");
    q.use_cache = !flag(o, "noCache");
    const val chunk = o["chunkMb"];
    if (!chunk.isUndefined() && !chunk.isNull()) {
        const double mb = chunk.isNumber() ? chunk.as<double>() : 0.0;
        if (!(mb >= 1 && mb <= 65536) || mb != static_cast<double>(static_cast<int64_t>(mb))) {
            fail(ExitCode::Usage, "invalid value for chunkMb", "use a whole number of MiB from 1 to 65536");
        }
        q.chunk_bytes = static_cast<uint64_t>(mb) << 20;
    }
    return q;
}

// An optional number option of the API: absent → fallback; otherwise a number in [min, max]
// (whole when integer), else a usage error naming the option like the CLI does.
double number(const val& object, const char* key, double fallback, double min, double max, bool integer) {
    const val v = object[key];
    if (v.isUndefined() || v.isNull()) return fallback;
    const double x = v.isNumber() ? v.as<double>() : std::nan("");
    if (!(x >= min && x <= max) || (integer && x != std::floor(x))) {
        fail(ExitCode::Usage, std::string("invalid value for ") + key,
             std::string("expected ") + (integer ? "a whole number" : "a number") + " from " + std::to_string(static_cast<int64_t>(min)) + " to " +
                 std::to_string(static_cast<int64_t>(max)));
    }
    return x;
}

// ropeFreqs: 'exact' (default) or 'bf16', as the CLI's --rope-freqs.
RopeFrequencies rope_frequencies(const val& o) {
    const std::string name = text(o, "ropeFreqs");
    if (name.empty()) return RopeFrequencies::Exact;
    const auto f = rope_frequencies_from_name(name);
    if (!f) fail(ExitCode::Usage, "invalid value '" + name + "' for ropeFreqs", "use 'exact' (the default) or 'bf16'");
    return *f;
}

// numerics: 'exact' or 'ggml' (llama.cpp's CPU rounding), as the CLI's --numerics.
Numerics numerics(const val& o, Numerics fallback) {
    const std::string name = text(o, "numerics");
    if (name.empty()) return fallback;
    const auto n = numerics_from_name(name);
    if (!n) fail(ExitCode::Usage, "invalid value '" + name + "' for numerics", "use 'exact' or 'ggml'");
    return *n;
}

PerplexityOptions perplexity_options(const val& o) {
    PerplexityOptions p;
    p.model_path = text(o, "model");
    if (p.model_path.empty()) fail(ExitCode::Usage, "perplexity needs a model", "pass the path of a .gguf file or a model directory");
    p.text_path = text(o, "text");
    p.kld_base_path = text(o, "kldBase");
    p.n_ctx = static_cast<int64_t>(number(o, "ctx", static_cast<double>(p.n_ctx), 4, 1 << 20, true));
    p.max_chunks = static_cast<int64_t>(number(o, "chunks", 0, 1, static_cast<double>(1ll << 40), true));
    p.rope_frequencies = rope_frequencies(o);
    p.numerics = numerics(o, p.numerics);
    return p;
}

GenerateOptions generate_options(const val& o) {
    GenerateOptions g;
    g.model_path = text(o, "model");
    if (g.model_path.empty()) fail(ExitCode::Usage, "generate needs a model", "pass the path of a .gguf file or a model directory");
    const val prompt = o["prompt"];
    if (!prompt.isString()) fail(ExitCode::Usage, "generate needs a prompt", "for example prompt: 'Once upon a time'");
    g.prompt = prompt.as<std::string>();
    g.max_tokens = static_cast<int64_t>(number(o, "n", static_cast<double>(g.max_tokens), 0, 1 << 20, true));
    g.temperature = number(o, "temp", g.temperature, 0, 100, false);
    g.seed = static_cast<uint64_t>(number(o, "seed", 0, 0, static_cast<double>(1ll << 53), true));
    g.ignore_eos = flag(o, "ignoreEos");
    g.rope_frequencies = rope_frequencies(o);
    return g;
}

// Sample-count bounds are the job's (exit 15 outside), as for the CLI; only non-numbers are
// usage errors here.
AnalyzeOptions analyze_options(const val& o) {
    AnalyzeOptions a;
    a.model_path = text(o, "model");
    if (a.model_path.empty()) fail(ExitCode::Usage, "analyze needs a model", "pass the path of a .gguf file or a model directory");
    a.output_path = text(o, "output");
    if (auto m = text(o, "method"); !m.empty()) a.method = m;
    a.calibration_path = text(o, "calibrationData");
    a.samples = static_cast<int64_t>(
        number(o, "calibrationSamples", static_cast<double>(a.samples), -static_cast<double>(1ll << 40), static_cast<double>(1ll << 40), true));
    a.ctx = static_cast<int64_t>(number(o, "ctx", static_cast<double>(a.ctx), kMinAnalyzeCtx, kMaxAnalyzeCtx, true));
    a.identify_super_weights = flag(o, "identifySuperWeights");
    const val coverage = o["coverage"];
    if (!coverage.isUndefined() && !coverage.isNull()) {
        if (!a.identify_super_weights) fail(ExitCode::Usage, "coverage needs identifySuperWeights", "set identifySuperWeights: true");
        a.coverage = number(o, "coverage", a.coverage, 0, 1, false);
    }
    if (auto f = text(o, "imatrixFormat"); !f.empty()) a.imatrix_format = f;
    a.checkpoint_dir = text(o, "checkpointDir");
    a.resume_dir = text(o, "resume");
    const val cache = o["cache"];
    a.use_cache = cache.isUndefined() || cache.isNull() || cache.isTrue();
    return a;
}

// quality report / compare: {original, quantized (a path, or an array of paths), text?, ctx?,
// chunks? (0: the whole text), includeLayers?, imatrix?, coherence?, output?}.
QualityOptions quality_options(const val& o) {
    QualityOptions q;
    q.original_path = text(o, "original");
    if (q.original_path.empty()) fail(ExitCode::Usage, "quality needs the original model", "pass original: the path of the unquantized model");
    const val quantized = o["quantized"];
    if (quantized.isString()) {
        q.quantized_paths.push_back(quantized.as<std::string>());
    } else if (quantized.isArray()) {
        for (const val& v : emscripten::vecFromJSArray<val>(quantized)) {
            if (!v.isString()) fail(ExitCode::Usage, "invalid value in quantized", "expected paths of quantized files");
            q.quantized_paths.push_back(v.as<std::string>());
        }
    }
    if (q.quantized_paths.empty()) fail(ExitCode::Usage, "quality needs a quantized model", "pass quantized: a path (or an array of paths)");
    q.text_path = text(o, "text");
    q.n_ctx = static_cast<int64_t>(number(o, "ctx", static_cast<double>(q.n_ctx), 4, 1 << 20, true));
    q.max_chunks = static_cast<int64_t>(number(o, "chunks", static_cast<double>(q.max_chunks), 0, static_cast<double>(1ll << 40), true));
    q.include_layers = flag(o, "includeLayers");
    q.imatrix_path = text(o, "imatrix");
    q.coherence = flag(o, "coherence");
    q.output_path = text(o, "output");
    q.numerics = numerics(o, q.numerics);
    return q;
}

val quality_report_js(val options, val js_host) {
    return guarded([&] {
        JsHost host(js_host);
        return run_quality_report(quality_options(options), host.host());
    });
}

val quality_compare_js(val options, val js_host) {
    return guarded([&] {
        JsHost host(js_host);
        return run_quality_compare(quality_options(options), host.host());
    });
}

// The report renderer for the page: the HTML fragment of a quality report or comparison (its
// JSON text), styled by data/report.css; document: a whole self-contained HTML file instead.
std::string render_quality_js(std::string json_text, bool document) {
    const auto j = nlohmann::json::parse(json_text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return "";
    try {
        return document ? report::quality_document(j) : report::quality_fragment(j);
    } catch (const std::exception&) {
        return "";  // not a quality result
    }
}

int run_cli_js(val args, val js_host) {
    try {
        JsHost host(js_host);
        CliEnvironment env;
        env.host = &host.host();
        env.write_stdout = [&](std::string_view s) { host.write_stdout(s); };
        env.write_stderr = [&](std::string_view s) { host.write_stderr(s); };
        env.configure = [&](const GlobalOptions& options) { host.configure(options); };
        return run_cli(emscripten::vecFromJSArray<std::string>(args), env);
    } catch (...) {
        // run_cli handles the core's errors; only a broken host adapter lands here.
        js_host.call<void>("stderr", std::string("error: internal error: a host adapter failed\n"));
        return static_cast<int>(ExitCode::General);
    }
}

val quantize_js(val options, val js_host) {
    return guarded([&] {
        JsHost host(js_host);
        return run_quantize(quantize_options(options), host.host());
    });
}

val inspect_js(std::string model, val js_host) {
    return guarded([&] {
        JsHost host(js_host);
        return run_inspect(model, host.host());
    });
}

val perplexity_js(val options, val js_host) {
    return guarded([&] {
        JsHost host(js_host);
        return run_perplexity(perplexity_options(options), host.host());
    });
}

val generate_js(val options, val js_host) {
    return guarded([&] {
        JsHost host(js_host);
        return run_generate(generate_options(options), host.host());
    });
}

val analyze_js(val options, val js_host) {
    return guarded([&] {
        JsHost host(js_host);
        return run_analyze(analyze_options(options), host.host());
    });
}

// Every preset: {name, description, available, needsImatrix} (available: llmq can write its main
// type; needsImatrix: quantizing an ordinary model to it needs an importance matrix).
val levels_js() {
    val list = val::array();
    for (const auto& p : plan::presets()) {
        val o = val::object();
        o.set("name", std::string(p.name));
        o.set("description", std::string(p.description));
        o.set("available", traits(p.default_type).quantize != nullptr);
        o.set("needsImatrix", level_needs_imatrix(p));
        list.call<void>("push", o);
    }
    return list;
}

// The dynamic-quantization profiles the module knows (the built-in ones; a host with an env
// also lists LLM_QUANTIZE_PROFILE_DIR): the JSON of `llmq profile list`.
val profiles_js(val js_host) {
    return guarded([&] {
        JsHost host(js_host);
        return run_profile_list(host.host());
    });
}

std::string version_js() {
    return LLMQ_VERSION;
}

// The threaded module: starts its pool (threads in all, the loading thread included; once per
// instance) and returns the threads jobs may use. The single-threaded module returns 1.
unsigned start_threads_js(unsigned threads) {
    return start_threads(threads);
}

double heap_bytes_js() {
    return static_cast<double>(heap_bytes());
}

// Mirrors the host's working directory in the module's in-memory file system, so the path
// questions the core asks std::filesystem (is the output the input?) are answered as natively.
// Only directories exist there; no file data ever does.
bool set_working_directory(std::string path) {
    const std::filesystem::path dir(path);
    if (!dir.is_absolute()) return false;
    std::filesystem::path prefix = "/";
    for (const auto& part : dir.relative_path()) {
        prefix /= part;
        ::mkdir(prefix.c_str(), 0755);
    }
    return ::chdir(dir.c_str()) == 0;
}

}  // namespace
}  // namespace llmq::wasm

EMSCRIPTEN_BINDINGS(llmq) {
    using namespace llmq::wasm;
    emscripten::function("runCli", &run_cli_js);
    emscripten::function("quantize", &quantize_js);
    emscripten::function("inspect", &inspect_js);
    emscripten::function("perplexity", &perplexity_js);
    emscripten::function("generate", &generate_js);
    emscripten::function("analyze", &analyze_js);
    emscripten::function("levels", &levels_js);
    emscripten::function("profiles", &profiles_js);
    emscripten::function("qualityReport", &quality_report_js);
    emscripten::function("qualityCompare", &quality_compare_js);
    emscripten::function("renderQuality", &render_quality_js);
    emscripten::function("version", &version_js);
    emscripten::function("heapBytes", &heap_bytes_js);
    emscripten::function("startThreads", &start_threads_js);
    emscripten::function("setWorkingDirectory", &set_working_directory);
}
