// llmq analyze: calibration text → layer-streamed forward pass with observers (imatrix
// accumulator, super-weight spikes, block influence per batch) → imatrix file, layer importance,
// super weights. Checkpoints after each layer; a cache keyed by model and calibration.
#include "llmq/jobs/analyze.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "jobs/cache.hpp"
#include "jobs/output_check.hpp"
#include "llmq/analysis/calibration.hpp"
#include "llmq/analysis/checkpoint.hpp"
#include "llmq/analysis/imatrix_accumulator.hpp"
#include "llmq/analysis/layer_importance.hpp"
#include "llmq/analysis/super_weights.hpp"
#include "llmq/error.hpp"
#include "llmq/format/imatrix.hpp"
#include "llmq/io/memory.hpp"
#include "llmq/io/sha256.hpp"
#include "llmq/jobs/inspect.hpp"
#include "llmq/runtime/streamer.hpp"
#include "llmq/runtime/tokenizer.hpp"

namespace llmq {
namespace {

using jobs::cache_directory;
using jobs::model_fingerprint;
using jobs::read_whole;
using jobs::write_whole;
using nlohmann::json;

void log(Host& host, LogLevel level, const std::string& message) {
    if (host.log) host.log(level, message);
}

// Every matmul goes to the accumulator and, when asked for, to the super-weight observer.
class Observers final : public MatmulObserver {
public:
    Observers(ImatrixAccumulator& imatrix, MatmulObserver* extra) : imatrix_(imatrix), extra_(extra) {}
    bool wants_output() const override { return extra_ && extra_->wants_output(); }
    void on_matmul(const MatmulInput& in) override {
        imatrix_.on_matmul(in);
        if (extra_) extra_->on_matmul(in);
    }
    void on_matmul_output(const MatmulInput& in, std::span<const float> y) override {
        if (extra_) extra_->on_matmul_output(in, y);
    }

private:
    ImatrixAccumulator& imatrix_;
    MatmulObserver* extra_;
};

// begin/end of the per-layer progress, ended on every path out.
class ProgressScope {
public:
    ProgressScope(Progress* p, uint64_t total) : p_(p) {
        if (p_) p_->begin("analyze", total, ProgressUnit::steps("layers"));
    }
    ~ProgressScope() {
        if (p_) p_->end();
    }
    ProgressScope(const ProgressScope&) = delete;
    ProgressScope& operator=(const ProgressScope&) = delete;
    void update(uint64_t done, const std::string& item) {
        if (p_) p_->update(done, item);
    }
    bool cancelled() const { return p_ && p_->cancelled(); }

private:
    Progress* p_;
};

std::string format_number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

std::string normal_path(const std::string& p) {
    return std::filesystem::path(p).lexically_normal().string();
}

struct Cache {
    std::string imatrix_path;  // the file as -o gets it
    std::string info_path;     // the JSON result of the run that made it
};

Cache cache_entry(const std::string& dir, const AnalyzeOptions& o, const std::string& fingerprint, const Calibration& cal) {
    Sha256 h;
    // Everything the output bytes depend on; the model path too, so that a modified copy of a
    // model with an unchanged header is never served another model's matrix.
    for (const std::string& part : {std::string("llmq-imatrix-cache-1"), fingerprint, normal_path(o.model_path), cal.sha256, cal.source,
                                    std::to_string(o.ctx), std::to_string(o.samples), o.method, o.imatrix_format}) {
        h.update(part);
        h.update(std::string_view("\n", 1));
    }
    const std::string key = h.hex();
    const std::filesystem::path d(dir);
    return {(d / (key + ".imatrix")).string(), (d / (key + ".json")).string()};
}

json global_statistics(const ImatrixData& data) {
    double mn = INFINITY, mx = -INFINITY, sum = 0.0, sum2 = 0.0;
    uint64_t n = 0;
    for (const auto& [name, values] : data.entries) {
        for (float v : values) {
            mn = std::min<double>(mn, v);
            mx = std::max<double>(mx, v);
            sum += v;
            sum2 += static_cast<double>(v) * v;
            ++n;
        }
    }
    if (n == 0) return {{"min", nullptr}, {"max", nullptr}, {"mean", nullptr}, {"std", nullptr}};
    const double mean = sum / static_cast<double>(n);
    return {{"min", mn}, {"max", mx}, {"mean", mean}, {"std", std::sqrt(std::max(0.0, sum2 / static_cast<double>(n) - mean * mean))}};
}

// Also the partial file of a checkpoint whose writing was killed (kill -9, power loss).
void remove_checkpoints(const std::string& dir, int64_t n_layer, Host& host) {
    for (int64_t k = 1; k <= n_layer; ++k) {
        const std::string p = checkpoint_path(dir, k);
        if (host.exists(p)) host.remove_file(p);
        if (host.exists(p + ".part")) {
            log(host, LogLevel::Info, "note: removing " + p + ".part, the partial checkpoint of an interrupted run");
            host.remove_file(p + ".part");
        }
    }
}

std::string resume_hint(const AnalyzeOptions& o, const std::string& dir) {
    return "continue with: llmq analyze " + o.model_path + " <same options> --resume " + dir;
}

void validate(const AnalyzeOptions& o) {
    if (o.method == "gradient" || o.method == "fisher") {
        fail(ExitCode::Usage, "--method " + o.method + " is not implemented; methods available: activation",
             "use --method activation (the default: llama-imatrix's mean squared activations)");
    }
    if (o.method != "activation") fail(ExitCode::Usage, "unknown --method '" + o.method + "'", "methods available: activation");
    if (o.imatrix_format != "gguf" && o.imatrix_format != "dat") {
        fail(ExitCode::Usage, "invalid --imatrix-format '" + o.imatrix_format + "'", "use gguf (default) or dat");
    }
    if (!(o.coverage > 0.0 && o.coverage <= 0.01)) {
        fail(ExitCode::Usage, "--coverage " + format_number(o.coverage) + " is outside (0, 0.01]", "the default is 0.0001 (0.01% of the weights)");
    }
    if (o.samples < kMinCalibrationSamples || o.samples > kMaxCalibrationSamples) {
        fail(ExitCode::Calibration,
             "--calibration-samples " + std::to_string(o.samples) + " is outside the accepted range " + std::to_string(kMinCalibrationSamples) +
                 ".." + std::to_string(kMaxCalibrationSamples),
             "use from 128 to 1024 samples (default 512)");
    }
    if (o.ctx < kMinAnalyzeCtx || o.ctx > kMaxAnalyzeCtx) {
        fail(ExitCode::Usage,
             "--ctx " + std::to_string(o.ctx) + " is outside " + std::to_string(kMinAnalyzeCtx) + ".." + std::to_string(kMaxAnalyzeCtx),
             "the default is 512 tokens per sample");
    }
    if (!o.checkpoint_dir.empty() && !o.resume_dir.empty() && normal_path(o.checkpoint_dir) != normal_path(o.resume_dir)) {
        fail(ExitCode::Usage, "--checkpoint-dir " + o.checkpoint_dir + " and --resume " + o.resume_dir + " differ",
             "--resume D keeps writing its checkpoints to D; give only --resume");
    }
}

}  // namespace

std::string default_imatrix_name(const std::string& model_path) {
    std::filesystem::path p(model_path);
    if (!p.has_filename()) p = p.parent_path();
    std::string stem = p.filename().string();
    if (stem.size() > 5 && stem.ends_with(".gguf")) stem.resize(stem.size() - 5);
    if (stem.empty()) stem = "model";
    return stem + ".imatrix";
}

json run_analyze(const AnalyzeOptions& options, Host& host) {
    const double t0 = host.now_seconds ? host.now_seconds() : 0.0;
    auto now = [&] { return host.now_seconds ? host.now_seconds() : 0.0; };
    AnalyzeOptions o = options;
    validate(o);
    const std::optional<std::string> cache_dir = cache_directory(host);  // checked even with --no-cache

    const ModelView model = open_model(o.model_path, host);
    SerialFor serial;
    ParallelFor& parallel = host.parallel ? *host.parallel : serial;
    LayerStreamer streamer(model, parallel);
    const ModelConfig& cfg = streamer.config();
    const int64_t n_layer = cfg.n_layer, E = cfg.n_embd;

    if (o.output_path.empty()) o.output_path = default_imatrix_name(o.model_path);
    if (!o.resume_dir.empty() && !host.exists(o.resume_dir)) {
        fail(ExitCode::Usage, "--resume " + o.resume_dir + ": no such checkpoint directory",
             "give the --checkpoint-dir of the interrupted run, or use --checkpoint-dir to start a resumable one");
    }
    if (o.calibration_path.empty()) {
        if (host.bundled_file) o.calibration_path = host.bundled_file("wikitext-2-test.raw");
        if (o.calibration_path.empty()) {
            fail(ExitCode::Calibration, "no calibration data given and the bundled WikiText-2 text (data/wikitext-2-test.raw) was not found",
                 "pass a text, .json or .jsonl file with --calibration-data, or set LLMQ_DATA_DIR to llmq's data/ directory");
        }
    }
    // The outputs are written at the end of a possibly long run: one over an input or an
    // unwritable path fails now.
    for (const std::string& path : {o.output_path, o.identify_super_weights ? o.output_path + ".superweights.json" : std::string()}) {
        if (path.empty()) continue;
        jobs::refuse_output_over_inputs(path, {o.model_path}, {o.calibration_path}, host);
        host.create_file(path)->abort();
    }
    const Tokenizer tokenizer = Tokenizer::from_metadata(model);
    const Calibration cal = load_calibration({o.calibration_path, o.samples, o.ctx}, tokenizer, host);
    const int64_t n_tokens = o.samples * o.ctx;
    const std::string fingerprint = model_fingerprint(model);
    const std::string sw_mask_path = o.output_path + ".superweights.json";

    json result = {{"status", "success"},
                   {"output_path", o.output_path},
                   {"model_path", o.model_path},
                   {"method", o.method},
                   {"imatrix_format", o.imatrix_format},
                   {"num_layers", n_layer},
                   {"calibration_samples", o.samples},
                   {"ctx", o.ctx},
                   {"calibration", {{"source", cal.source}, {"tokens", n_tokens}, {"text_tokens", cal.text_tokens}, {"sha256", cal.sha256}}}};
    auto finish_result = [&](bool cached, double tokens_per_second) {
        result["cached"] = cached;
        result["duration_seconds"] = now() - t0;
        result["tokens_per_second"] = tokens_per_second;
        result["peak_memory_bytes"] = host.peak_memory_bytes ? host.peak_memory_bytes() : 0;
        return result;
    };

    // The cache holds the matrix and the analysis result; super-weight runs bypass it (the spike
    // observer's data is not cached).
    std::optional<Cache> cache;
    if (o.use_cache && cache_dir && !o.identify_super_weights) cache = cache_entry(*cache_dir, o, fingerprint, cal);
    if (cache && host.exists(cache->imatrix_path) && host.exists(cache->info_path)) {
        try {
            const std::vector<uint8_t> bytes = read_whole(cache->imatrix_path, host);
            const std::vector<uint8_t> info_bytes = read_whole(cache->info_path, host);
            const json info = json::parse(info_bytes.begin(), info_bytes.end());
            (void)read_imatrix(MemorySource(bytes, cache->imatrix_path));  // a damaged entry is a miss
            write_whole(o.output_path, bytes, host);
            result["global_statistics"] = info.at("global_statistics");
            result["layer_importance"] = info.at("layer_importance");
            result["super_weights"] = nullptr;
            log(host, LogLevel::Verbose, "analyze: importance matrix from the cache " + cache->imatrix_path);
            return finish_result(true, 0.0);
        } catch (const Failure& f) {
            if (f.error().code == ExitCode::OutputIo) throw;
            log(host, LogLevel::Warning, "ignoring the damaged cache entry " + cache->imatrix_path + ": " + f.error().message);
        } catch (const json::exception&) {
            log(host, LogLevel::Warning, "ignoring the damaged cache entry " + cache->info_path);
        }
    }

    CheckpointHeader header{o.model_path, model.source_bytes, fingerprint, cal.sha256, o.ctx, o.samples, o.method, o.identify_super_weights, n_layer};
    const std::string ckpt_dir = !o.resume_dir.empty() ? o.resume_dir : o.checkpoint_dir;
    ImatrixAccumulator imatrix;
    SuperWeightObserver spikes;
    BlockInfluence influence(n_layer);
    StreamState state;
    bool resumed = false;
    if (!o.resume_dir.empty()) {
        for (int64_t k = n_layer; k >= 1 && !resumed; --k) {
            const std::string p = checkpoint_path(o.resume_dir, k);
            if (!host.exists(p)) continue;
            AnalyzeCheckpoint c = read_checkpoint(*host.open_file(p));
            if (const std::string diff = checkpoint_mismatch(c.header, header); !diff.empty()) {
                fail(ExitCode::Usage, "the checkpoint " + p + " belongs to another analysis (" + diff + ")",
                     "resume with the options of the interrupted run, or start again with --checkpoint-dir instead of --resume");
            }
            if (c.state.next_layer != k || c.state.n_tokens() != n_tokens || static_cast<int64_t>(c.state.hidden.size()) != n_tokens * E) {
                fail(ExitCode::CorruptInput, "the checkpoint " + p + " does not hold the hidden states its header announces",
                     "delete the checkpoint directory's files and run again without --resume");
            }
            state = std::move(c.state);
            imatrix = ImatrixAccumulator::restore(c.imatrix);
            if (o.identify_super_weights) spikes = SuperWeightObserver::restore(c.super_weights);
            influence = BlockInfluence::restore(c.block_influence);
            resumed = true;
            log(host, LogLevel::Info, "analyze: resuming after layer " + std::to_string(k - 1) + " from " + p);
        }
        if (!resumed) log(host, LogLevel::Warning, "no analyze checkpoint in " + o.resume_dir + "; starting from the first layer");
    }
    if (!ckpt_dir.empty()) {
        if (!host.make_directories) fail(ExitCode::Usage, "this host cannot create directories for --checkpoint-dir");
        host.make_directories(ckpt_dir);
        if (!resumed) remove_checkpoints(ckpt_dir, n_layer, host);  // a fresh run never mixes with an old one
    }
    if (!resumed) state = streamer.embed(cal.sequences);

    Observers observers(imatrix, o.identify_super_weights ? &spikes : nullptr);
    const int64_t first_layer = state.next_layer;
    const double t_forward = now();
    {
        ProgressScope progress(host.progress, static_cast<uint64_t>(n_layer));
        progress.update(static_cast<uint64_t>(first_layer), "");
        auto interrupted = [&](int64_t layers_done) {
            if (!ckpt_dir.empty() && layers_done > 0) {
                fail(ExitCode::Interrupted,
                     "analysis interrupted; the checkpoint after layer " + std::to_string(layers_done - 1) + " is kept in " + ckpt_dir,
                     resume_hint(o, ckpt_dir));
            }
            fail(ExitCode::Interrupted, "analysis interrupted",
                 ckpt_dir.empty() ? "with --checkpoint-dir D an interrupted analysis can be resumed (--resume D)"
                                  : "no layer was finished yet; run the same command again");
        };
        while (state.next_layer < n_layer) {
            const int64_t layer = state.next_layer;
            progress.update(static_cast<uint64_t>(layer), "layer " + std::to_string(layer));
            streamer.run_layer(state, &observers, [&](std::span<const float> before, std::span<const float> after) {
                influence.add(layer, before, after, E);
                if (progress.cancelled()) interrupted(layer);
            });
            if (!ckpt_dir.empty()) {
                AnalyzeCheckpoint c;
                c.header = header;
                c.imatrix = imatrix.save();
                if (o.identify_super_weights) c.super_weights = spikes.save();
                c.block_influence = influence.save();
                c.state = std::move(state);
                auto sink = host.create_file(checkpoint_path(ckpt_dir, c.state.next_layer));
                try {
                    write_checkpoint(*sink, c);
                    sink->finish();
                } catch (...) {
                    sink->abort();
                    state = std::move(c.state);
                    throw;
                }
                state = std::move(c.state);
                const std::string previous = checkpoint_path(ckpt_dir, state.next_layer - 1);
                if (state.next_layer > 1 && host.exists(previous)) host.remove_file(previous);
            }
            progress.update(static_cast<uint64_t>(state.next_layer), "layer " + std::to_string(layer));
            if (progress.cancelled() && state.next_layer < n_layer) interrupted(state.next_layer);
        }
    }
    const double forward_seconds = now() - t_forward;
    state = {};
    streamer.release();

    // The matrix, as llama-imatrix writes it: chunk_count = samples, chunk_size = ctx.
    const ImatrixSums sums = imatrix.sums({cal.source}, static_cast<uint32_t>(o.samples), static_cast<uint32_t>(o.ctx));
    MemorySink out("imatrix");
    if (o.imatrix_format == "dat") {
        write_imatrix_dat(out, sums);
    } else {
        write_imatrix_gguf(out, sums);
    }
    out.finish();
    const ImatrixData data = imatrix.data();
    for (const auto& [name, values] : data.entries) {
        for (float v : values) {
            if (!std::isfinite(v))
                fail(ExitCode::Importance, "the importance of " + name + " is not finite", "the model produces non-finite activations on this text");
        }
    }
    write_whole(o.output_path, out.bytes(), host);
    result["global_statistics"] = global_statistics(data);

    json layers = json::array();
    const std::vector<double> scores = influence.scores();
    const std::vector<double> sensitivity = quantization_sensitivity(model, data, parallel);
    for (int64_t l = 0; l < n_layer; ++l) {
        const double bi = l < static_cast<int64_t>(scores.size()) ? scores[static_cast<size_t>(l)] : 0.0;
        const double se = l < static_cast<int64_t>(sensitivity.size()) ? sensitivity[static_cast<size_t>(l)] : 0.0;
        layers.push_back({{"layer", l}, {"score", bi}, {"block_influence", bi}, {"sensitivity", se}});
    }
    result["layer_importance"] = layers;
    result["super_weights"] = nullptr;
    if (o.identify_super_weights) {
        const SuperWeightReport report = find_super_weights(model, spikes, data, o.coverage, parallel);
        auto sink = host.create_file(sw_mask_path);
        try {
            write_super_weight_mask(*sink, report);
            sink->finish();
        } catch (...) {
            sink->abort();
            throw;
        }
        const json locations = super_weight_locations_json(report);
        result["super_weights"] = {{"identified", report.identified},
                                   {"coverage", report.coverage},
                                   {"total_protected", report.locations.size() + report.coverage_set.size()},
                                   {"locations", locations},
                                   {"mask_path", sw_mask_path}};
    }
    if (!ckpt_dir.empty()) remove_checkpoints(ckpt_dir, n_layer, host);  // kept only until success

    if (cache) {
        // A cache that cannot be written costs the next run time, not this one its result.
        try {
            if (host.make_directories) host.make_directories(*cache_dir);
            write_whole(cache->imatrix_path, out.bytes(), host);
            const std::string info = json{{"global_statistics", result["global_statistics"]}, {"layer_importance", layers}}.dump();
            write_whole(cache->info_path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(info.data()), info.size()), host);
        } catch (const Failure& f) {
            log(host, LogLevel::Warning, "could not store the importance matrix in the cache " + *cache_dir + ": " + f.error().message);
        }
    }
    const double layers_run = static_cast<double>(n_layer - first_layer);
    const double tps = forward_seconds > 0 ? static_cast<double>(n_tokens) * layers_run / static_cast<double>(n_layer) / forward_seconds : 0.0;
    return finish_result(false, tps);
}

}  // namespace llmq
