#include "llmq/jobs/quality.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <ctime>
#include <optional>

#include "jobs/cache.hpp"
#include "jobs/output_check.hpp"
#include "llmq/analysis/calibration.hpp"
#include "llmq/analysis/coherence.hpp"
#include "llmq/analysis/imatrix_accumulator.hpp"
#include "llmq/analysis/tensor_errors.hpp"
#include "llmq/error.hpp"
#include "llmq/format/imatrix.hpp"
#include "llmq/jobs/inspect.hpp"
#include "llmq/jobs/perplexity.hpp"
#include "llmq/report/quality.hpp"

namespace llmq {
namespace {

using nlohmann::json;

// What the report needs to know about each file beside its scores.
struct FileFacts {
    uint64_t size = 0;  // the file (or folder) as stored
    uint64_t tensor_bytes = 0;
    uint64_t parameters = 0;
    double bpw() const { return parameters ? 8.0 * static_cast<double>(tensor_bytes) / static_cast<double>(parameters) : 0.0; }
};

FileFacts facts_of(const ModelView& m) {
    FileFacts f;
    f.size = m.source_bytes;
    for (const ModelTensor& t : m.tensors) {
        f.tensor_bytes += t.nbytes();
        f.parameters += static_cast<uint64_t>(t.n_elements());
    }
    return f;
}

std::string shape_text(const ModelTensor& t) {
    std::string s;
    for (uint32_t d = 0; d < std::max<uint32_t>(1, t.n_dims); ++d) s += (d ? "x" : "") + std::to_string(t.ne[d]);
    return s;
}

// A quantization of the original has its architecture, its vocabulary and its tensors (names and
// shapes; the types may differ). Anything else cannot be compared token by token.
void check_same_model(const ModelView& original, const ModelView& quantized) {
    const auto mismatch = [&](const std::string& what) {
        fail(ExitCode::Usage, quantized.path + " is not a quantization of " + original.path + ": " + what,
             "compare a model with files quantized from it (same architecture, vocabulary and tensors)");
    };
    if (original.architecture() != quantized.architecture())
        mismatch("architecture " + quantized.architecture() + " against " + original.architecture());
    const auto vocab = [](const ModelView& m) -> int64_t {
        const gguf::Value* v = m.find("tokenizer.ggml.tokens");
        return v ? static_cast<int64_t>(v->array_size()) : -1;
    };
    if (vocab(original) != vocab(quantized))
        mismatch("a vocabulary of " + std::to_string(vocab(quantized)) + " tokens against " + std::to_string(vocab(original)));
    for (const ModelTensor& t : original.tensors) {
        const ModelTensor* q = quantized.find_tensor(t.name);
        if (!q) mismatch("tensor " + t.name + " is missing");
        if (q->ne != t.ne) mismatch("tensor " + t.name + " is " + shape_text(*q) + ", not " + shape_text(t));
    }
    for (const ModelTensor& t : quantized.tensors)
        if (!original.find_tensor(t.name)) mismatch("tensor " + t.name + " is not in the original");
}

std::string utc_timestamp() {
    const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&now, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
}

// The layer a tensor belongs to, as quantize's layer_summary names it.
std::string layer_of(const std::string& name) {
    if (name.rfind("blk.", 0) == 0) {
        const size_t dot = name.find('.', 4);
        if (dot != std::string::npos) return name.substr(0, dot);
    }
    return name;
}

json tensor_errors_json(const std::vector<TensorError>& errors) {
    json out = json::array();
    for (const TensorError& e : errors) {
        json shape = json::array();
        for (uint32_t d = 0; d < std::max<uint32_t>(1, e.n_dims); ++d) shape.push_back(e.ne[d]);
        out.push_back({{"name", e.name},
                       {"type", type_name(e.type)},
                       {"shape", shape},
                       {"parameter_count", e.parameters},
                       {"bit_width", e.parameters ? 8.0 * static_cast<double>(e.bytes) / static_cast<double>(e.parameters) : 0.0},
                       {"mse", e.mse},
                       {"max_error", e.max_error},
                       {"relative_error", e.relative_error},
                       {"weighted_error", e.weighted ? json(*e.weighted) : json(nullptr)}});
    }
    return out;
}

// Per layer: parameter-weighted means of the tensors' errors, the largest error, the layer's bits.
json layer_errors_json(const std::vector<TensorError>& errors) {
    struct Acc {
        double se = 0.0, rel = 0.0, wrel = 0.0, max = 0.0;
        uint64_t params = 0, bytes = 0, wparams = 0;
        std::vector<std::string> types;
    };
    std::vector<std::pair<std::string, Acc>> layers;
    for (const TensorError& e : errors) {
        const std::string name = layer_of(e.name);
        auto it = std::find_if(layers.begin(), layers.end(), [&](const auto& l) { return l.first == name; });
        if (it == layers.end()) it = layers.insert(layers.end(), {name, Acc{}});
        Acc& a = it->second;
        const auto p = static_cast<double>(e.parameters);
        a.se += e.mse * p;
        a.rel += e.relative_error * p;
        if (e.weighted) {
            a.wrel += *e.weighted * p;
            a.wparams += e.parameters;
        }
        a.max = std::max(a.max, e.max_error);
        a.params += e.parameters;
        a.bytes += e.bytes;
        const std::string t(type_name(e.type));
        if (std::find(a.types.begin(), a.types.end(), t) == a.types.end()) a.types.push_back(t);
    }
    json out = json::array();
    for (const auto& [name, a] : layers) {
        const double p = static_cast<double>(std::max<uint64_t>(1, a.params));
        out.push_back({{"layer_name", name},
                       {"mse", a.se / p},
                       {"max_error", a.max},
                       {"relative_error", a.rel / p},
                       {"weighted_error", a.wparams ? json(a.wrel / static_cast<double>(a.wparams)) : json(nullptr)},
                       {"bit_width", 8.0 * static_cast<double>(a.bytes) / p},
                       {"parameter_count", a.params},
                       {"types", a.types}});
    }
    return out;
}

// The scoring common to report and compare: the text, the chunks, every file's scores.
struct Scored {
    ModelView original;
    std::vector<ModelView> quantized;
    MultiChunkResults results;
    json text;
    std::optional<ImatrixData> accumulated;  // when the errors are weighted by the original's run
};

Scored score(const QualityOptions& o, Host& host, bool accumulate_imatrix) {
    if (o.n_ctx < 4) fail(ExitCode::Usage, "--ctx must be at least 4");
    if (o.max_chunks < 0) fail(ExitCode::Usage, "--chunks must be 0 (the whole text) or more");
    Scored s{open_model(o.original_path, host), {}, {}, {}, {}};
    for (const auto& p : o.quantized_paths) {
        s.quantized.push_back(open_model(p, host));
        check_same_model(s.original, s.quantized.back());
    }
    std::string text_path = o.text_path;
    if (text_path.empty() && host.bundled_file) text_path = host.bundled_file("wikitext-2-test.raw");
    if (text_path.empty())
        fail(ExitCode::Usage, "no text given and the bundled WikiText-2 text (data/wikitext-2-test.raw) was not found",
             "pass a text with -f TEXT (or --calibration-data), or set LLMQ_DATA_DIR to llmq's data/ directory");
    if (!host.exists(text_path)) fail(ExitCode::Calibration, "text file " + text_path + " not found", "pass an existing text file with -f");
    const std::vector<uint8_t> bytes = jobs::read_whole(text_path, host);
    const std::string text = calibration_text(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), text_path);
    ScoredText input = tokenize_for_scoring(s.original, text, text_path, o.n_ctx, o.max_chunks);
    const std::vector<int32_t>& tokens = input.tokens;
    const auto n_tokens = static_cast<int64_t>(tokens.size());
    input.scoring.numerics = o.numerics;
    const ChunkScoring& scoring = input.scoring;
    s.text = {{"source", text_path}, {"ctx", o.n_ctx}, {"chunks", scoring.n_chunks}, {"tokens", n_tokens}, {"numerics", numerics_name(o.numerics)}};

