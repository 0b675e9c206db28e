#include "llmq/jobs/quantize.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <regex>
#include <tuple>

#include "analysis/coherence_gate.hpp"
#include "jobs/dynamic.hpp"
#include "jobs/output_check.hpp"
#include "jobs/protection.hpp"
#include "jobs/ternary_check.hpp"
#include "llmq/analysis/coherence.hpp"
#include "llmq/error.hpp"
#include "llmq/format/gguf.hpp"
#include "llmq/format/imatrix.hpp"
#include "llmq/jobs/inspect.hpp"
#include "llmq/jobs/quality.hpp"
#include "llmq/plan/plan.hpp"
#include "llmq/quant/codec.hpp"
#include "util/printf.hpp"

namespace llmq {
namespace {

using nlohmann::json;

constexpr const char* kComputedImatrixLabel = "computed by llmq on the dynamic calibration samples";

// Rows quantized by one parallel task: at least 16384 elements, as llama-quantize does.
constexpr int64_t kMinTaskElements = 16384;

std::string upper(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return s;
}

void log(Host& host, LogLevel level, const std::string& message) {
    if (host.log) host.log(level, message);
}

// Per-tensor importance vectors of an imatrix, checked against the model.
class ImatrixForModel {
public:
    ImatrixForModel() = default;
    ImatrixForModel(ImatrixData data, std::string path, const ModelView& model) : data_(std::move(data)), path_(std::move(path)) {
        size_t matched = 0;
        for (const auto& [name, values] : data_.entries) {
            const ModelTensor* t = model.find_tensor(name);
            if (!t) continue;
            ++matched;
            const auto expected = static_cast<size_t>(t->ne[0] * t->ne[2]);
            if (values.size() != expected && name != "token_embd.weight" && name != "per_layer_token_embd.weight") {
                fail(ExitCode::Imatrix,
                     path_ + ": entry " + name + " has " + std::to_string(values.size()) + " values but the tensor needs " +
                         std::to_string(expected) + " — this importance matrix was computed for another model",
                     "compute one for this model with `llmq analyze " + model.path + " -o model.imatrix`");
            }
        }
        if (matched == 0) {
            fail(ExitCode::Imatrix,
                 path_ + ": none of its " + std::to_string(data_.entries.size()) + " entries names a tensor of " + model.path +
                     " — it was computed for another model",
                 "compute one for this model with `llmq analyze " + model.path + " -o model.imatrix`");
        }
    }

    // An importance matrix computed by the job itself (dynamic quantization without --imatrix).
    static ImatrixForModel computed(ImatrixData data, std::string label) {
        ImatrixForModel m;
        m.data_ = std::move(data);
        m.path_ = std::move(label);
        return m;
    }

    bool loaded() const { return !path_.empty(); }
    const std::string& path() const { return path_; }
    const ImatrixData& data() const { return data_; }

