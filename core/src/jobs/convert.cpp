#include "llmq/jobs/convert.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "jobs/output_check.hpp"
#include "llmq/error.hpp"
#include "llmq/format/gguf.hpp"
#include "llmq/format/model.hpp"
#include "llmq/jobs/quantize.hpp"
#include "llmq/quant/codec.hpp"

namespace llmq {
namespace {

using nlohmann::json;

bool is_float(GgmlType t) {
    return t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16;
}

uint32_t file_type_of(GgmlType t) {
    switch (t) {
        case GgmlType::F32:
            return 0;
        case GgmlType::F16:
            return 1;
        default:
            return 32;
    }
}

// A float GGUF re-typed like a conversion: 2-D and larger tensors to the requested type, 1-D
// ones to F32. Quantized inputs are quantize's business, not convert's.
std::vector<GgmlType> gguf_targets(ModelView& model, HfOuttype outtype) {
    std::vector<GgmlType> targets;
    std::optional<GgmlType> weight_type;
    for (const auto& t : model.tensors) {
        if (!is_float(t.type)) {
            fail(ExitCode::Unsupported,
                 model.path + ": tensor " + t.name + " is " + std::string(type_name(t.type)) + "; convert changes F32/F16/BF16 tensors only",
                 "use `llmq quantize` for quantized models (with --allow-requantize to decode them)");
        }
        const GgmlType target = t.n_dims <= 1 ? GgmlType::F32 : outtype_type(outtype, t.type);
        if (t.n_dims >= 2 && !weight_type) weight_type = target;
        targets.push_back(target);
    }
    for (auto& kv : model.metadata) {
        if (kv.key == "general.file_type") kv.value = gguf::Value::u32(file_type_of(weight_type.value_or(GgmlType::F32)));
    }
    return targets;
}

// Streams one tensor into the writer in chunks of whole rows, changing the type if needed.
void stream_tensor(const ModelTensor& t, GgmlType target, uint64_t chunk_bytes, gguf::Writer& writer, Host& host, uint64_t& done) {
    const uint64_t in_row = row_size(t.type, t.ne[0]);
    const uint64_t out_row = row_size(target, t.ne[0]);
    const uint64_t f32_row = static_cast<uint64_t>(t.ne[0]) * sizeof(float);
    const uint64_t per_row = in_row + (t.type == target ? 0 : out_row + f32_row);
    const int64_t rows_per_chunk = std::max<int64_t>(1, static_cast<int64_t>(chunk_bytes / std::max<uint64_t>(1, per_row)));
    std::vector<uint8_t> raw, out;
    std::vector<float> f32;
    for (int64_t r0 = 0; r0 < t.n_rows(); r0 += rows_per_chunk) {
        if (host.progress && host.progress->cancelled()) fail(ExitCode::Interrupted, "interrupted");
        const int64_t n = std::min(rows_per_chunk, t.n_rows() - r0);
        raw.resize(static_cast<size_t>(n) * in_row);
        t.read_rows(r0, n, raw);
        if (t.type == target) {
            writer.write_data(t.name, raw);
        } else {
            const auto elems = static_cast<size_t>(n * t.ne[0]);
            f32.resize(elems);
            if (t.type == GgmlType::F32) {
                std::memcpy(f32.data(), raw.data(), elems * sizeof(float));
            } else {
                dequantize(t.type, raw, f32);
            }
            out.resize(static_cast<size_t>(n) * out_row);
            quantize_rows(target, f32, out, t.ne[0]);
            writer.write_data(t.name, out);
        }
        done += static_cast<uint64_t>(n) * out_row;
        if (host.progress) host.progress->update(done, t.name);
    }
}

json shape_json(const std::array<int64_t, 4>& ne, uint32_t n_dims) {
    json shape = json::array();
    for (uint32_t d = 0; d < std::max<uint32_t>(1, n_dims); ++d) shape.push_back(ne[d]);
    return shape;
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

}  // namespace

json run_convert(const ConvertOptions& options, Host& host) {
    const double t0 = host.now_seconds ? host.now_seconds() : 0.0;
    std::vector<std::string> warnings;
    std::shared_ptr<const FileSet> files = host.open_files(options.model_path);
    ModelView model;
    std::vector<GgmlType> targets;
    if (files->is_directory()) {
        model = open_hf_model(files, HfOptions{options.outtype, options.vocab}, &warnings);
        for (const auto& t : model.tensors) targets.push_back(t.type);  // the view delivers the output types
    } else {
        if (!options.vocab) {
            fail(ExitCode::Usage, "--no-vocab applies to HuggingFace directories", "a GGUF input keeps its vocabulary");
        }
        model = open_gguf_model(std::shared_ptr<const ByteSource>(files->open(files->list().front())));
        targets = gguf_targets(model, options.outtype);
    }
    for (const auto& w : warnings)
        if (host.log) host.log(LogLevel::Warning, w);

    std::optional<GgmlType> weight_type;
    std::vector<gguf::TensorDecl> decls;
    decls.reserve(model.tensors.size());
    uint64_t total_out = 0;
    for (size_t i = 0; i < model.tensors.size(); ++i) {
        const auto& t = model.tensors[i];
        decls.push_back({t.name, t.n_dims, t.ne, targets[i]});
        total_out += decls.back().nbytes();
        if (t.n_dims >= 2 && !weight_type) weight_type = targets[i];
    }
    const std::string outtype = lower(type_name(weight_type.value_or(GgmlType::F32)));

    const std::string output_path = options.output_path.empty() ? default_output_name(options.model_path, outtype) : options.output_path;
    {
        std::error_code ec;
        jobs::refuse_output_over_inputs(output_path, {options.model_path}, {}, host);
        if (std::filesystem::is_directory(output_path, ec)) {
            fail(ExitCode::Usage, "the output " + output_path + " is a directory", "give a file name with -o, e.g. -o model.gguf");
        }
    }

    uint32_t alignment = gguf::kDefaultAlignment;
    if (const auto* a = model.find("general.alignment")) {
        if (auto v = a->as_uint()) alignment = static_cast<uint32_t>(*v);
    }
    auto sink = host.create_file(output_path);
    uint64_t written_size = 0;
    try {
        gguf::Writer writer(*sink, model.metadata, decls, alignment);
        written_size = writer.total_size();
        if (host.progress) host.progress->begin("convert", total_out);
        uint64_t done = 0;
        for (size_t i = 0; i < model.tensors.size(); ++i) stream_tensor(model.tensors[i], targets[i], options.chunk_bytes, writer, host, done);
        writer.finish();
        sink->finish();
        if (host.progress) host.progress->end();
    } catch (...) {
        sink->abort();
        if (host.progress) host.progress->end();
        throw;
    }
    jobs::validate_output(output_path, decls, written_size, host);

    json tensors = json::array();
    uint64_t params = 0;
    for (const auto& d : decls) {
        params += static_cast<uint64_t>(d.ne[0] * d.ne[1] * d.ne[2] * d.ne[3]);
        tensors.push_back({{"name", d.name}, {"type", type_name(d.type)}, {"shape", shape_json(d.ne, d.n_dims)}, {"bytes", d.nbytes()}});
    }
    const double t1 = host.now_seconds ? host.now_seconds() : 0.0;
    return {{"status", "success"},
            {"output_path", output_path},
            {"format", "gguf"},
            {"source_format", model.format},
            {"architecture", model.architecture()},
            {"outtype", outtype},
            {"input_size", model.source_bytes},
            {"file_size", written_size},
            {"parameter_count", params},
            {"duration_seconds", t1 - t0},
            {"peak_memory_bytes", host.peak_memory_bytes ? host.peak_memory_bytes() : 0},
            {"tensors", tensors},
            {"warnings", warnings}};
}

}  // namespace llmq
