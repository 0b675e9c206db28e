#include "jobs/dynamic.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "analysis/weight_rows.hpp"
#include "jobs/cache.hpp"
#include "jobs/protection.hpp"
#include "llmq/analysis/calibration.hpp"
#include "llmq/analysis/imatrix_accumulator.hpp"
#include "llmq/analysis/tensor_costs.hpp"
#include "llmq/error.hpp"
#include "llmq/io/memory.hpp"
#include "llmq/io/sha256.hpp"
#include "llmq/plan/allocate.hpp"
#include "llmq/plan/plan.hpp"
#include "llmq/quant/codec.hpp"
#include "llmq/runtime/config.hpp"
#include "llmq/runtime/streamer.hpp"
#include "llmq/runtime/tokenizer.hpp"
#include "plan/internal.hpp"
#include "util/printf.hpp"

namespace llmq::jobs {
namespace {

using nlohmann::json;

constexpr const char* kProfileDirEnv = "LLM_QUANTIZE_PROFILE_DIR";
constexpr int kCostsVersion = 1;
// Calibration of the KL-divergence probes: samples of kProbeCtx tokens spread over the text.
constexpr int64_t kProbeSamples = 8;
// Work (multiply-adds) the automatic probe choice allows: about ten minutes at 30 GFLOP/s.
constexpr double kProbeBudgetFlops = 2e13;
constexpr int64_t kProbeCtx = 256;

void log(Host& host, LogLevel level, const std::string& message) {
    if (host.log) host.log(level, message);
}

std::string human_bytes(double b) {
    if (b >= 1e9) return strprintf("%.2f GB", b / 1e9);
    if (b >= 1e6) return strprintf("%.2f MB", b / 1e6);
    if (b >= 1e3) return strprintf("%.1f KB", b / 1e3);
    return strprintf("%.0f B", b);
}

uint64_t align_up(uint64_t n, uint32_t a) {
    return (n + a - 1) / a * a;
}

std::string read_text(const std::string& path, Host& host) {
    const auto bytes = read_whole(path, host);
    return {bytes.begin(), bytes.end()};
}

std::string builtin_names() {
    std::string s;
    for (const auto& b : plan::builtin_profiles()) s += (s.empty() ? "" : ", ") + std::string(b.name);
    return s;
}

// ---- the KL-divergence calibration ----------------------------------------------------

struct ProbeCalibration {
    std::string source;
    std::string sha256;
    std::vector<std::vector<int32_t>> sequences;
};

// Text for the probes: --calibration-data; else the text the importance matrix was computed
// on (when it can be read here: the model is judged on what its user calibrated for); else the
// bundled WikiText-2.
std::string probe_text_path(const DynamicRequest& request, const ImatrixData* imatrix, Host& host) {
    if (!request.calibration_path.empty()) {
        if (!host.exists(request.calibration_path))
            fail(ExitCode::Calibration, "calibration data " + request.calibration_path + " not found",
                 "pass an existing text, .json or .jsonl file with --calibration-data");
        return request.calibration_path;
    }
    if (imatrix && !imatrix->datasets.empty() && host.exists(imatrix->datasets.front())) return imatrix->datasets.front();
    return host.bundled_file ? host.bundled_file("wikitext-2-test.raw") : std::string();
}

ProbeCalibration load_probe_calibration(const std::string& path, const Tokenizer& tokenizer, int64_t n_ctx_train, int64_t wanted, Host& host) {
    ProbeCalibration c;
    c.source = path;
    const std::string bytes = read_text(path, host);
    Sha256 h;
    h.update(bytes);
    c.sha256 = h.hex();
    const std::vector<int32_t> tokens = tokenizer.encode(calibration_text(bytes, path), /*add_special=*/true, /*parse_special=*/false);
    const int64_t ctx = n_ctx_train > 0 ? std::min(kProbeCtx, n_ctx_train) : kProbeCtx;
    const int64_t available = static_cast<int64_t>(tokens.size()) / ctx;
    if (available < 2) {
        fail(ExitCode::Calibration, "calibration data " + path + " gives " + std::to_string(tokens.size()) + " tokens, too few for the probes",
             "use a text of at least " + std::to_string(2 * ctx) + " tokens");
    }
    const int64_t samples = std::min(wanted, available);
    const int32_t bos = tokenizer.add_bos() ? tokenizer.bos() : -1;
    for (int64_t k = 0; k < samples; ++k) {
        // Spread over the whole text: chunk k of `samples` evenly spaced ones.
        const int64_t chunk = k * available / samples;
        c.sequences.emplace_back(tokens.begin() + chunk * ctx, tokens.begin() + (chunk + 1) * ctx);
        if (bos >= 0) c.sequences.back()[0] = bos;
    }
    return c;
}

// ---- the cost table on disk -------------------------------------------------------------

json costs_to_json(const CostTable& table, const json& identity) {
    json tensors = json::array();
    for (const auto& tc : table.tensors) {
        json types = json::array();
        for (const auto& c : tc.types) {
            types.push_back({{"type", type_name(c.type)}, {"bytes", c.bytes}, {"werr", c.werr}, {"kld", c.kld >= 0 ? json(c.kld) : json(nullptr)}});
        }
        tensors.push_back(
            {{"name", tc.name}, {"layer", tc.layer}, {"params", tc.params}, {"wnorm", tc.wnorm}, {"weighted", tc.weighted}, {"types", types}});
    }
    return {{"llmq_costs", kCostsVersion},
            {"identity", identity},
            {"kld_tokens", table.kld_tokens},
            {"kld_probes", table.kld_probes},
            {"weight_seconds", table.weight_seconds},
            {"kld_seconds", table.kld_seconds},
            {"tensors", tensors}};
}

// Reads a cost table for this model: every tensor of `wanted` with every type it lists.
// Failure(Usage) naming what does not match.
CostTable costs_from_json(const json& doc, const std::string& path, const std::vector<TensorCosts>& wanted, const std::string& fingerprint) {
    auto bad = [&](const std::string& what) -> void {
        fail(ExitCode::Usage, "measurements " + path + ": " + what, "measure again: remove the file (or pass another path) and rerun");
    };
    try {
        if (doc.value("llmq_costs", 0) != kCostsVersion) bad("not an llmq measurement file (version " + std::to_string(kCostsVersion) + ")");
        if (doc.at("identity").at("model").get<std::string>() != fingerprint) bad("they were taken on another model");
        std::map<std::string, const json*> by_name;
        for (const auto& t : doc.at("tensors")) by_name[t.at("name").get<std::string>()] = &t;
        CostTable table;
        table.kld_tokens = doc.at("kld_tokens").get<int64_t>();
        table.kld_probes = doc.at("kld_probes").get<int64_t>();
        table.weight_seconds = doc.at("weight_seconds").get<double>();
        table.kld_seconds = doc.at("kld_seconds").get<double>();
        for (const TensorCosts& w : wanted) {
            const auto it = by_name.find(w.name);
            if (it == by_name.end()) bad("no entry for tensor " + w.name);
            const json& t = *it->second;
            TensorCosts tc = w;
            tc.params = t.at("params").get<uint64_t>();
            tc.wnorm = t.at("wnorm").get<double>();
            tc.weighted = t.at("weighted").get<bool>();
            for (auto& c : tc.types) {
                bool found = false;
                for (const auto& jt : t.at("types")) {
                    if (type_from_name(jt.at("type").get<std::string>()) != c.type) continue;
                    c.bytes = jt.at("bytes").get<uint64_t>();
                    c.werr = jt.at("werr").get<double>();
                    c.kld = jt.at("kld").is_null() ? -1.0 : jt.at("kld").get<double>();
                    found = true;
                }
                if (!found) bad("tensor " + w.name + " was not measured at " + std::string(type_name(c.type)) + ", which the profile allows");
            }
            table.tensors.push_back(std::move(tc));
        }
        return table;
    } catch (const json::exception& e) {
        bad(std::string("malformed (") + e.what() + ")");
    }
    return {};
}

std::string imatrix_hash(const ImatrixData& data) {
    Sha256 h;
    for (const auto& [name, values] : data.entries) {
        h.update(name);
        h.update(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(values.data()), values.size() * sizeof(float)));
    }
    return h.hex();
}

// Which probe types each tensor's KL divergence is measured at: "all" (every candidate),
// "none", "one" (the candidate nearest 4 bits per weight) or "two" (those nearest 3.5 and 5.5).
std::vector<GgmlType> probe_types(const TensorCosts& tc, const std::string& mode) {
    if (mode == "none") return {};
    std::vector<GgmlType> all;
    for (const auto& c : tc.types) all.push_back(c.type);
    if (mode == "all") return all;
    std::vector<GgmlType> out;
    const std::vector<double> near = mode == "one" ? std::vector<double>{4.0} : std::vector<double>{3.5, 5.5};
    for (double bpw : near) {
        GgmlType best = all.front();
        for (GgmlType t : all)
            if (std::abs(bits_per_weight(t) - bpw) < std::abs(bits_per_weight(best) - bpw)) best = t;
        if (std::find(out.begin(), out.end(), best) == out.end()) out.push_back(best);
    }
    return out;
}

// Whether quantizing t's protected rows at type (with the protected importance) keeps every
// super weight in it within 1 % of its value. Tensors without super weights: always.
bool keeps_super_weights(const ModelTensor& t, GgmlType type, const ImatrixData* imatrix, const SuperWeightMask& mask) {
    const auto it = mask.protect.find(t.name);
    if (it == mask.protect.end()) return true;
    const int64_t n = t.ne[0];
    std::vector<uint8_t> raw(row_size(t.type, n)), q(row_size(type, n));
    std::vector<float> row(static_cast<size_t>(n)), back(static_cast<size_t>(n)), own(static_cast<size_t>(n));
    std::span<const float> base;
    if (imatrix) {
        if (auto e = imatrix->entries.find(t.name); e != imatrix->entries.end() && e->second.size() == static_cast<size_t>(n)) base = e->second;
    }
    const auto& list = it->second;
    for (size_t i = 0; i < list.size();) {
        size_t j = i;
        while (j < list.size() && list[j].row == list[i].row) ++j;
        const bool has_super = std::any_of(list.begin() + static_cast<std::ptrdiff_t>(i), list.begin() + static_cast<std::ptrdiff_t>(j),
                                           [](const ProtectedWeight& p) { return p.super_weight; });
        if (has_super) {
            t.read_rows(list[i].row, 1, raw);
            if (t.type == GgmlType::F32) {
                std::memcpy(row.data(), raw.data(), raw.size());
            } else {
                dequantize(t.type, raw, row);
            }
            protected_importance(base, std::span<const ProtectedWeight>(list.data() + i, j - i), own);
            quantize_rows(type, row, q, n, own);
            dequantize(type, q, back);
            for (size_t k = i; k < j; ++k) {
                if (!list[k].super_weight) continue;
                const float v = row[static_cast<size_t>(list[k].col)], w = back[static_cast<size_t>(list[k].col)];
                if (std::fabs(static_cast<double>(w) - v) > 0.01 * std::fabs(static_cast<double>(v))) return false;
            }
        }
        i = j;
    }
    return true;
}

uint32_t ftype_of_mix(const std::map<GgmlType, uint64_t>& bytes_by_type) {
    GgmlType dominant = GgmlType::F16;
    uint64_t most = 0;
    for (const auto& [t, b] : bytes_by_type) {
        if (b > most) {
            most = b;
            dominant = t;
        }
    }
    const plan::Preset* fallback = nullptr;
    for (const auto& p : plan::presets()) {
        if (p.default_type != dominant) continue;
        if (p.name.ends_with("_M")) return p.ftype;
        if (!fallback) fallback = &p;
    }
    return fallback ? fallback->ftype : plan::ftype::F16;
}

}  // namespace