    // The importance vector for a tensor (all experts), or nullptr if none or unusable.
    const std::vector<float>* find(const ModelTensor& t) const {
        auto it = data_.entries.find(t.name);
        if (it == data_.entries.end()) return nullptr;
        if (it->second.size() != static_cast<size_t>(t.ne[0] * t.ne[2])) return nullptr;
        return &it->second;
    }

private:
    ImatrixData data_;
    std::string path_;
};

bool is_split_key(const std::string& key) {
    return key.rfind("split.", 0) == 0;
}

std::vector<gguf::KeyValue> output_metadata(const ModelView& model, uint32_t ftype, const ImatrixForModel& imatrix, uint32_t* alignment,
                                            const std::vector<gguf::KeyValue>& extra) {
    std::vector<gguf::KeyValue> kv;
    for (const auto& entry : model.metadata) {
        if (entry.key == "general.quantization_version" || entry.key == "general.file_type" || is_split_key(entry.key)) continue;
        if (entry.key == "general.alignment") {
            if (auto a = entry.value.as_uint()) *alignment = static_cast<uint32_t>(*a);
        }
        kv.push_back(entry);
    }
    kv.push_back({"general.quantization_version", gguf::Value::u32(2)});
    kv.push_back({"general.file_type", gguf::Value::u32(ftype)});
    if (imatrix.loaded()) {
        auto cut = [](std::string s) { return s.size() > 127 ? s.substr(0, 127) : s; };
        kv.push_back({"quantize.imatrix.file", gguf::Value::string(cut(imatrix.path()))});
        if (!imatrix.data().datasets.empty()) kv.push_back({"quantize.imatrix.dataset", gguf::Value::string(cut(imatrix.data().datasets.front()))});
        kv.push_back({"quantize.imatrix.entries_count", gguf::Value::u32(static_cast<uint32_t>(imatrix.data().entries.size()))});
        if (imatrix.data().chunk_count > 0) kv.push_back({"quantize.imatrix.chunks_count", gguf::Value::u32(imatrix.data().chunk_count)});
    }
    for (const auto& e : extra) {
        std::erase_if(kv, [&](const gguf::KeyValue& k) { return k.key == e.key; });
        kv.push_back(e);
    }
    return kv;
}

void to_f32(GgmlType type, std::span<const uint8_t> raw, std::span<float> out) {
    if (type == GgmlType::F32) {
        std::memcpy(out.data(), raw.data(), out.size_bytes());
    } else {
        dequantize(type, raw, out);
    }
}

// Streams one tensor from the model into the writer, converting in bounded row chunks.
class TensorStreamer {
public:
    TensorStreamer(Host& host, uint64_t chunk_bytes) : host_(host), chunk_bytes_(chunk_bytes) {}

    void copy(const ModelTensor& t, gguf::Writer& writer, uint64_t& done) {
        const uint64_t row_bytes = row_size(t.type, t.ne[0]);
        const int64_t rows_per_chunk = std::max<int64_t>(1, static_cast<int64_t>(chunk_bytes_ / std::max<uint64_t>(1, row_bytes)));
        for (int64_t r0 = 0; r0 < t.n_rows(); r0 += rows_per_chunk) {
            const int64_t n = std::min(rows_per_chunk, t.n_rows() - r0);
            std::vector<uint8_t>& raw = raw_[0];
            raw.resize(static_cast<size_t>(n) * row_bytes);
            t.read_rows(r0, n, raw);
            writer.write_data(raw);
            done += raw.size();
            report(done, t.name);
        }
    }

