#include "llmq/jobs/quantize.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>

#include "analysis/coherence_gate.hpp"
#include "jobs/output_check.hpp"
#include "jobs/ternary_check.hpp"
#include "llmq/analysis/coherence.hpp"
#include "llmq/error.hpp"
#include "llmq/format/gguf.hpp"
#include "llmq/format/imatrix.hpp"
#include "llmq/jobs/inspect.hpp"
#include "llmq/plan/plan.hpp"
#include "llmq/quant/codec.hpp"

namespace llmq {
namespace {

using nlohmann::json;

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

std::vector<gguf::KeyValue> output_metadata(const ModelView& model, uint32_t ftype, const ImatrixForModel& imatrix, uint32_t* alignment) {
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
            raw_.resize(static_cast<size_t>(n) * row_bytes);
            t.read_rows(r0, n, raw_);
            writer.write_data(raw_);
            done += raw_.size();
            report(done, t.name);
        }
    }

    void quantize(const ModelTensor& t, GgmlType target, const std::vector<float>* imatrix, gguf::Writer& writer, uint64_t& done) {
        const int64_t n_per_row = t.ne[0];
        const uint64_t src_row = row_size(t.type, n_per_row);
        const uint64_t dst_row = row_size(target, n_per_row);
        const uint64_t f32_row = static_cast<uint64_t>(n_per_row) * sizeof(float);
        const uint64_t per_row = src_row + dst_row + (t.type == GgmlType::F32 ? 0 : f32_row);
        const int64_t rows_per_chunk = std::max<int64_t>(1, static_cast<int64_t>(chunk_bytes_ / per_row));
        const int64_t rows_per_expert = t.ne[1];
        const int64_t experts = t.ne[2] * t.ne[3];
        const int64_t rows_per_task = std::max<int64_t>(1, (kMinTaskElements + n_per_row - 1) / n_per_row);

        for (int64_t e = 0; e < experts; ++e) {
            std::span<const float> weights;
            if (imatrix) {
                const int64_t slice = e % t.ne[2];  // imatrix covers ne[2] experts
                weights = std::span<const float>(*imatrix).subspan(static_cast<size_t>(slice * n_per_row), static_cast<size_t>(n_per_row));
            }
            for (int64_t r = 0; r < rows_per_expert; r += rows_per_chunk) {
                if (host_.progress && host_.progress->cancelled()) fail(ExitCode::Interrupted, "interrupted");
                const int64_t n = std::min(rows_per_chunk, rows_per_expert - r);
                const int64_t row0 = e * rows_per_expert + r;
                raw_.resize(static_cast<size_t>(n) * src_row);
                dst_.resize(static_cast<size_t>(n) * dst_row);
                f32_.resize(t.type == GgmlType::F32 ? 0 : static_cast<size_t>(n * n_per_row));
                t.read_rows(row0, n, raw_);
                const int64_t tasks = (n + rows_per_task - 1) / rows_per_task;
                host_.parallel->run(tasks, [&](int64_t task) {
                    const int64_t a = task * rows_per_task;
                    const int64_t b = std::min(n, a + rows_per_task);
                    const auto elems = static_cast<size_t>((b - a) * n_per_row);
                    std::span<const float> src;
                    if (t.type == GgmlType::F32) {
                        src = {reinterpret_cast<const float*>(raw_.data()) + a * n_per_row, elems};
                    } else {
                        std::span<float> f32(f32_.data() + a * n_per_row, elems);
                        to_f32(t.type, std::span<const uint8_t>(raw_).subspan(static_cast<size_t>(a) * src_row, static_cast<size_t>(b - a) * src_row),
                               f32);
                        src = f32;
                    }
                    quantize_rows(target, src,
                                  std::span<uint8_t>(dst_).subspan(static_cast<size_t>(a) * dst_row, static_cast<size_t>(b - a) * dst_row), n_per_row,
                                  weights);
                });
                writer.write_data(dst_);
                done += dst_.size();
                report(done, t.name);
            }
        }
    }

    // Largest buffer footprint reached (for the report).
    uint64_t buffer_bytes() const { return raw_.capacity() + dst_.capacity() + f32_.capacity() * sizeof(float); }

private:
    void report(uint64_t done, const std::string& name) {
        if (host_.progress) host_.progress->update(done, name);
    }

    Host& host_;
    uint64_t chunk_bytes_;
    std::vector<uint8_t> raw_;
    std::vector<uint8_t> dst_;
    std::vector<float> f32_;
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
    ModelView model = open_model(options.model_path, host);

    const plan::Preset* preset = plan::find_preset(options.level);
    if (!preset) {
        fail(ExitCode::Usage, "unknown quantization level '" + options.level + "'", "choose one of: " + plan::preset_names());
    }

    // A bad LLM_QUANTIZE_COHERENCE_THRESHOLD is an error before any work, whether or not the check runs.
    const double coherence_threshold_value = coherence_threshold(host);

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

    plan::PlanOptions plan_options;
    plan_options.preset = preset;
    plan_options.pure = options.pure;
    plan_options.leave_output_tensor = options.leave_output_tensor;
    plan_options.allow_requantize = options.allow_requantize;
    plan_options.output_tensor_type = options.output_tensor_type;
    plan_options.token_embedding_type = options.token_embedding_type;
    plan_options.tensor_types = options.tensor_types;
    plan_options.has_imatrix = imatrix.loaded() && !imatrix.data().entries.empty();
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

