// safetensors: an 8-byte little-endian header length, a JSON header, then the raw tensor bytes.
// The header is untrusted: every claim (length, offsets, shapes) is checked against the file
// before anything is allocated or read from it.
#include "llmq/format/safetensors.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "llmq/error.hpp"

namespace llmq::safetensors {
namespace {

using nlohmann::json;

constexpr uint64_t kMaxIndexBytes = 64ull << 20;

struct DTypeInfo {
    DType dtype;
    std::string_view name;
    uint64_t size;
};

constexpr std::array<DTypeInfo, 15> kDTypes = {{
    {DType::BOOL, "BOOL", 1},
    {DType::U8, "U8", 1},
    {DType::I8, "I8", 1},
    {DType::F8_E4M3, "F8_E4M3", 1},
    {DType::F8_E5M2, "F8_E5M2", 1},
    {DType::I16, "I16", 2},
    {DType::U16, "U16", 2},
    {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2},
    {DType::I32, "I32", 4},
    {DType::U32, "U32", 4},
    {DType::F32, "F32", 4},
    {DType::I64, "I64", 8},
    {DType::U64, "U64", 8},
    {DType::F64, "F64", 8},
}};

const DTypeInfo* find_dtype(std::string_view name) {
    for (const auto& d : kDTypes)
        if (d.name == name) return &d;
    return nullptr;
}

std::string in_quotes(std::string_view s) {
    std::string out(1, '\'');
    out.append(s);
    out.push_back('\'');
    return out;
}

class HeaderChecker {
public:
    explicit HeaderChecker(std::string who) : who_(std::move(who)) {}

    [[noreturn]] void corrupt(const std::string& problem) const {
        fail(ExitCode::CorruptInput, who_ + ": invalid safetensors header: " + problem,
             "the file is damaged or was not written by a safetensors library; download it again");
    }

    uint64_t unsigned_value(const json& v, const std::string& what) const {
        if (!v.is_number_unsigned()) corrupt(what + " is not a non-negative integer");
        return v.get<uint64_t>();
    }

    TensorEntry tensor(const std::string& name, const json& v, uint64_t data_size) const {
        const std::string who = "tensor " + in_quotes(name);
        if (!v.is_object()) corrupt(who + " is not described by a JSON object");
        const auto dtype = v.find("dtype");
        const auto shape = v.find("shape");
        const auto offsets = v.find("data_offsets");
        if (dtype == v.end() || !dtype->is_string()) corrupt(who + " has no dtype string");
        if (shape == v.end() || !shape->is_array()) corrupt(who + " has no shape array");
        if (offsets == v.end() || !offsets->is_array() || offsets->size() != 2) {
            corrupt(who + " has no data_offsets pair [begin, end]");
        }
        const DTypeInfo* info = find_dtype(dtype->get_ref<const std::string&>());
        if (!info) {
            fail(ExitCode::Unsupported,
                 who_ + ": " + who + " has dtype " + in_quotes(dtype->get_ref<const std::string&>()) + ", which llmq cannot read",
                 "llmq converts F32, F16 and BF16 weights; re-save the model in one of them");
        }
        TensorEntry t;
        t.name = name;
        t.dtype = info->dtype;
        uint64_t elements = 1;
        for (const auto& d : *shape) {
            const uint64_t n = unsigned_value(d, who + ": a dimension");
            if (n > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(elements, n, &elements)) {
                corrupt(who + " has a shape whose element count overflows");
            }
            t.shape.push_back(static_cast<int64_t>(n));
        }
        t.begin = unsigned_value((*offsets)[0], who + ": data_offsets begin");
        t.end = unsigned_value((*offsets)[1], who + ": data_offsets end");
        if (t.begin > t.end) corrupt(who + " has data_offsets begin " + std::to_string(t.begin) + " after end " + std::to_string(t.end));
        uint64_t bytes = 0;
        const bool overflow = __builtin_mul_overflow(elements, info->size, &bytes);
        if (overflow || bytes != t.end - t.begin) {
            corrupt(who + " claims " + std::to_string(t.end - t.begin) + " bytes but its shape and dtype " + std::string(info->name) + " make " +
                    (overflow ? std::string("more than 2^64") : std::to_string(bytes)));
        }
        if (t.end > data_size) {
            fail(ExitCode::CorruptInput,
                 who_ + ": truncated safetensors file: " + who + " ends at data offset " + std::to_string(t.end) +
                     " but the data section holds only " + std::to_string(data_size) + " bytes",
                 "the file is incomplete; download it again");
        }
        return t;
    }

private:
    std::string who_;
};

}  // namespace

std::string_view dtype_name(DType dtype) {
    for (const auto& d : kDTypes)
        if (d.dtype == dtype) return d.name;
    return "?";
}

uint64_t dtype_size(DType dtype) {
    for (const auto& d : kDTypes)
        if (d.dtype == dtype) return d.size;
    return 0;
}

std::optional<GgmlType> float_type(DType dtype) {
    switch (dtype) {
        case DType::F32:
            return GgmlType::F32;
        case DType::F16:
            return GgmlType::F16;
        case DType::BF16:
            return GgmlType::BF16;
        default:
            return std::nullopt;
    }
}

int64_t TensorEntry::n_elements() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;  // bounded when the header was read
    return n;
}