std::string describe_target(const DynamicRequest& request, const plan::Profile& profile) {
    if (request.target_size) return std::to_string(*request.target_size) + " bytes";
    if (request.target_bpw) return strprintf("%.4g bpw", *request.target_bpw);
    if (profile.default_target.bpw) return strprintf("%.4g bpw (profile default)", *profile.default_target.bpw);
    if (profile.default_target.size) return std::to_string(*profile.default_target.size) + " bytes (profile default)";
    return strprintf("%.4g of the 16-bit size (profile default)", *profile.default_target.ratio);
}

std::string profile_dir(Host& host) {
    if (!host.env) return {};
    if (auto v = host.env(kProfileDirEnv)) {
        if (v->empty())
            fail(ExitCode::Usage, std::string(kProfileDirEnv) + " is set but empty", "set it to the directory of your .dqprofile files, or unset it");
        return *v;
    }
    auto home = host.env("HOME");
    if (!home || home->empty()) return {};
    return (std::filesystem::path(*home) / ".config" / "llmq" / "profiles").string();
}

std::vector<GgmlType> candidate_types(const plan::Profile& profile, const ModelTensor& tensor, bool has_importance) {
    std::vector<GgmlType> out;
    for (GgmlType type : profile.allowed(tensor.name)) {
        if (tensor.ne[0] % traits(type).block_size != 0) continue;
        if (traits(type).ggml_requires_imatrix && !has_importance) continue;
        out.push_back(type);
    }
    return out;
}