    const std::string output_path =
        options.output_path.empty() ? default_output_name(options.model_path, std::string(preset->name)) : options.output_path;
    // Lexical comparison: the hosts (native, wasm) must agree, and wasm has no real file system.
    if (std::filesystem::path(output_path).lexically_normal() == std::filesystem::path(options.model_path).lexically_normal()) {
        fail(ExitCode::Usage, "the output " + output_path + " is the input model", "choose another path with -o");
    }

    uint32_t alignment = gguf::kDefaultAlignment;
    std::vector<gguf::KeyValue> kv = output_metadata(model, plan.ftype, imatrix, &alignment);
    std::vector<gguf::TensorDecl> decls;
    decls.reserve(plan.tensors.size());
    uint64_t total_out = 0;
    for (const auto& tp : plan.tensors) {
        const ModelTensor* t = &model.tensors[tp.source_index];
        decls.push_back({t->name, t->n_dims, t->ne, tp.target_type});
        total_out += decls.back().nbytes();
    }

    std::vector<std::string> warnings = plan.warnings;
    if (auto w = jobs::ternary_warning(model, plan)) warnings.push_back(*w);
    for (const auto& w : warnings) log(host, LogLevel::Warning, w);

    auto sink = host.create_file(output_path);
    TensorStreamer streamer(host, options.chunk_bytes);
    uint64_t done = 0;
    uint64_t written_size = 0;
    try {
        gguf::Writer writer(*sink, kv, decls, alignment);
        written_size = writer.total_size();
        if (host.progress) host.progress->begin("quantize", total_out);
        for (const auto& tp : plan.tensors) {
            const ModelTensor& t = model.tensors[tp.source_index];
            if (!tp.quantize || tp.target_type == t.type) {
                streamer.copy(t, writer, done);
            } else {
                streamer.quantize(t, tp.target_type, imatrix.loaded() ? imatrix.find(t) : nullptr, writer, done);
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
    jobs::validate_output(output_path, decls, written_size, host);
    json coherence = nullptr;
    // The automatic check generates with the original and the quantized model resident; past a
    // few GB that costs more memory and time than the quantization itself, so it then asks.
    constexpr uint64_t kAutomaticCoherenceMaxBytes = 4ull << 30;
    const bool automatic = coherence_automatic(preset->default_type) && !options.no_coherence_check;
    if (automatic && !options.coherence_check && model.source_bytes > kAutomaticCoherenceMaxBytes) {
        const std::string message = "the automatic coherence check was skipped: " + options.model_path +
                                    " is too large to generate with quickly; run with --coherence-check to score the output anyway";
        warnings.push_back(message);
        if (host.log) host.log(LogLevel::Warning, message);
    } else if (options.coherence_check || automatic) {
        coherence =
            run_coherence_gate(model, output_path, std::string(preset->name), options.coherence_check, coherence_threshold_value, host, warnings);
    }

    // Result.
    json tensors = json::array();
    std::map<std::string, std::pair<uint64_t, uint64_t>> layer_bits;  // layer -> (bits, params)
    std::vector<std::string> layer_order;
    uint64_t total_params = 0, total_bytes = 0;
    for (size_t i = 0; i < plan.tensors.size(); ++i) {
        const auto& tp = plan.tensors[i];
        const auto& d = decls[i];
        const auto params = static_cast<uint64_t>(d.ne[0] * d.ne[1] * d.ne[2] * d.ne[3]);
        const uint64_t bytes = d.nbytes();
        total_params += params;
        total_bytes += bytes;
        tensors.push_back({{"name", d.name},
                           {"type", type_name(d.type)},
                           {"shape", shape_json(d.ne, d.n_dims)},
                           {"bytes", bytes},
                           {"bpw", 8.0 * static_cast<double>(bytes) / static_cast<double>(params)},
                           {"reason", tp.reason}});
        const std::string layer = layer_of(d.name);
        if (!layer_bits.count(layer)) layer_order.push_back(layer);
        layer_bits[layer].first += bytes * 8;
        layer_bits[layer].second += params;
    }
    json layers = json::array();
    for (const auto& name : layer_order) {
        const auto [bits, params] = layer_bits[name];
        layers.push_back({{"layer_name", name},
                          {"bit_width", static_cast<double>(bits) / static_cast<double>(params)},
                          {"parameter_count", params},
                          {"is_protected", false}});
    }
    const double t1 = host.now_seconds ? host.now_seconds() : 0.0;
    json result = {{"status", "success"},
                   {"output_path", output_path},
                   {"format", "gguf"},
                   {"level", std::string(preset->name)},
                   {"profile", nullptr},
                   {"input_size", model.source_bytes},
                   {"file_size", written_size},
                   {"effective_bpw", 8.0 * static_cast<double>(total_bytes) / static_cast<double>(std::max<uint64_t>(1, total_params))},
                   {"compression_ratio", static_cast<double>(model.source_bytes) / static_cast<double>(std::max<uint64_t>(1, written_size))},
                   {"duration_seconds", t1 - t0},
                   {"peak_memory_bytes", host.peak_memory_bytes ? host.peak_memory_bytes() : 0},
                   {"fallback_tensors", plan.n_fallback},
                   {"imatrix", imatrix.loaded() ? json(imatrix.path()) : json(nullptr)},
                   {"tensors", tensors},
                   {"layer_summary", layers},
                   {"quality_report", nullptr},
                   {"coherence", coherence},
                   {"warnings", warnings}};
    return result;
}

}  // namespace llmq