    SerialFor serial;
    ParallelFor& parallel = host.parallel ? *host.parallel : serial;
    ImatrixAccumulator accumulator;
    std::vector<const ModelView*> models;
    for (const auto& q : s.quantized) models.push_back(&q);
    Progress* progress = host.progress;
    bool begun = false;
    s.results = score_chunks_against(
        s.original, models, tokens, scoring, parallel,
        [&](uint64_t done, uint64_t total) {
            if (!progress) return;
            if (progress->cancelled()) fail(ExitCode::Interrupted, "quality report interrupted");
            if (!begun) progress->begin("quality", total, ProgressUnit::steps("layers"));
            begun = true;
            progress->update(done, "");
        },
        accumulate_imatrix ? &accumulator : nullptr);
    if (progress && begun) progress->end();
    s.text["scored_tokens"] = s.results.base_nll.count;
    if (accumulate_imatrix) s.accumulated = accumulator.data();
    return s;
}

json metrics_of(const ModelView& original, const ModelView& quantized, const NllStats& base, const ChunkResults& r) {
    const FileFacts fo = facts_of(original), fq = facts_of(quantized);
    const json k = r.kld->summary();
    const double ppl_o = base.ppl(), ppl_q = r.nll.ppl();
    return {{"perplexity_original", ppl_o},
            {"perplexity_original_uncertainty", base.ppl_uncertainty()},
            {"perplexity_quantized", ppl_q},
            {"perplexity_quantized_uncertainty", r.nll.ppl_uncertainty()},
            {"perplexity_delta_pct", 100.0 * (ppl_q / ppl_o - 1.0)},
            {"kld_mean", k["kld"]["mean"]},
            {"kld_uncertainty", k["kld"]["uncertainty"]},
            {"kld_median", k["kld"]["median"]},
            {"kld_p99", k["kld"]["p99"]},
            {"kld_max", k["kld"]["max"]},
            {"top1_agreement", k["top1_agreement"]},
            {"delta_p_mean", k["delta_p"]["mean"]},
            {"delta_p_rms", k["delta_p"]["rms"]},
            {"delta_p_p01", k["delta_p"]["p1"]},
            {"delta_p_p99", k["delta_p"]["p99"]},
            {"original_size", fo.size},
            {"quantized_size", fq.size},
            {"effective_bpw", fq.bpw()},
            {"original_bpw", fo.bpw()},
            {"compression_ratio", fq.tensor_bytes ? static_cast<double>(fo.tensor_bytes) / static_cast<double>(fq.tensor_bytes) : 0.0}};
}

// -o FILE: the rendered report (.html/.htm), a comparison's table (.csv), else the JSON.
void write_output(const std::string& path, json& result, Host& host) {
    if (path.empty()) return;
    std::string ext = path.substr(path.find_last_of('.') == std::string::npos ? path.size() : path.find_last_of('.'));
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    result["output_path"] = path;
    std::string text;
    if (ext == ".html" || ext == ".htm") {
        text = report::quality_document(result);
    } else if (ext == ".csv") {
        if (!result.contains("rows")) fail(ExitCode::Usage, "-o " + path + ": CSV is for quality compare", "write the report as .json or .html");
        text = report::compare_csv(result);
    } else {
        text = result.dump(2) + "\n";
    }
    jobs::write_whole(path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()), host);
}

