#include "llmq/jobs/inspect.hpp"

#include <map>

#include "llmq/error.hpp"
#include "llmq/format/huggingface.hpp"

namespace llmq {
namespace {

using nlohmann::json;

// Metadata value as JSON; long arrays are summarised so a 150k-token vocabulary stays readable.
json value_json(const gguf::Value& v, size_t max_items) {
    using gguf::ValueType;
    switch (v.type()) {
        case ValueType::STRING:
            return *v.as_string();
        case ValueType::BOOL:
            return *v.as_bool();
        case ValueType::FLOAT32:
        case ValueType::FLOAT64:
            return *v.as_float();
        case ValueType::ARRAY: {
            json items = json::array();
            const uint64_t n = std::min<uint64_t>(v.array_size(), max_items);
            for (uint64_t i = 0; i < n; ++i) {
                if (v.array_type() == ValueType::STRING) {
                    items.push_back(v.strings()[i]);
                } else if (v.array_type() == ValueType::FLOAT32 || v.array_type() == ValueType::FLOAT64) {
                    items.push_back(*v.float_at(i));
                } else if (v.array_type() == ValueType::BOOL) {
                    items.push_back(*v.int_at(i) != 0);
                } else {
                    items.push_back(*v.int_at(i));
                }
            }
            if (v.array_size() <= max_items) return items;
            return json{{"type", gguf::value_type_name(v.array_type())}, {"count", v.array_size()}, {"first", items}};
        }
        default:
            if (auto u = v.as_uint()) return *u;
            return *v.as_int();
    }
}

}  // namespace

ModelView open_model(const std::string& path, Host& host) {
    std::shared_ptr<const FileSet> files = host.open_files(path);
    if (files->is_directory()) {
        // A directory: HuggingFace input, converted on the fly (warnings go to the log).
        std::vector<std::string> warnings;
        ModelView view = open_hf_model(files, HfOptions{}, &warnings);
        for (const auto& w : warnings)
            if (host.log) host.log(LogLevel::Warning, w);
        return view;
    }
    std::shared_ptr<const ByteSource> source = files->open(files->list().front());
    return open_gguf_model(source);
}

json run_inspect(const std::string& model_path, Host& host) {
    const ModelView model = open_model(model_path, host);
    json metadata = json::object();
    for (const auto& kv : model.metadata) metadata[kv.key] = value_json(kv.value, 16);
    json tensors = json::array();
    uint64_t params = 0, bytes = 0;
    std::map<std::string, uint64_t> type_counts;
    for (const auto& t : model.tensors) {
        json shape = json::array();
        for (uint32_t d = 0; d < std::max<uint32_t>(1, t.n_dims); ++d) shape.push_back(t.ne[d]);
        const uint64_t n = static_cast<uint64_t>(t.n_elements());
        params += n;
        bytes += t.nbytes();
        ++type_counts[std::string(type_name(t.type))];
        tensors.push_back({{"name", t.name},
                           {"type", type_name(t.type)},
                           {"shape", shape},
                           {"parameters", n},
                           {"bytes", t.nbytes()},
                           {"bpw", 8.0 * static_cast<double>(t.nbytes()) / static_cast<double>(std::max<uint64_t>(1, n))}});
    }
    return {{"status", "success"},
            {"model_path", model_path},
            {"format", model.format},
            {"architecture", model.architecture()},
            {"file_size", model.source_bytes},
            {"parameter_count", params},
            {"tensor_bytes", bytes},
            {"effective_bpw", 8.0 * static_cast<double>(bytes) / static_cast<double>(std::max<uint64_t>(1, params))},
            {"type_counts", type_counts},
            {"metadata", metadata},
            {"tensors", tensors}};
}

}  // namespace llmq