    // protect: the tensor's protected weights sorted by (row, col), or null; each super weight's
    // value after the round trip is reported to on_protected.
    void quantize(const ModelTensor& t, GgmlType target, const std::vector<float>* imatrix, gguf::Writer& writer, uint64_t& done,
                  const std::vector<ProtectedWeight>* protect = nullptr,
                  const std::function<void(const ProtectedWeight&, float before, float after)>& on_protected = {}) {
        const int64_t n_per_row = t.ne[0];
        const uint64_t src_row = row_size(t.type, n_per_row);
        const uint64_t dst_row = row_size(target, n_per_row);
        const uint64_t f32_row = static_cast<uint64_t>(n_per_row) * sizeof(float);
        const uint64_t per_row = 2 * (src_row + dst_row) + (t.type == GgmlType::F32 ? 0 : f32_row);  // two chunks in flight
        const int64_t rows_per_chunk = std::max<int64_t>(1, static_cast<int64_t>(chunk_bytes_ / per_row));
        const int64_t rows_per_expert = t.ne[1];
        const int64_t experts = t.ne[2] * t.ne[3];
        const int64_t rows_per_task = std::max<int64_t>(1, (kMinTaskElements + n_per_row - 1) / n_per_row);

        // Chunks of rows, pipelined: while the threads quantize chunk c, one task reads chunk c+1
        // and another writes chunk c-1, so reading and writing (a quarter of the time of a
        // single-threaded run) overlap the work. At least four chunks per tensor give the pipeline
        // something to overlap; the bytes written are the same as chunk after chunk.
        std::vector<Chunk>& chunks = chunks_;
        chunks.clear();
        const int64_t pipelined = std::max<int64_t>(rows_per_task, (rows_per_expert + 3) / 4);
        const int64_t rows_each = std::min(rows_per_chunk, pipelined);
        for (int64_t e = 0; e < experts; ++e) {
            for (int64_t r = 0; r < rows_per_expert; r += rows_each) chunks.push_back({e, r, std::min(rows_each, rows_per_expert - r)});
        }
        // Both buffers of a pair grow together, when a larger chunk first comes: the heap then
        // depends on the largest tensor, not on how many there are or on a chunk count's parity.
        const size_t raw_bytes = static_cast<size_t>(rows_each) * src_row, dst_bytes = static_cast<size_t>(rows_each) * dst_row;
        for (int i = 0; i < 2; ++i) {
            raw_[i].reserve(raw_bytes);
            dst_[i].reserve(dst_bytes);
        }
        auto read_chunk = [&](const Chunk& c, std::vector<uint8_t>& raw) {
            raw.resize(static_cast<size_t>(c.n) * src_row);
            t.read_rows(c.expert * rows_per_expert + c.row, c.n, raw);
        };
        if (!chunks.empty()) read_chunk(chunks.front(), raw_[0]);
        for (size_t ci = 0; ci < chunks.size(); ++ci) {
            if (host_.progress && host_.progress->cancelled()) fail(ExitCode::Interrupted, "interrupted");
            const Chunk& c = chunks[ci];
            const std::vector<uint8_t>& raw = raw_[ci % 2];
            std::vector<uint8_t>& dst = dst_[ci % 2];
            std::span<const float> weights;
            if (imatrix) {
                const int64_t slice = c.expert % t.ne[2];  // imatrix covers ne[2] experts
                weights = std::span<const float>(*imatrix).subspan(static_cast<size_t>(slice * n_per_row), static_cast<size_t>(n_per_row));
            }
            const int64_t n = c.n;
            const int64_t row0 = c.expert * rows_per_expert + c.row;
            dst.resize(static_cast<size_t>(n) * dst_row);
            f32_.resize(t.type == GgmlType::F32 ? 0 : static_cast<size_t>(n * n_per_row));
            const bool read_next = ci + 1 < chunks.size(), write_previous = ci > 0;
            const int64_t io_tasks = (read_next ? 1 : 0) + (write_previous ? 1 : 0);
            const int64_t tasks = (n + rows_per_task - 1) / rows_per_task;
            host_.parallel->run(io_tasks + tasks, [&](int64_t index) {
                if (index < io_tasks) {
                    if (read_next && index == 0) {
                        read_chunk(chunks[ci + 1], raw_[(ci + 1) % 2]);
                    } else {
                        writer.write_data(dst_[(ci + 1) % 2]);
                    }
                    return;
                }
                const int64_t task = index - io_tasks;
                const int64_t a = task * rows_per_task;
                const int64_t b = std::min(n, a + rows_per_task);
                const auto elems = static_cast<size_t>((b - a) * n_per_row);
                std::span<const float> src;
                if (t.type == GgmlType::F32) {
                    src = {reinterpret_cast<const float*>(raw.data()) + a * n_per_row, elems};
                } else {
                    std::span<float> f32(f32_.data() + a * n_per_row, elems);
                    to_f32(t.type, std::span<const uint8_t>(raw).subspan(static_cast<size_t>(a) * src_row, static_cast<size_t>(b - a) * src_row),
                           f32);
                    src = f32;
                }
                if (!protect) {
                    quantize_rows(target, src,
                                  std::span<uint8_t>(dst).subspan(static_cast<size_t>(a) * dst_row, static_cast<size_t>(b - a) * dst_row), n_per_row,
                                  weights);
                    return;
                }
                // Runs of ordinary rows together, each protected row alone with its own importance.
                std::vector<float> own(static_cast<size_t>(n_per_row));
                int64_t r = a;
                while (r < b) {
                    const int64_t global = row0 + r;
                    auto first =
                        std::lower_bound(protect->begin(), protect->end(), global, [](const ProtectedWeight& p, int64_t row) { return p.row < row; });
                    const int64_t next = first == protect->end() ? b : std::min<int64_t>(b, first->row - row0);
                    auto rows_src = [&](int64_t x, int64_t y) {
                        return src.subspan(static_cast<size_t>((x - a) * n_per_row), static_cast<size_t>((y - x) * n_per_row));
                    };
                    auto rows_dst = [&](int64_t x, int64_t y) {
                        return std::span<uint8_t>(dst).subspan(static_cast<size_t>(x) * dst_row, static_cast<size_t>(y - x) * dst_row);
                    };
                    if (next > r) {
                        quantize_rows(target, rows_src(r, next), rows_dst(r, next), n_per_row, weights);
                        r = next;
                        continue;
                    }
                    auto last = first;
                    while (last != protect->end() && last->row == global) ++last;
                    jobs::protected_importance(weights, std::span<const ProtectedWeight>(&*first, static_cast<size_t>(last - first)), own);
                    quantize_rows(target, rows_src(r, r + 1), rows_dst(r, r + 1), n_per_row, own);
                    if (on_protected) {
                        std::vector<float> back(static_cast<size_t>(n_per_row));
                        dequantize(target, rows_dst(r, r + 1), back);
                        const auto row = rows_src(r, r + 1);
                        for (auto p = first; p != last; ++p) {
                            const std::lock_guard<std::mutex> lock(report_mutex_);
                            on_protected(*p, row[static_cast<size_t>(p->col)], back[static_cast<size_t>(p->col)]);
                        }
                    }
                    ++r;
                }
            });
            if (write_previous) {
                done += dst_[(ci + 1) % 2].size();
                report(done, t.name);
            }
        }
        if (!chunks.empty()) {
            writer.write_data(dst_[(chunks.size() - 1) % 2]);
            done += dst_[(chunks.size() - 1) % 2].size();
            report(done, t.name);
        }
    }

