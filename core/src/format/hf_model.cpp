// A HuggingFace directory as a ModelView: the metadata llama.cpp's converter would write, in its
// order, and tensors that stream their rows out of the safetensors shards in the output type.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>

#include "format/hf_internal.hpp"
#include "llmq/error.hpp"
#include "llmq/format/huggingface.hpp"

namespace llmq {
namespace {

using hf::json;

constexpr uint64_t kMaxConfigBytes = 16ull << 20;
constexpr uint64_t kMaxTokenizerBytes = 512ull << 20;  // tokenizer.json of large vocabularies runs to tens of MB

// general.name from the directory name, the way the reference converter spells a plain name
// ("tinyllama-spm" → "Tinyllama Spm"): separators become spaces, each word is capitalised.
std::string display_name(std::string dir) {
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    if (const auto slash = dir.rfind('/'); slash != std::string::npos) dir = dir.substr(slash + 1);
    bool word_start = true;
    for (char& ch : dir) {
        if (ch == '-' || ch == '_') ch = ' ';
        const auto u = static_cast<unsigned char>(ch);
        if (std::isalpha(u)) {
            ch = static_cast<char>(word_start ? std::toupper(u) : std::tolower(u));
            word_start = false;
        } else {
            word_start = true;
        }
    }
    return dir;
}

// general.size_label: the parameter count with a K/M/B/T suffix and at least two significant
// digits ("5.8M", "4.2M", "8.0B", "70B").
std::string size_label(uint64_t params) {
    double scaled = static_cast<double>(params);
    const char* suffix = "K";
    if (params > 1'000'000'000'000ull) {
        scaled *= 1e-12;
        suffix = "T";
    } else if (params > 1'000'000'000ull) {
        scaled *= 1e-9;
        suffix = "B";
    } else if (params > 1'000'000ull) {
        scaled *= 1e-6;
        suffix = "M";
    } else {
        scaled *= 1e-3;
    }
    const std::string integral = std::to_string(static_cast<long long>(std::nearbyint(scaled)));
    const size_t digits = integral == "0" ? 0 : integral.size();
    const int decimals = digits >= 2 ? 0 : static_cast<int>(2 - digits);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f%s", decimals, scaled, suffix);
    return buf;
}

uint32_t file_type_of(GgmlType t) {
    switch (t) {
        case GgmlType::F32:
            return 0;
        case GgmlType::F16:
            return 1;
        default:
            return 32;  // MOSTLY_BF16
    }
}

struct PlannedTensor {
    hf::TensorTarget target;
    safetensors::TensorRef ref;
    GgmlType stored = GgmlType::F32;
    uint32_t n_dims = 0;
    std::array<int64_t, 4> ne{1, 1, 1, 1};
};

std::vector<PlannedTensor> plan_tensors(const hf::HfConfig& config, const safetensors::Checkpoint& ck) {
    std::vector<PlannedTensor> planned;
    std::set<std::string> names;
    for (const auto& ref : ck.tensors) {
        const auto& entry = ck.entry(ref);
        auto target = hf::map_tensor_name(config, entry.name);
        if (!target) continue;
        const std::string where = ck.shards[ref.shard].source->name() + ": tensor '" + entry.name + "'";
        const auto stored = safetensors::float_type(entry.dtype);
        if (!stored) {
            fail(ExitCode::Unsupported, where + " has dtype " + std::string(safetensors::dtype_name(entry.dtype)) + ", which llmq does not convert",
                 "llmq converts F32, F16 and BF16 weights");
        }
        if (entry.shape.empty() || entry.shape.size() > 4) {
            fail(ExitCode::Unsupported, where + " has " + std::to_string(entry.shape.size()) + " dimensions; GGUF tensors have 1 to 4");
        }
        PlannedTensor p;
        p.stored = *stored;
        p.ref = ref;
        p.n_dims = static_cast<uint32_t>(entry.shape.size());
        for (size_t d = 0; d < entry.shape.size(); ++d) p.ne[d] = entry.shape[entry.shape.size() - 1 - d];
        if (target->permute_heads > 0) {
            const int64_t rows = entry.shape[0];
            if (rows % target->permute_heads != 0 || (rows / target->permute_heads) % 2 != 0) {
                fail(ExitCode::Unsupported,
                     where + " has " + std::to_string(rows) + " rows, which do not split into " + std::to_string(target->permute_heads) +
                         " heads of an even size",
                     "config.json's head counts do not match the weights");
            }
        }
        if (!names.insert(target->name).second) fail(ExitCode::CorruptInput, where + " maps to " + target->name + " a second time");
        p.target = std::move(*target);
        planned.push_back(std::move(p));
    }
    if (planned.empty()) fail(ExitCode::CorruptInput, ck.shards.front().source->name() + ": the checkpoint holds no model tensors");
    return planned;
}

// Output type of one tensor: 1-D tensors and norms stay F32 (as llama.cpp writes them).
GgmlType output_type(const PlannedTensor& p, HfOuttype outtype) {
    if (p.n_dims <= 1 || p.target.name.ends_with("_norm.weight")) return GgmlType::F32;
    return outtype_type(outtype, p.stored);
}

std::vector<gguf::KeyValue> tokenizer_keys(const FileSet& files, const hf::HfConfig& config, const HfOptions& options,
                                           std::vector<std::string>& warnings) {
    const auto none = std::vector<gguf::KeyValue>{{"tokenizer.ggml.model", gguf::Value::string("none")}};
    if (!options.vocab) return none;
    const auto tokenizer_config = hf::read_json(files, "tokenizer_config.json", kMaxConfigBytes * 4);
    const auto tokenizer_json = hf::read_json(files, "tokenizer.json", kMaxTokenizerBytes);
    hf::Vocab vocab;
    if (files.exists("tokenizer.model")) {
        const auto source = files.open("tokenizer.model");
        const auto bytes = read_all(*source, kMaxConfigBytes * 4);
        vocab = hf::read_sentencepiece(bytes, source->name(), config.vocab_size, warnings);
        const auto added = hf::read_json(files, "added_tokens.json", kMaxConfigBytes);
        hf::apply_added_tokens(vocab, tokenizer_config ? &*tokenizer_config : nullptr, added ? &*added : nullptr, warnings);
    } else if (tokenizer_json) {
        vocab = hf::read_bpe_tokenizer(*tokenizer_json, files.name() + "/tokenizer.json", config.vocab_size, warnings);
    } else {
        warnings.push_back(files.name() +
                           ": no tokenizer.model or tokenizer.json; the GGUF gets no vocabulary "
                           "(tokenizer.ggml.model = \"none\") and cannot tokenize text");
        return none;
    }
    const auto special = hf::read_special_tokens(files, vocab, tokenizer_json ? &*tokenizer_json : nullptr,
                                                 tokenizer_config ? &*tokenizer_config : nullptr, config.raw, warnings);
    return hf::tokenizer_metadata(vocab, special);
}

}  // namespace

std::optional<HfOuttype> parse_outtype(std::string_view text) {
    std::string t(text);
    std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (t == "f32") return HfOuttype::F32;
    if (t == "f16") return HfOuttype::F16;
    if (t == "bf16") return HfOuttype::BF16;
    if (t == "auto") return HfOuttype::Auto;
    return std::nullopt;
}

GgmlType outtype_type(HfOuttype outtype, GgmlType current) {
    switch (outtype) {
        case HfOuttype::F32:
            return GgmlType::F32;
        case HfOuttype::F16:
            return GgmlType::F16;
        case HfOuttype::BF16:
            return GgmlType::BF16;
        default:
            return current;
    }
}

std::string_view outtype_name(HfOuttype outtype) {
    switch (outtype) {
        case HfOuttype::F32:
            return "f32";
        case HfOuttype::F16:
            return "f16";
        case HfOuttype::BF16:
            return "bf16";
        case HfOuttype::Auto:
            return "auto";
        default:
            return "source";
    }
}

ModelView open_hf_model(std::shared_ptr<const FileSet> files, const HfOptions& options, std::vector<std::string>* warnings_out) {
    if (!files) fail(ExitCode::General, "internal: open_hf_model without files");
    std::vector<std::string> warnings;
    const std::string dir = files->name();
    auto config_json = hf::read_json(*files, "config.json", kMaxConfigBytes);
    if (!config_json) {
        fail(ExitCode::ModelNotFound, dir + ": no config.json, so this is not a HuggingFace model directory",
             "a HuggingFace model directory holds config.json and *.safetensors files; for a GGUF file give its path");
    }
    const hf::HfConfig config = hf::parse_config(std::move(*config_json), dir + "/config.json");
    auto ck = std::make_shared<const safetensors::Checkpoint>(safetensors::open_checkpoint(*files));
    const std::vector<PlannedTensor> planned = plan_tensors(config, *ck);

    HfOuttype outtype = options.outtype;
    if (outtype == HfOuttype::Auto) outtype = planned.front().stored == GgmlType::BF16 ? HfOuttype::BF16 : HfOuttype::F16;

    ModelView view;
    view.path = dir;
    view.format = "huggingface";
    view.source_bytes = ck->total_bytes;
    uint64_t params = 0;
    std::optional<GgmlType> weight_type;  // decides general.file_type
    // Generated tensors come first, as the reference converter emits them before the weights.
    if (auto factors = hf::llama3_rope_factors(config); !factors.empty()) {
        ModelTensor t;
        t.name = "rope_freqs.weight";
        t.n_dims = 1;
        t.ne = {static_cast<int64_t>(factors.size()), 1, 1, 1};
        t.type = GgmlType::F32;
        t.read_rows = [factors = std::move(factors)](int64_t row0, int64_t nrows, std::span<uint8_t> out) {
            if (row0 != 0 || nrows != 1 || out.size() != factors.size() * sizeof(float)) {
                fail(ExitCode::General, "internal: bad read of rope_freqs.weight");
            }
            std::memcpy(out.data(), factors.data(), out.size());
        };
        params += static_cast<uint64_t>(t.n_elements());
        view.tensors.push_back(std::move(t));
    }
    for (const auto& p : planned) {
        ModelTensor t;
        t.name = p.target.name;
        t.n_dims = p.n_dims;
        t.ne = p.ne;
        t.type = output_type(p, outtype);
        if (p.n_dims >= 2 && !weight_type) weight_type = t.type;
        params += static_cast<uint64_t>(t.n_elements());
        hf::RowSource src;
        src.file = ck->shards[p.ref.shard].source;
        src.offset = ck->data_start(p.ref);
        src.stored = p.stored;
        src.target = t.type;
        src.row_length = t.ne[0];
        src.rows = t.n_rows();
        src.permute_heads = p.target.permute_heads;
        src.name = t.name;
        t.read_rows = [src = std::move(src)](int64_t row0, int64_t nrows, std::span<uint8_t> out) { hf::read_rows(src, row0, nrows, out); };
        view.tensors.push_back(std::move(t));
    }

    auto& kv = view.metadata;
    kv.push_back({"general.architecture", gguf::Value::string(std::string(config.arch->gguf_arch))});
    kv.push_back({"general.type", gguf::Value::string("model")});
    kv.push_back({"general.name", gguf::Value::string(display_name(dir))});
    kv.push_back({"general.size_label", gguf::Value::string(size_label(params))});
    for (auto& e : hf::hyperparameters(config)) kv.push_back(std::move(e));
    kv.push_back({"general.file_type", gguf::Value::u32(file_type_of(weight_type.value_or(GgmlType::F32)))});
    for (auto& e : hf::architecture_tail(config)) kv.push_back(std::move(e));
    kv.push_back({"general.quantization_version", gguf::Value::u32(2)});
    for (auto& e : tokenizer_keys(*files, config, options, warnings)) kv.push_back(std::move(e));

    if (warnings_out) warnings_out->insert(warnings_out->end(), warnings.begin(), warnings.end());
    return view;
}

}  // namespace llmq
