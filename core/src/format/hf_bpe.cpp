// tokenizer.json with a byte-level BPE model → GGUF "gpt2" vocabulary: tokens by id, their
// types (added special tokens are control tokens), the merges, and tokenizer.ggml.pre chosen
// from the pre-tokenizer's split regex (llama.cpp identifies it by hashing test encodings,
// which needs a tokenizer; the regex names the same behaviour without one).
#include <array>

#include "format/hf_internal.hpp"
#include "llmq/error.hpp"

namespace llmq::hf {
namespace {

struct KnownRegex {
    std::string_view pre;
    std::string_view regex;
};

// The split regexes of the pre-tokenizers llama.cpp implements, as tokenizer.json spells them.
constexpr std::array<KnownRegex, 3> kRegexes = {{
    {"gpt-2", R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)"},
    {"llama-bpe", R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"},
    {"qwen2", R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"},
}};

bool flag(const json& object, const char* key, bool fallback) {
    const auto it = object.find(key);
    return it != object.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

[[noreturn]] void corrupt(const std::string& who, const std::string& problem) {
    fail(ExitCode::CorruptInput, who + ": " + problem, "tokenizer.json is damaged; download it again");
}

}  // namespace

std::optional<std::string> pre_tokenizer_name(const json& pre) {
    if (!pre.is_object()) return std::nullopt;
    std::vector<const json*> steps;
    if (string_or(pre, "type") == "Sequence" && pre.contains("pretokenizers") && pre["pretokenizers"].is_array()) {
        for (const auto& s : pre["pretokenizers"]) steps.push_back(&s);
    } else {
        steps.push_back(&pre);
    }
    std::vector<std::string> regexes;
    bool byte_level = false;
    for (const json* s : steps) {
        if (!s->is_object()) return std::nullopt;
        const std::string type = string_or(*s, "type");
        if (type == "ByteLevel") {
            byte_level = true;
            if (flag(*s, "use_regex", true)) regexes.emplace_back(kRegexes[0].regex);  // GPT-2's own regex
        } else if (type == "Split") {
            const auto pattern = s->find("pattern");
            if (pattern == s->end() || !pattern->is_object() || !pattern->contains("Regex") || !(*pattern)["Regex"].is_string()) {
                return std::nullopt;
            }
            regexes.push_back((*pattern)["Regex"].get<std::string>());
        } else {
            return std::nullopt;
        }
    }
    if (!byte_level || regexes.size() != 1) return std::nullopt;
    for (const auto& known : kRegexes)
        if (known.regex == regexes.front()) return std::string(known.pre);
    return std::nullopt;
}

Vocab read_bpe_tokenizer(const json& tok, const std::string& who, int64_t vocab_size, std::vector<std::string>& warnings) {
    if (!tok.is_object() || !tok.contains("model") || !tok["model"].is_object()) corrupt(who, "no \"model\" object");
    const json& model = tok["model"];
    const std::string type = string_or(model, "type");
    const bool byte_level = [&] {
        const auto dec = tok.find("decoder");
        if (dec != tok.end() && string_or(*dec, "type") == "ByteLevel") return true;
        const auto pre = tok.find("pre_tokenizer");
        return pre != tok.end() && pre->dump().find("\"ByteLevel\"") != std::string::npos;
    }();
    if (type != "BPE" || !byte_level) {
        fail(ExitCode::Unsupported,
             who + ": a " + (type.empty() ? std::string("untyped") : type) + (byte_level ? " byte-level" : "") +
                 " tokenizer; llmq converts byte-level BPE tokenizer.json files and SentencePiece tokenizer.model files",
             "if the model ships a tokenizer.model, put it in the directory; or convert with --no-vocab");
    }
    const auto vocab_it = model.find("vocab");
    if (vocab_it == model.end() || !vocab_it->is_object()) corrupt(who, "the BPE model has no vocab object");

    Vocab v;
    v.model = "gpt2";
    v.tokens.resize(static_cast<size_t>(vocab_size));
    std::vector<bool> filled(static_cast<size_t>(vocab_size), false);
    auto place = [&](const std::string& text, const json& id_json) -> int64_t {
        if (!id_json.is_number_integer() || id_json.get<int64_t>() < 0) corrupt(who, "token '" + text + "' has no valid id");
        const int64_t id = id_json.get<int64_t>();
        if (id >= vocab_size) {
            corrupt(who, "token '" + text + "' has id " + std::to_string(id) + " but config.json vocab_size is " + std::to_string(vocab_size));
        }
        return id;
    };
    v.types.assign(static_cast<size_t>(vocab_size), kUnused);
    for (const auto& [text, id_json] : vocab_it->items()) {
        const int64_t id = place(text, id_json);
        if (filled[static_cast<size_t>(id)]) corrupt(who, "two tokens have id " + std::to_string(id));
        filled[static_cast<size_t>(id)] = true;
        v.tokens[static_cast<size_t>(id)] = text;
        v.types[static_cast<size_t>(id)] = kNormal;
    }
    if (const auto added = tok.find("added_tokens"); added != tok.end() && added->is_array()) {
        for (const auto& a : *added) {
            if (!a.is_object() || !a.contains("content") || !a["content"].is_string() || !a.contains("id")) {
                corrupt(who, "an added token without content or id");
            }
            std::string text = a["content"].get<std::string>();
            const int64_t id = place(text, a["id"]);
            filled[static_cast<size_t>(id)] = true;
            if (flag(a, "special", false) || looks_special(text)) {
                v.types[static_cast<size_t>(id)] = kControl;
            } else {
                for (size_t at; (at = text.find("\xe2\x96\x81")) != std::string::npos;) text.replace(at, 3, " ");
                v.types[static_cast<size_t>(id)] = kUserDefined;
            }
            v.tokens[static_cast<size_t>(id)] = std::move(text);
        }
    }
    for (int64_t i = 0; i < vocab_size; ++i)
        if (!filled[static_cast<size_t>(i)]) v.tokens[static_cast<size_t>(i)] = "[PAD" + std::to_string(i) + "]";

    if (const auto merges = model.find("merges"); merges != model.end() && merges->is_array()) {
        v.merges.reserve(merges->size());
        for (const auto& m : *merges) {
            if (m.is_string()) {
                v.merges.push_back(m.get<std::string>());
            } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
                v.merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
            } else {
                corrupt(who, "a merge that is neither \"a b\" nor [\"a\", \"b\"]");
            }
        }
    }

    const auto pre = tok.find("pre_tokenizer");
    const auto name = pre == tok.end() ? std::nullopt : pre_tokenizer_name(*pre);
    if (name) {
        v.pre = *name;
    } else {
        v.pre = "default";
        warnings.push_back(who +
                           ": the pre-tokenizer is not one llmq recognises (GPT-2, Llama 3, Qwen2 regexes); "
                           "tokenizer.ggml.pre is set to \"default\", check the tokenization in llama.cpp");
    }
    return v;
}

}  // namespace llmq::hf