const TensorEntry* FileHeader::find(std::string_view name) const {
    const auto it = std::lower_bound(tensors.begin(), tensors.end(), name, [](const TensorEntry& t, std::string_view n) { return t.name < n; });
    return it != tensors.end() && it->name == name ? &*it : nullptr;
}

FileHeader read_header(const ByteSource& source, std::string file_name) {
    const std::string who = source.name();
    HeaderChecker check(who);
    FileHeader h;
    h.file = std::move(file_name);
    h.file_size = source.size();
    if (h.file_size < 8) {
        fail(ExitCode::CorruptInput, who + ": truncated safetensors file: " + std::to_string(h.file_size) + " bytes, too short for the header length",
             "the file is incomplete; download it again");
    }
    std::array<uint8_t, 8> prefix{};
    source.read(0, prefix);
    uint64_t length = 0;
    std::memcpy(&length, prefix.data(), 8);
    if (length > kMaxHeaderBytes) {
        check.corrupt("the header length prefix says " + std::to_string(length) + " bytes, more than the limit of " +
                      std::to_string(kMaxHeaderBytes));
    }
    if (length > h.file_size - 8) {
        fail(ExitCode::CorruptInput,
             who + ": truncated safetensors file: the header needs " + std::to_string(length) + " bytes but only " + std::to_string(h.file_size - 8) +
                 " follow the length prefix",
             "the file is incomplete; download it again");
    }
    h.data_offset = 8 + length;
    const uint64_t data_size = h.file_size - h.data_offset;

    std::vector<uint8_t> text(static_cast<size_t>(length));
    source.read(8, text);
    std::set<std::string> keys;
    std::string duplicate;
    const json::parser_callback_t on_event = [&](int depth, json::parse_event_t event, json& parsed) {
        if (depth == 1 && event == json::parse_event_t::key && !keys.insert(parsed.get<std::string>()).second) {
            duplicate = parsed.get<std::string>();
        }
        return true;
    };
    json header;
    try {
        header = json::parse(text.begin(), text.end(), on_event);
    } catch (const json::exception& e) {
        check.corrupt(std::string("not valid JSON (") + e.what() + ")");
    }
    if (!header.is_object()) check.corrupt("the header is not a JSON object");
    if (!duplicate.empty()) check.corrupt("tensor " + in_quotes(duplicate) + " is described twice");

    for (const auto& [key, value] : header.items()) {
        if (key == "__metadata__") {
            if (!value.is_object()) check.corrupt("__metadata__ is not an object");
            for (const auto& [mk, mv] : value.items()) {
                if (!mv.is_string()) check.corrupt("__metadata__ value " + in_quotes(mk) + " is not a string");
                h.metadata.emplace_back(mk, mv.get<std::string>());
            }
            continue;
        }
        h.tensors.push_back(check.tensor(key, value, data_size));
    }
    // nlohmann objects iterate in key order, so tensors are sorted by name already.

    std::vector<const TensorEntry*> by_offset;
    by_offset.reserve(h.tensors.size());
    for (const auto& t : h.tensors)
        if (t.end > t.begin) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(), [](const TensorEntry* a, const TensorEntry* b) { return a->begin < b->begin; });
    for (size_t i = 1; i < by_offset.size(); ++i) {
        if (by_offset[i]->begin < by_offset[i - 1]->end) {
            check.corrupt("tensors " + in_quotes(by_offset[i - 1]->name) + " and " + in_quotes(by_offset[i]->name) + " overlap (bytes " +
                          std::to_string(by_offset[i]->begin) + ".." + std::to_string(by_offset[i - 1]->end) + ")");
        }
    }
    return h;
}

bool is_plain_file_name(std::string_view name) {
    return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos && name.find('\\') == std::string_view::npos &&
           name.find('\0') == std::string_view::npos;
}

const TensorRef* Checkpoint::find(std::string_view name) const {
    for (const auto& ref : tensors)
        if (entry(ref).name == name) return &ref;
    return nullptr;
}

namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The shard files of a directory without an index.
std::vector<std::string> unindexed_shards(const FileSet& files) {
    if (files.exists(kSingleName)) return {kSingleName};
    std::vector<std::string> model_files, any_files;
    bool has_pytorch = false;
    for (const auto& name : files.list()) {
        if (ends_with(name, ".safetensors")) {
            any_files.push_back(name);
            if (name.rfind("model", 0) == 0) model_files.push_back(name);
        } else if (ends_with(name, ".bin") || ends_with(name, ".pt") || ends_with(name, ".pth")) {
            has_pytorch = true;
        }
    }
    if (!model_files.empty()) return model_files;
    if (!any_files.empty()) return any_files;
    if (has_pytorch) {
        fail(ExitCode::Unsupported, files.name() + ": holds PyTorch pickle weights (.bin/.pt) and no safetensors",
             "llmq reads safetensors only; re-save the model with save_pretrained(..., safe_serialization=True)");
    }
    fail(ExitCode::ModelNotFound,
         files.name() + ": no " + std::string(kSingleName) + ", " + std::string(kIndexName) + " or other .safetensors weights in this directory",
         "download the model's .safetensors files into it");
}

// Shard names of an index, with the index's own view of which tensor lives where.
std::vector<std::string> indexed_shards(const FileSet& files, std::map<std::string, std::string>& weight_map) {
    const auto source = files.open(kIndexName);
    const std::string who = source->name();
    const auto bytes = read_all(*source, kMaxIndexBytes);
    json index;
    try {
        index = json::parse(bytes.begin(), bytes.end());
    } catch (const json::exception& e) {
        fail(ExitCode::CorruptInput, who + ": not valid JSON (" + std::string(e.what()) + ")", "download the file again");
    }
    const auto map = index.is_object() ? index.find("weight_map") : index.end();
    if (!index.is_object() || map == index.end() || !map->is_object()) {
        fail(ExitCode::CorruptInput, who + ": no \"weight_map\" object naming the shard of each tensor");
    }
    std::set<std::string> shards;
    for (const auto& [tensor, file] : map->items()) {
        if (!file.is_string()) fail(ExitCode::CorruptInput, who + ": the shard of tensor " + in_quotes(tensor) + " is not a string");
        const auto& name = file.get_ref<const std::string&>();
        if (!is_plain_file_name(name)) {
            fail(ExitCode::CorruptInput,
                 who + ": tensor " + in_quotes(tensor) + " is mapped to " + in_quotes(name) +
                     ", a path outside the model directory; shards must be plain file names",
                 "the index is damaged or hostile; download the model again");
        }
        weight_map.emplace(tensor, name);
        shards.insert(name);
    }
    if (shards.empty()) fail(ExitCode::CorruptInput, who + ": the weight_map names no tensors");
    for (const auto& name : shards) {
        if (!files.exists(name)) {
            fail(ExitCode::ModelNotFound, files.name() + ": shard " + in_quotes(name) + " named by " + std::string(kIndexName) + " is missing",
                 "download every model-*.safetensors file of the model");
        }
    }
    return {shards.begin(), shards.end()};
}

}  // namespace

Checkpoint open_checkpoint(const FileSet& files) {
    std::map<std::string, std::string> weight_map;
    const bool indexed = files.exists(kIndexName);
    const std::vector<std::string> names = indexed ? indexed_shards(files, weight_map) : unindexed_shards(files);

    Checkpoint ck;
    std::map<std::string_view, size_t> seen;  // tensor name -> shard
    for (const auto& name : names) {
        Checkpoint::Shard shard;
        shard.file = name;
        shard.source = files.open(name);
        shard.header = read_header(*shard.source, name);
        ck.total_bytes += shard.header.file_size;
        ck.shards.push_back(std::move(shard));
    }
    for (size_t s = 0; s < ck.shards.size(); ++s) {
        const auto& header = ck.shards[s].header;
        for (size_t i = 0; i < header.tensors.size(); ++i) {
            const std::string& tname = header.tensors[i].name;
            if (auto [it, fresh] = seen.emplace(tname, s); !fresh) {
                fail(ExitCode::CorruptInput, files.name() + ": tensor " + in_quotes(tname) + " is stored twice, in " +
                                                 in_quotes(ck.shards[it->second].file) + " and " + in_quotes(ck.shards[s].file));
            }
            ck.tensors.push_back({s, i});
        }
    }
    for (const auto& [tensor, file] : weight_map) {
        const auto it = seen.find(tensor);
        if (it == seen.end() || ck.shards[it->second].file != file) {
            fail(ExitCode::CorruptInput,
                 files.name() + ": " + std::string(kIndexName) + " places tensor " + in_quotes(tensor) + " in " + in_quotes(file) +
                     " but that shard does not hold it",
                 "the shards and the index come from different versions of the model; download them again");
        }
    }
    return ck;
}

}  // namespace llmq::safetensors