    // Largest buffer footprint reached (for the report).
    uint64_t buffer_bytes() const {
        return raw_[0].capacity() + raw_[1].capacity() + dst_[0].capacity() + dst_[1].capacity() + f32_.capacity() * sizeof(float);
    }

private:
    void report(uint64_t done, const std::string& name) {
        if (host_.progress) host_.progress->update(done, name);
    }

    Host& host_;
    uint64_t chunk_bytes_;
    struct Chunk {
        int64_t expert, row, n;
    };
    std::vector<Chunk> chunks_;    // of the tensor being quantized (kept: no allocation per tensor)
    std::vector<uint8_t> raw_[2];  // chunk c's rows in raw_[c % 2], and its output in dst_[c % 2]
    std::vector<uint8_t> dst_[2];
    std::vector<float> f32_;
    std::mutex report_mutex_;
};

std::string layer_of(const std::string& name) {
    static const std::regex re(R"(^(blk\.\d+)\.)");
    std::smatch m;
    if (std::regex_search(name, m, re)) return m[1];
    return name;
}

json shape_json(const std::array<int64_t, 4>& ne, uint32_t n_dims) {
    json shape = json::array();
    for (uint32_t d = 0; d < std::max<uint32_t>(1, n_dims); ++d) shape.push_back(ne[d]);
    return shape;
}

}  // namespace

std::string default_output_name(const std::string& model_path, const std::string& level) {
    std::filesystem::path p(model_path);
    if (!p.has_filename()) p = p.parent_path();
    std::string stem = p.filename().string();
    if (stem.size() > 5 && stem.ends_with(".gguf")) stem.resize(stem.size() - 5);
    return stem + "-" + upper(level) + ".gguf";
}

json run_quantize(const QuantizeOptions& options, Host& host) {
    const double t0 = host.now_seconds ? host.now_seconds() : 0.0;
    const bool dynamic = upper(options.level) == "DYNAMIC";
    std::optional<plan::Profile> profile;
    if (dynamic) {
        profile = jobs::load_profile(options.profile, host);
    } else if (!options.profile.empty() || options.target_bpw || options.target_size || !options.measurements_path.empty()) {
        fail(ExitCode::Usage, "--profile, --target-bpw, --target-size and --measurements belong to dynamic quantization",
             "use -q dynamic --profile NAME (or --dynamic --profile NAME)");
    }
    if (options.target_bpw && options.target_size) {
        fail(ExitCode::Usage, "--target-bpw and --target-size both given", "give one target: a size in bytes (3.2GB, 800MiB) or bits per weight");
    }
    if (options.protect_super_weights && !(options.protection_coverage > 0.0 && options.protection_coverage <= jobs::kMaxProtectionCoverage)) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%g", options.protection_coverage);
        fail(ExitCode::Usage, std::string("--protection-coverage ") + buf + " is outside (0, 0.01]",
             "give a fraction of the weights from 0.000001 to 0.01 (default 0.0001)");
    }
    if (!options.protect_super_weights && !options.super_weights_path.empty())
        fail(ExitCode::Usage, "--super-weights needs --protect-super-weights", "add --protect-super-weights");
    ModelView model = open_model(options.model_path, host);