// The report must not replace a model or text it reads (also through a link).
void check_output_path(const QualityOptions& o, Host& host) {
    if (o.output_path.empty()) return;
    std::vector<std::string> models = o.quantized_paths;
    models.push_back(o.original_path);
    jobs::refuse_output_over_inputs(o.output_path, models, {o.text_path, o.imatrix_path}, host);
}

}  // namespace

double quality_threshold(const Host& host) {
    const std::optional<std::string> set = host.env ? host.env("LLM_QUANTIZE_QUALITY_THRESHOLD") : std::nullopt;
    if (!set) return 20.0;
    const std::string& v = *set;
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    if (end == v.c_str() || *end != '\0' || !std::isfinite(x) || x < 0.0)
        fail(ExitCode::Usage, "invalid LLM_QUANTIZE_QUALITY_THRESHOLD '" + v + "'",
             "a perplexity increase in percent, a number >= 0 (e.g. 20), or unset it for the default 20");
    return x;
}

json run_quality_report(const QualityOptions& o, Host& host) {
    const double t0 = host.now_seconds ? host.now_seconds() : 0.0;
    if (o.quantized_paths.size() != 1)
        fail(ExitCode::Usage, "quality report compares one quantized file with its original", "use quality compare for several");
    check_output_path(o, host);
    const bool weighted_by_run = o.include_layers && o.imatrix_path.empty();
    Scored s = score(o, host, weighted_by_run);
    const ModelView& q = s.quantized.front();
    json result = {{"status", "success"},
                   {"original_model", o.original_path},
                   {"quantized_model", o.quantized_paths.front()},
                   {"text", s.text},
                   {"metrics", metrics_of(s.original, q, s.results.base_nll, s.results.models.front())},
                   {"kld", s.results.models.front().kld->summary()},
                   {"layer_errors", nullptr},
                   {"tensor_errors", nullptr},
                   {"coherence_score", nullptr},
                   {"coherence", nullptr}};
    if (o.include_layers) {
        std::optional<ImatrixData> loaded;
        const ImatrixData* imatrix = s.accumulated ? &*s.accumulated : nullptr;
        if (!o.imatrix_path.empty()) {
            if (!host.exists(o.imatrix_path))
                fail(ExitCode::Imatrix, "imatrix " + o.imatrix_path + " not found", "pass the path of a .imatrix or .dat file");
            loaded = read_imatrix(*host.open_file(o.imatrix_path));
            imatrix = &*loaded;
        }
        SerialFor serial;
        ParallelFor& parallel = host.parallel ? *host.parallel : serial;
        Progress* progress = host.progress;
        bool begun = false;
        const auto errors = tensor_errors(s.original, q, imatrix, parallel, [&](size_t done, size_t total, const std::string& name) {
            if (!progress) return;
            if (progress->cancelled()) fail(ExitCode::Interrupted, "quality report interrupted");
            if (!begun) progress->begin("weights", total, ProgressUnit::steps("tensors"));
            begun = true;
            progress->update(done, name);
        });
        if (progress && begun) progress->end();
        result["tensor_errors"] = tensor_errors_json(errors);
        result["layer_errors"] = layer_errors_json(errors);
        result["errors_weighted_by"] = !o.imatrix_path.empty() ? json(o.imatrix_path) : json("the original's run on the text");
    }
    if (o.coherence) {
        CoherenceOptions co;
        co.threshold = coherence_threshold(host);
        const CoherenceReport c = check_coherence(s.original, q, co, host);
        result["coherence_score"] = c.score;
        result["coherence"] = c.to_json();
    }
    result["timestamp"] = utc_timestamp();
    result["duration_seconds"] = host.now_seconds ? host.now_seconds() - t0 : 0.0;
    result["peak_memory_bytes"] = host.peak_memory_bytes ? host.peak_memory_bytes() : 0;
    result["output_path"] = nullptr;
    write_output(o.output_path, result, host);
    return result;
}

