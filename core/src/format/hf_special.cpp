// Special tokens, add_bos/add_eos flags and the chat template, gathered the way llama.cpp's
// converter does: tokenizer_config.json names first (resolved to ids), then the *_token_id
// numbers of config.json and generation_config.json for the kinds still missing. Keys are
// written in the order the ids are found, as the reference GGUFs have them.
#include <array>
#include <unordered_map>

#include "format/hf_internal.hpp"
#include "llmq/error.hpp"

namespace llmq::hf {
namespace {

struct Kind {
    const char* hf;    // "bos" → bos_token / bos_token_id
    const char* gguf;  // tokenizer.ggml.<gguf>_token_id
};

// ggml spells the separator key "seperator".
constexpr std::array<Kind, 7> kKinds = {{
    {"bos", "bos"},
    {"eos", "eos"},
    {"unk", "unknown"},
    {"sep", "seperator"},
    {"pad", "padding"},
    {"cls", "cls"},
    {"mask", "mask"},
}};

constexpr uint64_t kMaxTemplateBytes = 16ull << 20;

std::optional<std::string> token_text(const json& entry) {
    if (entry.is_string()) return entry.get<std::string>();
    if (entry.is_object() && entry.contains("content") && entry["content"].is_string()) return entry["content"].get<std::string>();
    return std::nullopt;
}

class Collector {
public:
    Collector(const Vocab& vocab, std::vector<std::string>& warnings) : vocab_(vocab), warnings_(warnings) {}

    void set(const Kind& kind, int64_t id, const std::string& source) {
        if (has(kind)) return;
        if (id < 0 || id >= static_cast<int64_t>(vocab_.tokens.size())) {
            warnings_.push_back(source + ": " + kind.hf + " token id " + std::to_string(id) + " is outside the vocabulary; ignored");
            return;
        }
        out.ids.emplace_back(std::string("tokenizer.ggml.") + kind.gguf + "_token_id", static_cast<uint32_t>(id));
    }

    bool has(const Kind& kind) const {
        const std::string key = std::string("tokenizer.ggml.") + kind.gguf + "_token_id";
        for (const auto& [k, v] : out.ids)
            if (k == key) return true;
        return false;
    }

    // *_token_id numbers of config.json / generation_config.json (lists are ambiguous: skipped).
    void from_ids(const json& file, const std::string& source) {
        if (!file.is_object()) return;
        for (const auto& kind : kKinds) {
            const auto it = file.find(std::string(kind.hf) + "_token_id");
            if (it != file.end() && it->is_number_integer()) set(kind, it->get<int64_t>(), source);
        }
    }