    const plan::Preset* preset = dynamic ? nullptr : plan::find_preset(options.level);
    if (!dynamic && !preset) {
        fail(ExitCode::Usage, "unknown quantization level '" + options.level + "'", "choose one of: " + plan::preset_names() + ", dynamic");
    }

    // A bad LLM_QUANTIZE_COHERENCE_THRESHOLD is an error before any work, whether or not the check runs.
    const double coherence_threshold_value = coherence_threshold(host);
    if (options.quality_strict && !options.quality_report)
        fail(ExitCode::Usage, "--strict applies to --quality-report", "add --quality-report, or leave out --strict");
    // Read before any work: an invalid threshold is a usage error, not a late surprise.
    const double quality_threshold_value = options.quality_report ? quality_threshold(host) : 0.0;

    ImatrixForModel imatrix;
    if (!options.imatrix_path.empty()) {
        std::unique_ptr<ByteSource> src;
        try {
            src = host.open_file(options.imatrix_path);
        } catch (const Failure&) {
            fail(ExitCode::Imatrix, options.imatrix_path + ": importance matrix not found",
                 "check the path, or compute one with `llmq analyze " + options.model_path + " -o model.imatrix`");
        }
        imatrix = ImatrixForModel(read_imatrix(*src), options.imatrix_path, model);
    }

    // The weights to protect, before the plan: dynamic quantization only offers types that keep them.
    std::optional<SuperWeightMask> mask;
    if (options.protect_super_weights) {
        mask = jobs::protection_mask(model, imatrix.loaded() ? &imatrix.data() : nullptr,
                                     {options.protection_coverage, options.super_weights_path, options.calibration_path}, host);
        for (const auto& [name, list] : mask->protect) {
            const ModelTensor* t = model.find_tensor(name);
            if (!t)
                fail(ExitCode::Usage, "the super-weight mask names " + name + ", which " + options.model_path + " does not have",
                     "use the mask of this model");
            for (const auto& p : list)
                if (p.row >= t->n_rows() || p.col >= t->ne[0])
                    fail(ExitCode::Usage,
                         "the super-weight mask's weight [" + std::to_string(p.row) + ", " + std::to_string(p.col) + "] is outside " + name,
                         "use the mask of this model");
        }
    }

    plan::PlanOptions plan_options;
    plan_options.preset = preset;
    plan_options.pure = options.pure;
    plan_options.leave_output_tensor = options.leave_output_tensor;
    plan_options.allow_requantize = options.allow_requantize;
    plan_options.output_tensor_type = options.output_tensor_type;
    plan_options.token_embedding_type = options.token_embedding_type;
    plan_options.tensor_types = options.tensor_types;
    plan_options.has_imatrix = imatrix.loaded() && !imatrix.data().entries.empty();