json run_quality_compare(const QualityOptions& o, Host& host) {
    const double t0 = host.now_seconds ? host.now_seconds() : 0.0;
    if (o.quantized_paths.empty()) fail(ExitCode::Usage, "quality compare needs the original and at least one quantized file");
    check_output_path(o, host);
    Scored s = score(o, host, false);
    json rows = json::array();
    for (size_t i = 0; i < s.quantized.size(); ++i) {
        const json m = metrics_of(s.original, s.quantized[i], s.results.base_nll, s.results.models[i]);
        rows.push_back({{"model", o.quantized_paths[i]},
                        {"size", m["quantized_size"]},
                        {"bpw", m["effective_bpw"]},
                        {"compression_ratio", m["compression_ratio"]},
                        {"perplexity", m["perplexity_quantized"]},
                        {"perplexity_uncertainty", m["perplexity_quantized_uncertainty"]},
                        {"perplexity_delta_pct", m["perplexity_delta_pct"]},
                        {"kld_mean", m["kld_mean"]},
                        {"kld_uncertainty", m["kld_uncertainty"]},
                        {"kld_p99", m["kld_p99"]},
                        {"top1_agreement", m["top1_agreement"]},
                        {"pareto", true}});
    }
    std::stable_sort(rows.begin(), rows.end(), [](const json& a, const json& b) { return a["size"].get<uint64_t>() < b["size"].get<uint64_t>(); });
    // Pareto-optimal: no other file is at most as large with at most the KL divergence and the
    // perplexity, and better in one of the three.
    for (auto& r : rows) {
        for (const auto& other : rows) {
            const bool no_worse = other["size"] <= r["size"] && other["kld_mean"] <= r["kld_mean"] && other["perplexity"] <= r["perplexity"];
            const bool better = other["size"] < r["size"] || other["kld_mean"] < r["kld_mean"] || other["perplexity"] < r["perplexity"];
            if (no_worse && better) r["pareto"] = false;
        }
    }
    const FileFacts fo = facts_of(s.original);
    json result = {{"status", "success"},
                   {"original_model", o.original_path},
                   {"original_size", fo.size},
                   {"original_bpw", fo.bpw()},
                   {"perplexity_original", s.results.base_nll.ppl()},
                   {"perplexity_original_uncertainty", s.results.base_nll.ppl_uncertainty()},
                   {"text", s.text},
                   {"rows", rows},
                   {"timestamp", utc_timestamp()},
                   {"duration_seconds", host.now_seconds ? host.now_seconds() - t0 : 0.0},
                   {"peak_memory_bytes", host.peak_memory_bytes ? host.peak_memory_bytes() : 0},
                   {"output_path", nullptr}};
    write_output(o.output_path, result, host);
    return result;
}

}  // namespace llmq