    SpecialTokens out;

private:
    const Vocab& vocab_;
    std::vector<std::string>& warnings_;
};

// add_bos/add_eos from a TemplateProcessing post-processor: a special token before or after $A.
bool template_flags(const json* tokenizer_json, Collector& c) {
    if (!tokenizer_json || !tokenizer_json->is_object()) return false;
    const auto post = tokenizer_json->find("post_processor");
    if (post == tokenizer_json->end() || !post->is_object()) return false;
    std::vector<const json*> processors;
    if (string_or(*post, "type") == "Sequence" && post->contains("processors") && (*post)["processors"].is_array()) {
        for (const auto& p : (*post)["processors"]) processors.push_back(&p);
    } else {
        processors.push_back(&*post);
    }
    for (const json* p : processors) {
        if (string_or(*p, "type") != "TemplateProcessing") continue;
        const auto single = p->find("single");
        if (single == p->end() || !single->is_array() || single->empty()) continue;
        const bool bos = single->front().is_object() && single->front().contains("SpecialToken");
        const bool eos = single->size() > 1 && single->back().is_object() && single->back().contains("SpecialToken");
        c.out.flags.emplace_back("tokenizer.ggml.add_bos_token", bos);
        c.out.flags.emplace_back("tokenizer.ggml.add_eos_token", eos);
        return true;
    }
    return false;
}

void config_flags(const json* tokenizer_config, Collector& c) {
    if (!tokenizer_config || !tokenizer_config->is_object()) return;
    const auto bos = tokenizer_config->find("add_bos_token");
    const auto eos = tokenizer_config->find("add_eos_token");
    if (bos != tokenizer_config->end() && bos->is_boolean()) c.out.flags.emplace_back("tokenizer.ggml.add_bos_token", bos->get<bool>());
    if (eos != tokenizer_config->end() && eos->is_boolean()) {
        // The reference converter (llama.cpp 80fb11ac) records add_eos_token: false as
        // add_sep_token = false and writes no add_eos_token; the fixture GGUFs pin this.
        if (eos->get<bool>()) {
            c.out.flags.emplace_back("tokenizer.ggml.add_eos_token", true);
        } else {
            c.out.flags.emplace_back("tokenizer.ggml.add_sep_token", false);
        }
    }
}

std::optional<std::string> read_text(const FileSet& files, std::string_view name) {
    if (!files.exists(name)) return std::nullopt;
    const auto source = files.open(name);
    const auto bytes = read_all(*source, kMaxTemplateBytes);
    return std::string(bytes.begin(), bytes.end());
}

std::optional<std::string> chat_template(const FileSet& files, const json* tokenizer_config) {
    if (tokenizer_config && tokenizer_config->is_object()) {
        const auto t = tokenizer_config->find("chat_template");
        if (t != tokenizer_config->end() && t->is_string()) return t->get<std::string>();
        if (t != tokenizer_config->end() && t->is_array()) {  // named templates: take "default"
            for (const auto& named : *t) {
                if (string_or(named, "name") == "default" && named.contains("template") && named["template"].is_string()) {
                    return named["template"].get<std::string>();
                }
            }
        }
    }
    if (auto text = read_text(files, "chat_template.jinja")) return text;
    if (auto j = read_json(files, "chat_template.json", kMaxTemplateBytes)) {
        if (j->is_object() && j->contains("chat_template") && (*j)["chat_template"].is_string()) {
            return (*j)["chat_template"].get<std::string>();
        }
    }
    return std::nullopt;
}

}  // namespace

SpecialTokens read_special_tokens(const FileSet& files, const Vocab& vocab, const json* tokenizer_json, const json* tokenizer_config,
                                  const json& config, std::vector<std::string>& warnings) {
    Collector c(vocab, warnings);

    // Names in tokenizer_config.json are looked up among tokenizer.json's added tokens, or,
    // for a SentencePiece model without tokenizer.json, among its pieces.
    std::unordered_map<std::string, int64_t> lookup;
    if (tokenizer_json && tokenizer_json->is_object() && tokenizer_json->contains("added_tokens") && (*tokenizer_json)["added_tokens"].is_array()) {
        for (const auto& a : (*tokenizer_json)["added_tokens"]) {
            if (a.is_object() && a.contains("content") && a["content"].is_string() && a.contains("id") && a["id"].is_number_integer()) {
                lookup.emplace(a["content"].get<std::string>(), a["id"].get<int64_t>());  // first match wins
            }
        }
    } else if (!tokenizer_json && vocab.model == "llama") {
        for (size_t i = 0; i < vocab.tokens.size(); ++i) {
            if (vocab.types[i] != kNormal) lookup.emplace(vocab.tokens[i], static_cast<int64_t>(i));
        }
    }
    if (tokenizer_config && tokenizer_config->is_object()) {
        for (const auto& kind : kKinds) {
            const auto entry = tokenizer_config->find(std::string(kind.hf) + "_token");
            if (entry == tokenizer_config->end()) continue;
            const auto text = token_text(*entry);
            if (!text) continue;
            if (const auto it = lookup.find(*text); it != lookup.end()) c.set(kind, it->second, "tokenizer_config.json");
        }
    }
    c.from_ids(config, "config.json");
    if (auto generation = read_json(files, "generation_config.json", 1u << 20)) c.from_ids(*generation, "generation_config.json");

    if (!template_flags(tokenizer_json, c)) config_flags(tokenizer_config, c);
    c.out.chat_template = chat_template(files, tokenizer_config);
    return c.out;
}

std::vector<gguf::KeyValue> tokenizer_metadata(const Vocab& v, const SpecialTokens& special) {
    std::vector<gguf::KeyValue> kv;
    kv.push_back({"tokenizer.ggml.model", gguf::Value::string(v.model)});
    kv.push_back({"tokenizer.ggml.pre", gguf::Value::string(v.pre)});
    kv.push_back({"tokenizer.ggml.tokens", gguf::Value::string_array(v.tokens)});
    if (v.model == "llama") {
        kv.push_back({"tokenizer.ggml.scores", gguf::Value::array_of<float>(gguf::ValueType::FLOAT32, v.scores)});
    }
    kv.push_back({"tokenizer.ggml.token_type", gguf::Value::array_of<int32_t>(gguf::ValueType::INT32, v.types)});
    if (v.model == "gpt2") kv.push_back({"tokenizer.ggml.merges", gguf::Value::string_array(v.merges)});
    for (const auto& [key, id] : special.ids) kv.push_back({key, gguf::Value::u32(id)});
    for (const auto& [key, on] : special.flags) kv.push_back({key, gguf::Value::boolean(on)});
    if (special.chat_template) kv.push_back({"tokenizer.chat_template", gguf::Value::string(*special.chat_template)});
    return kv;
}

}  // namespace llmq::hf