    uint32_t alignment = gguf::kDefaultAlignment;
    std::vector<gguf::KeyValue> extra_kv;
    std::optional<jobs::DynamicDecision> decision;
    plan::Preset dynamic_preset{"DYNAMIC", plan::ftype::Q8_0, GgmlType::Q8_0, "dynamic: measured allocation"};
    if (dynamic) {
        jobs::DynamicRequest request;
        request.profile = options.profile;
        request.target_bpw = options.target_bpw;
        request.target_size = options.target_size;
        request.measurements_path = options.measurements_path;
        request.calibration_path = options.calibration_path;
        request.samples = options.calibration_samples;
        request.probes = options.probes;
        request.use_cache = options.use_cache;
        extra_kv = {{"llmq.profile", gguf::Value::string(profile->name)},
                    {"llmq.target", gguf::Value::string(jobs::describe_target(request, *profile))}};
        // What the budget must leave room for: the header, tensors that are not quantized and
        // tensors a user type fixes. Without --imatrix the job computes one, and its metadata
        // is in the header too.
        const ImatrixForModel expected = imatrix.loaded() ? imatrix : ImatrixForModel::computed({}, kComputedImatrixLabel);
        uint32_t probe_alignment = gguf::kDefaultAlignment;
        const auto kv_probe = output_metadata(model, 0, expected, &probe_alignment, extra_kv);
        const jobs::DynamicSetup setup =
            jobs::dynamic_setup(model, kv_probe, probe_alignment,
                                {options.leave_output_tensor, options.tensor_types, options.output_tensor_type, options.token_embedding_type});
        const std::vector<size_t>& quantizable = setup.quantizable;
        const jobs::FixedCosts& fixed = setup.fixed;
        decision = jobs::decide_dynamic(model, quantizable, imatrix.loaded() ? &imatrix.data() : nullptr, imatrix.path(), request, *profile, fixed,
                                        mask ? &*mask : nullptr, host);
        if (decision->computed_imatrix) {
            imatrix = ImatrixForModel::computed(std::move(*decision->computed_imatrix), kComputedImatrixLabel);
        }
        dynamic_preset.ftype = decision->ftype;
        plan_options.preset = &dynamic_preset;
        plan_options.assigned = decision->assigned;
        plan_options.has_imatrix = imatrix.loaded() && !imatrix.data().entries.empty();
        preset = &dynamic_preset;
    }
    const plan::QuantPlan plan = plan::make_plan(model, plan_options);

    // Every tensor that needs an importance vector must have one before anything is written.
    for (const auto& tp : plan.tensors) {
        if (!tp.needs_imatrix) continue;
        const ModelTensor* t = &model.tensors[tp.source_index];
        if (imatrix.loaded() && !imatrix.find(*t)) {
            fail(ExitCode::Imatrix,
                 imatrix.path() + " has no usable entry for " + tp.name + ", which " + std::string(type_name(tp.target_type)) + " needs",
                 "compute the importance matrix on this model with `llmq analyze`, or choose a level that does not need one");
        }
    }

    const std::string level_name = dynamic ? std::string("dynamic-") + profile->name : std::string(preset->name);
    std::string output_path = options.output_path;
    if (output_path.empty()) {
        output_path = default_output_name(options.model_path, level_name);
        // "model-dynamic-balanced.gguf": the profile's name as written.
        if (dynamic) output_path = output_path.substr(0, output_path.size() - level_name.size() - 5) + level_name + ".gguf";
    }
    jobs::refuse_output_over_inputs(output_path, {options.model_path}, {options.imatrix_path, options.calibration_path, options.super_weights_path},
                                    host);

    alignment = gguf::kDefaultAlignment;
    std::vector<gguf::KeyValue> kv = output_metadata(model, plan.ftype, imatrix, &alignment, extra_kv);
    std::vector<gguf::TensorDecl> decls;
    decls.reserve(plan.tensors.size());
    uint64_t total_out = 0;
    for (const auto& tp : plan.tensors) {
        const ModelTensor* t = &model.tensors[tp.source_index];
        decls.push_back({t->name, t->n_dims, t->ne, tp.target_type});
        total_out += decls.back().nbytes();
    }
    // The exact size of the file, known before anything is written.
    uint64_t predicted_size = (gguf::encode_header(kv, decls, alignment).size() + alignment - 1) / alignment * alignment;
    for (const auto& d : decls) predicted_size += (d.nbytes() + alignment - 1) / alignment * alignment;

    std::vector<std::string> warnings = plan.warnings;
    if (auto w = jobs::ternary_warning(model, plan)) warnings.push_back(*w);
    if (decision)
        for (const auto& w : decision->report["warnings"]) warnings.push_back(w.get<std::string>());
    for (const auto& w : warnings) log(host, LogLevel::Warning, w);