DynamicSetup dynamic_setup(const ModelView& model, const std::vector<gguf::KeyValue>& kv, uint32_t alignment, const FixedTypes& fixed_types) {
    DynamicSetup s;
    s.fixed.alignment = alignment;
    const auto overrides = plan::detail::compile_overrides(fixed_types.tensor_types);
    std::vector<gguf::TensorDecl> decls;
    for (size_t i = 0; i < model.tensors.size(); ++i) {
        const ModelTensor& t = model.tensors[i];
        decls.push_back({t.name, t.n_dims, t.ne, t.type});
        s.fixed.total_params += static_cast<uint64_t>(t.n_elements());
        std::optional<GgmlType> kept;
        const auto category = plan::detail::categorize(t.name);
        if (plan::detail::not_quantizable_reason(t, fixed_types.leave_output_tensor)) {
            kept = t.type;
        } else if (fixed_types.token_embedding_type && category == plan::detail::Category::TokenEmbd) {
            kept = *fixed_types.token_embedding_type;
        } else if (fixed_types.output_tensor_type && category == plan::detail::Category::Output) {
            kept = *fixed_types.output_tensor_type;
        } else if (const auto* m = plan::detail::match_override(overrides, t.name)) {
            kept = m->type;
        }
        if (kept) {
            const uint64_t bytes = row_size(*kept, t.ne[0]) * static_cast<uint64_t>(t.n_rows());
            s.fixed.kept_raw_bytes += bytes;
            s.fixed.kept_bytes += align_up(bytes, alignment);
        } else {
            s.quantizable.push_back(i);
        }
    }
    // The header's size does not depend on the tensor types.
    s.fixed.header_bytes = align_up(gguf::encode_header(kv, decls, alignment).size(), alignment);
    return s;
}