    uint64_t written_size = predicted_size;
    json coherence = nullptr;
    json quality = nullptr;
    struct Kept {
        std::string tensor;
        ProtectedWeight weight;
        float before, after;
    };
    std::vector<Kept> kept;
    if (!options.dry_run) {
        auto sink = host.create_file(output_path);
        TensorStreamer streamer(host, options.chunk_bytes);
        uint64_t done = 0;
        try {
            gguf::Writer writer(*sink, kv, decls, alignment);
            written_size = writer.total_size();
            if (host.progress) host.progress->begin("quantize", total_out);
            for (const auto& tp : plan.tensors) {
                const ModelTensor& t = model.tensors[tp.source_index];
                if (!tp.quantize || tp.target_type == t.type) {
                    streamer.copy(t, writer, done);
                } else {
                    const std::vector<ProtectedWeight>* protect = nullptr;
                    if (mask) {
                        if (auto it = mask->protect.find(t.name); it != mask->protect.end()) protect = &it->second;
                    }
                    streamer.quantize(t, tp.target_type, imatrix.loaded() ? imatrix.find(t) : nullptr, writer, done, protect,
                                      [&](const ProtectedWeight& w, float before, float after) {
                                          kept.push_back({t.name, w, before, after});
                                      });
                }
            }
            writer.finish();
            sink->finish();
            if (host.progress) host.progress->end();
        } catch (...) {
            sink->abort();
            if (host.progress) host.progress->end();
            throw;
        }
        if (written_size != predicted_size) {
            fail(ExitCode::General,
                 "internal error: the written size " + std::to_string(written_size) + " differs from the planned " + std::to_string(predicted_size));
        }
        jobs::validate_output(output_path, decls, written_size, host);
        // The automatic check generates with the original and the quantized model resident; past a
        // few GB that costs more memory and time than the quantization itself, so it then asks.
        constexpr uint64_t kAutomaticCoherenceMaxBytes = 4ull << 30;
        const bool automatic = !dynamic && coherence_automatic(preset->default_type) && !options.no_coherence_check;
        if (automatic && !options.coherence_check && model.source_bytes > kAutomaticCoherenceMaxBytes) {
            const std::string message = "the automatic coherence check was skipped: " + options.model_path +
                                        " is too large to generate with quickly; run with --coherence-check to score the output anyway";
            warnings.push_back(message);
            if (host.log) host.log(LogLevel::Warning, message);
        } else if (options.coherence_check || automatic) {
            coherence = run_coherence_gate(model, output_path, level_name, options.coherence_check, coherence_threshold_value, host, warnings);
        }
        if (options.quality_report) {
            QualityOptions q;
            q.original_path = options.model_path;
            q.quantized_paths = {output_path};
            q.text_path = options.calibration_path;
            if (host.log) host.log(LogLevel::Info, "quality: measuring " + output_path + " against " + options.model_path);
            quality = run_quality_report(q, host);
            const double delta = quality["metrics"]["perplexity_delta_pct"].get<double>();
            if (delta > quality_threshold_value) {
                const std::string message =
                    strprintf("perplexity rose by %.2f%% against the original, above the threshold of %.4g%%", delta, quality_threshold_value);
                if (options.quality_strict)
                    fail(ExitCode::QualityDegraded, message + "; the file is kept: " + output_path,
                         "choose a level with more bits or a dynamic profile, or raise LLM_QUANTIZE_QUALITY_THRESHOLD");
                warnings.push_back(message);
                if (host.log) host.log(LogLevel::Warning, message);
            }
        }
    }

    // Result.
    json tensors = json::array();
    struct LayerTotals {
        uint64_t bits = 0, params = 0, bytes = 0;
        double loss = 0.0;
        std::map<std::string, uint64_t> type_params;
    };
    std::map<std::string, LayerTotals> layer_totals;
    std::vector<std::string> layer_order;
    uint64_t total_params = 0, total_bytes = 0;
    for (size_t i = 0; i < plan.tensors.size(); ++i) {
        const auto& tp = plan.tensors[i];
        const auto& d = decls[i];
        const auto params = static_cast<uint64_t>(d.ne[0] * d.ne[1] * d.ne[2] * d.ne[3]);
        const uint64_t bytes = d.nbytes();
        total_params += params;
        total_bytes += bytes;
        json entry = {{"name", d.name},
                      {"type", type_name(d.type)},
                      {"shape", shape_json(d.ne, d.n_dims)},
                      {"bytes", bytes},
                      {"bpw", 8.0 * static_cast<double>(bytes) / static_cast<double>(params)},
                      {"reason", tp.reason}};
        const std::string layer = layer_of(d.name);
        if (!layer_totals.count(layer)) layer_order.push_back(layer);
        LayerTotals& lt = layer_totals[layer];
        lt.bits += bytes * 8;
        lt.params += params;
        lt.bytes += bytes;
        lt.type_params[std::string(type_name(d.type))] += params;
        if (decision) {
            if (auto it = decision->loss.find(d.name); it != decision->loss.end()) {
                entry["estimated_kld"] = it->second;
                lt.loss += it->second;
            }
        }
        tensors.push_back(std::move(entry));
    }
    json layers = json::array();
    for (const auto& name : layer_order) {
        const LayerTotals& lt = layer_totals[name];
        // The type holding most of the layer's weights names it.
        std::string main_type;
        uint64_t most = 0;
        for (const auto& [t, p] : lt.type_params)
            if (p > most) most = p, main_type = t;
        layers.push_back({{"layer_name", name},
                          {"type", main_type},
                          {"bit_width", static_cast<double>(lt.bits) / static_cast<double>(lt.params)},
                          {"parameter_count", lt.params},
                          {"share_of_size", static_cast<double>(lt.bytes) / static_cast<double>(std::max<uint64_t>(1, total_bytes))},
                          {"estimated_error", decision ? json(lt.loss) : json(nullptr)},
                          {"is_protected", false}});
    }
    json protection = nullptr;
    if (mask) {
        std::sort(kept.begin(), kept.end(), [](const Kept& a, const Kept& b) {
            return std::tie(a.tensor, a.weight.row, a.weight.col) < std::tie(b.tensor, b.weight.row, b.weight.col);
        });
        json supers = json::array();
        double worst_coverage = 0.0;
        size_t count = 0;
        for (const auto& [name, list] : mask->protect) count += list.size();
        for (const Kept& k : kept) {
            const double rel = k.before != 0.0f ? std::fabs(static_cast<double>(k.after) - k.before) / std::fabs(static_cast<double>(k.before)) : 0.0;
            if (k.weight.super_weight) {
                supers.push_back({{"tensor", k.tensor},
                                  {"row", k.weight.row},
                                  {"col", k.weight.col},
                                  {"value", k.before},
                                  {"after", k.after},
                                  {"relative_error", rel}});
            } else {
                worst_coverage = std::max(worst_coverage, rel);
            }
        }
        protection = {{"identified", mask->identified},
                      {"coverage", mask->coverage},
                      {"source", options.super_weights_path.empty() ? json("detected") : json(options.super_weights_path)},
                      {"protected_weights", count},
                      {"super_weights", supers},
                      {"coverage_worst_relative_error", worst_coverage}};
        for (auto& l : layers) {
            const std::string prefix = l["layer_name"].get<std::string>();
            for (const auto& [name, list] : mask->protect)
                if (layer_of(name) == prefix && !list.empty()) l["is_protected"] = true;
        }
    }
    const double t1 = host.now_seconds ? host.now_seconds() : 0.0;
    json result = {{"status", "success"},
                   {"output_path", output_path},
                   {"format", "gguf"},
                   {"level", dynamic ? std::string("dynamic") : std::string(preset->name)},
                   {"profile", dynamic ? json(profile->name) : json(nullptr)},
                   {"target", decision ? json(decision->target_text) : json(nullptr)},
                   {"dry_run", options.dry_run},
                   {"input_size", model.source_bytes},
                   {"file_size", written_size},
                   {"predicted_size", predicted_size},
                   {"effective_bpw", 8.0 * static_cast<double>(total_bytes) / static_cast<double>(std::max<uint64_t>(1, total_params))},
                   {"compression_ratio", static_cast<double>(model.source_bytes) / static_cast<double>(std::max<uint64_t>(1, written_size))},
                   {"duration_seconds", t1 - t0},
                   {"peak_memory_bytes", host.peak_memory_bytes ? host.peak_memory_bytes() : 0},
                   {"fallback_tensors", plan.n_fallback},
                   {"imatrix", imatrix.loaded() ? json(imatrix.path()) : json(nullptr)},
                   {"tensors", tensors},
                   {"layer_summary", layers},
                   {"dynamic", decision ? decision->report : json(nullptr)},
                   {"protection", protection},
                   {"quality_report", quality},
                   {"coherence", coherence},
                   {"warnings", warnings}};
    return result;
}

}  // namespace llmq