plan::Profile load_profile(const std::string& spec, Host& host) {
    if (spec.empty())
        fail(ExitCode::Profile, "no profile given", "choose one with --profile NAME (built-in: " + builtin_names() + ") or --profile FILE.dqprofile");
    const bool looks_like_path = spec.ends_with(".dqprofile") || spec.find('/') != std::string::npos;
    if (looks_like_path) {
        if (!host.exists(spec))
            fail(ExitCode::Profile, "profile file " + spec + " not found", "check the path; built-in profiles: " + builtin_names());
        return plan::parse_profile(read_text(spec, host), spec);
    }
    if (const auto* b = plan::find_builtin_profile(spec)) return plan::parse_profile(b->text, "built-in " + std::string(b->name));
    const std::string dir = profile_dir(host);
    if (!dir.empty()) {
        const std::string path = (std::filesystem::path(dir) / (spec + ".dqprofile")).string();
        if (host.exists(path)) return plan::parse_profile(read_text(path, host), path);
    }
    fail(ExitCode::Profile, "unknown profile '" + spec + "'",
         "built-in profiles: " + builtin_names() + (dir.empty() ? std::string() : "; custom ones are read from " + dir + "/NAME.dqprofile") +
             " (see `llmq profile list`)");
}

DynamicDecision decide_dynamic(const ModelView& model, const std::vector<size_t>& quantizable, const ImatrixData* imatrix,
                               const std::string& imatrix_path, const DynamicRequest& request, const plan::Profile& profile, const FixedCosts& fixed,
                               const SuperWeightMask* protect, Host& host) {
    auto now = [&] { return host.now_seconds ? host.now_seconds() : 0.0; };
    SerialFor serial;
    ParallelFor& parallel = host.parallel ? *host.parallel : serial;
    DynamicDecision d;
    d.profile = profile;
    std::vector<std::string> warnings;

    const ModelConfig config = model_config(model);
    // Candidates per tensor: what the profile allows and the rows can hold.
    std::vector<TensorCosts> wanted;
    for (size_t index : quantizable) {
        const ModelTensor& t = model.tensors[index];
        TensorCosts tc;
        tc.name = t.name;
        tc.source_index = index;
        const auto layer = analysis::block_index(t.name);
        tc.layer = layer ? *layer : (t.name == "output.weight" ? config.n_layer : -1);
        // A computed importance matrix covers the block matrices (as llama-imatrix does).
        const bool has_importance = imatrix ? imatrix->entries.count(t.name) > 0 : layer.has_value();
        for (GgmlType type : candidate_types(profile, t, has_importance)) {
            // A tensor holding super weights takes only types that keep them (within 1 %).
            if (protect && !keeps_super_weights(t, type, imatrix, *protect)) continue;
            tc.types.push_back({type});
        }
        if (tc.types.empty()) {
            const GgmlType safe = t.ne[0] % 32 == 0 ? GgmlType::Q8_0 : GgmlType::F16;
            warnings.push_back(t.name + ": no type of profile " + profile.name + " fits rows of " + std::to_string(t.ne[0]) + "; kept at " +
                               std::string(type_name(safe)));
            tc.types.push_back({safe});
        }
        wanted.push_back(std::move(tc));
    }

    // "auto" takes two probes per tensor while the work stays affordable, one beyond that, none
    // past that (from the shapes, not the clock: the same choice on every host).
    const int64_t samples = request.samples > 0 ? request.samples : kProbeSamples;
    std::string probes_mode = request.probes;
    if (probes_mode == "auto") {
        double params = 0.0;
        for (const auto& t : model.tensors) params += static_cast<double>(t.n_elements());
        const double per_probe = params / 2.0 * static_cast<double>(samples * kProbeCtx);  // half the model on average
        const double n = static_cast<double>(wanted.size());
        probes_mode = 2.0 * n * per_probe <= kProbeBudgetFlops ? "two" : n * per_probe <= kProbeBudgetFlops * 2.0 ? "one" : "none";
        if (probes_mode == "none") {
            warnings.push_back(
                "the model is too large for automatic KL-divergence probes; the losses are relative weight errors "
                "(pass --probes one or two to measure them, at the cost of many model runs)");
        }
    }
    const std::string fingerprint = model_fingerprint(model);

    // Identity of a measurement: the model, the importance matrix, the calibration text, the
    // probe settings and the candidate types.
    const Tokenizer tokenizer = Tokenizer::from_metadata(model);
    const std::string text_path = probe_text_path(request, imatrix, host);
    std::optional<ProbeCalibration> calibration;
    if (probes_mode != "none" || !imatrix) {
        if (text_path.empty())
            fail(ExitCode::Calibration, "no calibration text for the dynamic measurement (the bundled WikiText-2 was not found)",
                 "pass a text with --calibration-data");
        calibration = load_probe_calibration(text_path, tokenizer, config.n_ctx_train, samples, host);
    }
    std::string types_key;
    for (const auto& tc : wanted) {
        types_key += tc.name + ":";
        for (const auto& c : tc.types) types_key += std::string(type_name(c.type)) + ",";
        types_key += ";";
    }
    json identity = {{"model", fingerprint},
                     {"model_path", model.path},
                     {"imatrix", imatrix ? json(imatrix_hash(*imatrix)) : json(nullptr)},
                     {"imatrix_path", imatrix ? json(imatrix_path) : json(nullptr)},
                     {"calibration", calibration ? json{{"source", calibration->source},
                                                        {"sha256", calibration->sha256},
                                                        {"samples", calibration->sequences.size()},
                                                        {"ctx", calibration->sequences.front().size()}}
                                                 : json(nullptr)},
                     {"probes", probes_mode}};
    Sha256 key;
    key.update(identity.dump());
    key.update(types_key);
    const std::string cache_key = key.hex();

    std::string costs_path = request.measurements_path;
    std::optional<std::string> cache_path;
    if (request.use_cache) {
        if (auto dir = cache_directory(host)) cache_path = (std::filesystem::path(*dir) / (cache_key + ".costs.json")).string();
    }
    CostTable table;
    std::string measured_from;
    auto try_read = [&](const std::string& path) -> bool {
        const auto bytes = read_whole(path, host);
        const json doc = json::parse(bytes.begin(), bytes.end(), nullptr, false);
        if (doc.is_discarded()) fail(ExitCode::Usage, "measurements " + path + ": not valid JSON", "remove the file and rerun to measure again");
        table = costs_from_json(doc, path, wanted, fingerprint);
        measured_from = path;
        return true;
    };
    std::optional<ImatrixData> computed;
    // Without an importance matrix one is accumulated on the calibration tokens (by the probes'
    // base run), also when the costs come from a file: the quantizers need it either way.
    ImatrixAccumulator accumulator;
    bool accumulated = false;            // computed holds the accumulator's matrix (not one read from a file)
    std::vector<uint8_t> imatrix_bytes;  // that matrix as a GGUF imatrix
    std::optional<KldEvaluator> evaluator;
    double t_base = 0.0;
    bool base_done = false;
    auto run_base = [&] {
        if (base_done || !calibration) return;
        base_done = true;
        const double t = now();
        log(host, LogLevel::Info,
            "dynamic: running the model over " + std::to_string(calibration->sequences.size()) + " samples of " + calibration->source);
        if (probes_mode == "none") {
            // Only the importance matrix: one layer at a time, nothing kept for probes.
            LayerStreamer streamer(model, parallel);
            StreamState state = streamer.embed(calibration->sequences);
            while (state.next_layer < streamer.config().n_layer) streamer.run_layer(state, &accumulator);
        } else {
            evaluator.emplace(model, calibration->sequences, 1, parallel, imatrix ? nullptr : &accumulator);
        }
        t_base = now() - t;
        if (!imatrix) {
            // As the file stores it (float sums), so a later run that reads FILE.imatrix
            // quantizes with exactly the same matrix.
            MemorySink sink("imatrix");
            write_imatrix_gguf(sink, accumulator.sums({calibration->source}, static_cast<uint32_t>(calibration->sequences.size()),
                                                      static_cast<uint32_t>(calibration->sequences.front().size())));
            sink.finish();
            imatrix_bytes = sink.bytes();
            computed = read_imatrix(MemorySource(imatrix_bytes, "computed imatrix"));
            accumulated = true;
            imatrix = &*computed;
            log(host, LogLevel::Warning,
                "dynamic: no --imatrix; the importance of each column was accumulated on " + std::to_string(calibration->sequences.size()) +
                    " calibration samples (pass one from `llmq analyze` for better files)");
        }
    };
    // A measurement made with a computed importance matrix keeps that matrix beside it
    // (FILE.imatrix), so a re-solve never runs the model.
    auto sidecar = [](const std::string& costs) { return costs + ".imatrix"; };
    auto read_sidecar = [&](const std::string& costs) -> bool {
        if (imatrix) return true;
        if (!host.exists(sidecar(costs))) return false;
        try {
            computed = read_imatrix(*host.open_file(sidecar(costs)));
            imatrix = &*computed;
            return true;
        } catch (const Failure& f) {
            log(host, LogLevel::Warning, "ignoring " + sidecar(costs) + ": " + f.error().message);
            return false;
        }
    };
    if (!costs_path.empty() && host.exists(costs_path)) {
        if (!read_sidecar(costs_path)) run_base();
        try_read(costs_path);
    } else if (cache_path && host.exists(*cache_path) && read_sidecar(*cache_path)) {
        try {
            try_read(*cache_path);
        } catch (const Failure& f) {
            log(host, LogLevel::Warning, "ignoring the cache entry " + *cache_path + ": " + f.error().message);
        }
    }
    if (!imatrix) run_base();
    if (measured_from.empty()) {
        table.tensors = wanted;
        if (probes_mode != "none") run_base();
        double t_kld = t_base;
        const double t0 = now();
        if (host.progress) host.progress->begin("measure", wanted.size(), ProgressUnit::steps("tensors"));
        measure_weight_errors(model, imatrix, table.tensors, parallel, [&](size_t done, size_t, const std::string& name) {
            if (host.progress) {
                if (host.progress->cancelled()) fail(ExitCode::Interrupted, "interrupted");
                host.progress->update(done, name);
            }
        });
        if (host.progress) host.progress->end();
        table.weight_seconds = now() - t0;
        if (evaluator && probes_mode != "none") {
            const double t1 = now();
            size_t total = 0;
            for (const auto& tc : table.tensors) total += probe_types(tc, probes_mode).size();
            if (host.progress) host.progress->begin("probe", total, ProgressUnit::steps("probes"));
            measure_kld(
                *evaluator, model, imatrix, table, [&](const TensorCosts& tc) { return probe_types(tc, probes_mode); }, parallel,
                [&](size_t done, size_t, const std::string& name) {
                    if (host.progress) {
                        if (host.progress->cancelled()) fail(ExitCode::Interrupted, "interrupted");
                        host.progress->update(done, name);
                    }
                });
            if (host.progress) host.progress->end();
            t_kld += now() - t1;
        }
        table.kld_seconds = t_kld;
        const std::string doc = costs_to_json(table, identity).dump(1);
        const std::span<const uint8_t> doc_bytes(reinterpret_cast<const uint8_t*>(doc.data()), doc.size());
        if (!costs_path.empty()) {
            if (accumulated) write_whole(sidecar(costs_path), imatrix_bytes, host);
            write_whole(costs_path, doc_bytes, host);
        }
        if (cache_path) {
            try {
                if (host.make_directories) host.make_directories(std::filesystem::path(*cache_path).parent_path().string());
                if (accumulated) write_whole(sidecar(*cache_path), imatrix_bytes, host);
                write_whole(*cache_path, doc_bytes, host);
            } catch (const Failure& f) {
                log(host, LogLevel::Warning, "could not store the measurements in the cache: " + f.error().message);
            }
        }
    }
    estimate_losses(table);

    // The budget of the target.
    const bool by_size = request.target_size.has_value() || (!request.target_bpw && !profile.default_target.bpw);
    const std::optional<uint64_t> size_target = request.target_size  ? request.target_size
                                                : request.target_bpw ? std::nullopt
                                                                     : profile.default_target.size;
    uint64_t budget = 0;
    const std::string target_text = describe_target(request, profile);
    if (by_size) {
        uint64_t size = 0;
        if (size_target) {
            size = *size_target;
        } else {
            const double f16_size = static_cast<double>(fixed.header_bytes) + 2.0 * static_cast<double>(fixed.total_params);
            size = static_cast<uint64_t>(*profile.default_target.ratio * f16_size);
        }
        const uint64_t reserved = fixed.header_bytes + fixed.kept_bytes;
        budget = size > reserved ? size - reserved : 0;
    } else {
        const double bpw = request.target_bpw ? *request.target_bpw : *profile.default_target.bpw;
        const auto total = static_cast<uint64_t>(std::floor(bpw * static_cast<double>(fixed.total_params) / 8.0));
        budget = total > fixed.kept_raw_bytes ? total - fixed.kept_raw_bytes : 0;
    }
    d.target_text = target_text;

    std::vector<plan::TensorChoices> choices;
    for (const auto& tc : table.tensors) {
        plan::TensorChoices ch;
        ch.name = tc.name;
        const double w = profile.loss_weight(tc.name);
        for (const auto& c : tc.types) ch.options.push_back({c.type, by_size ? align_up(c.bytes, fixed.alignment) : c.bytes, c.loss * w});
        choices.push_back(std::move(ch));
    }
    const uint64_t smallest = plan::min_bytes(choices);
    if (smallest > budget) {
        const uint64_t reserved = by_size ? fixed.header_bytes + fixed.kept_bytes : fixed.kept_raw_bytes;
        const double smallest_bpw =
            8.0 * static_cast<double>(smallest + (by_size ? 0 : fixed.kept_raw_bytes)) / static_cast<double>(fixed.total_params);
        fail(ExitCode::Usage,
             "the target " + target_text + " cannot be reached with profile " + profile.name + ": the smallest mix it allows is " +
                 (by_size ? std::to_string(smallest + reserved) + " bytes (" + human_bytes(static_cast<double>(smallest + reserved)) + ")"
                          : strprintf("%.3f bpw", smallest_bpw)),
             by_size ? "use --target-size " + std::to_string(smallest + reserved) + " or more, or a profile with smaller types"
                     : strprintf("use --target-bpw %.2f or more, or a profile with smaller types", std::ceil(smallest_bpw * 100) / 100));
    }
    const plan::Allocation a = plan::allocate(choices, budget);

    // Choices, reasons, the mix.
    double total_loss = 0.0;
    for (size_t i = 0; i < table.tensors.size(); ++i) total_loss += table.tensors[i].types[a.choice[i]].loss;
    std::map<GgmlType, uint64_t> bytes_by_type;
    for (size_t i = 0; i < table.tensors.size(); ++i) {
        const TensorCosts& tc = table.tensors[i];
        const TypeCost& c = tc.types[a.choice[i]];
        bytes_by_type[c.type] += c.bytes;
        std::string reason = "dynamic (" + profile.name + "): " + std::string(type_name(c.type)) +
                             strprintf(", est. KLD %.3g = %.1f%% of the total", c.loss, total_loss > 0 ? 100.0 * c.loss / total_loss : 0.0);
        // The next larger candidate and what it would buy: why the solver stopped here.
        const TypeCost* next = nullptr;
        for (const auto& o : tc.types)
            if (o.bytes > c.bytes && o.loss < c.loss && (!next || o.bytes < next->bytes)) next = &o;
        if (next) {
            reason += strprintf("; %s would cut %.3g for %s more", std::string(type_name(next->type)).c_str(), c.loss - next->loss,
                                human_bytes(static_cast<double>(next->bytes - c.bytes)).c_str());
        } else {
            reason += "; the best type allowed";
        }
        d.assigned[tc.name] = {c.type, reason};
        d.loss[tc.name] = c.loss;
    }
    d.ftype = ftype_of_mix(bytes_by_type);

    json cost = {{"source", measured_from.empty() ? "measured" : measured_from},
                 {"weight_seconds", table.weight_seconds},
                 {"kld_seconds", table.kld_seconds},
                 {"kld_probes", table.kld_probes},
                 {"kld_tokens", table.kld_tokens},
                 {"probes", probes_mode}};
    if (calibration) cost["calibration"] = calibration->source;
    if (!costs_path.empty()) cost["file"] = costs_path;
    // The range a target may take with this profile and measurement (the page's slider).
    uint64_t low_raw = 0, high_raw = 0, low_padded = 0, high_padded = 0;
    for (const auto& tc : table.tensors) {
        uint64_t lo = UINT64_MAX, hi = 0, lo_p = UINT64_MAX, hi_p = 0;
        for (const auto& c : tc.types) {
            lo = std::min(lo, c.bytes);
            hi = std::max(hi, c.bytes);
            lo_p = std::min(lo_p, align_up(c.bytes, fixed.alignment));
            hi_p = std::max(hi_p, align_up(c.bytes, fixed.alignment));
        }
        low_raw += lo;
        high_raw += hi;
        low_padded += lo_p;
        high_padded += hi_p;
    }
    const double params = static_cast<double>(fixed.total_params);
    const uint64_t reserved = fixed.header_bytes + fixed.kept_bytes;
    json reachable = {{"min_size", reserved + low_padded},
                      {"max_size", reserved + high_padded},
                      {"min_bpw", 8.0 * static_cast<double>(fixed.kept_raw_bytes + low_raw) / params},
                      {"max_bpw", 8.0 * static_cast<double>(fixed.kept_raw_bytes + high_raw) / params}};
    d.report = {{"profile", profile.name}, {"profile_source", profile.source}, {"reachable", reachable}, {"target", target_text},
                {"budget_bytes", budget},  {"estimated_kld", total_loss},      {"lambda", a.lambda},     {"measurement", cost},
                {"warnings", warnings}};
    if (computed) d.computed_imatrix = std::move(*computed);
    return d;
}

}  // namespace llmq::jobs
