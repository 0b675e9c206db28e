// Reading tokenizer.ggml.* keys into a Vocab, with the defaults llama.cpp applies when a key is
// absent and a clear failure when one is malformed.
#include "runtime/tokenizer_vocab.hpp"

#include <algorithm>
#include <optional>

#include "llmq/error.hpp"
#include "runtime/tokenizer_pretokenize.hpp"

namespace llmq::tokenizer_detail {

namespace {

const gguf::Value* find_key(std::span<const gguf::KeyValue> kv, std::string_view key) {
    for (const auto& entry : kv)
        if (entry.key == key) return &entry.value;
    return nullptr;
}

struct KeyReader {
    std::span<const gguf::KeyValue> kv;
    std::string_view origin;

    [[noreturn]] void corrupt(std::string_view key, const std::string& problem) const {
        fail(ExitCode::CorruptInput, std::string(origin) + ": " + std::string(key) + " " + problem,
             "the vocabulary keys are damaged; reconvert the model");
    }

    const std::vector<std::string>* string_array(std::string_view key) const {
        const gguf::Value* v = find_key(kv, key);
        if (!v) return nullptr;
        if (!v->is_array() || v->array_type() != gguf::ValueType::STRING) corrupt(key, "is not an array of strings");
        return &v->strings();
    }

    // A numeric array of exactly n entries, or nullptr when absent.
    const gguf::Value* numeric_array(std::string_view key, size_t n) const {
        const gguf::Value* v = find_key(kv, key);
        if (!v) return nullptr;
        if (!v->is_array() || v->array_type() == gguf::ValueType::STRING) corrupt(key, "is not a numeric array");
        if (v->array_size() != n) corrupt(key, "has " + std::to_string(v->array_size()) + " entries for " + std::to_string(n) + " tokens");
        return v;
    }

    std::optional<bool> boolean(std::string_view key) const {
        const gguf::Value* v = find_key(kv, key);
        if (!v) return std::nullopt;
        const auto b = v->as_bool();
        if (!b) corrupt(key, "is not a boolean");
        return b;
    }

    // A token id key: nullopt when absent; must name a token.
    std::optional<int32_t> token_id(std::string_view key, size_t n_tokens) const {
        const gguf::Value* v = find_key(kv, key);
        if (!v) return std::nullopt;
        const auto id = v->as_int();
        if (!id) corrupt(key, "is not an integer");
        if (*id < 0 || static_cast<uint64_t>(*id) >= n_tokens)
            corrupt(key, "= " + std::to_string(*id) + " is outside the vocabulary of " + std::to_string(n_tokens) + " tokens");
        return static_cast<int32_t>(*id);
    }
};

}  // namespace

void Vocab::build_index() {
    index_.clear();
    index_.reserve(tokens.size());
    for (size_t i = 0; i < tokens.size(); ++i)
        if (!tokens[i].empty()) index_[tokens[i]] = static_cast<int32_t>(i);
}

Vocab Vocab::load(std::span<const gguf::KeyValue> kv, std::string_view origin) {
    const KeyReader keys{kv, origin};
    Vocab v;
    v.origin = std::string(origin);

    const gguf::Value* model = find_key(kv, "tokenizer.ggml.model");
    if (!model)
        fail(ExitCode::Unsupported, std::string(origin) + ": the model has no tokenizer (tokenizer.ggml.model is missing)",
             "use a GGUF file that carries its vocabulary, or convert from the HuggingFace directory");
    const std::string* model_name = model->as_string();
    if (!model_name) keys.corrupt("tokenizer.ggml.model", "is not a string");
    if (*model_name == "llama") {
        v.kind = TokenizerKind::Spm;
    } else if (*model_name == "gpt2") {
        v.kind = TokenizerKind::Bpe;
    } else if (*model_name == "none" || *model_name == "no") {
        fail(ExitCode::Unsupported, std::string(origin) + ": the model has no vocabulary (tokenizer.ggml.model = '" + *model_name + "')",
             "use a file converted with its vocabulary");
    } else {
        fail(ExitCode::Unsupported, std::string(origin) + ": tokenizer.ggml.model '" + *model_name + "' is not supported",
             "llmq tokenizes SentencePiece BPE ('llama') and byte-level BPE ('gpt2') vocabularies");
    }

    const auto* tokens = keys.string_array("tokenizer.ggml.tokens");
    if (!tokens || tokens->empty()) keys.corrupt("tokenizer.ggml.tokens", tokens ? "is empty" : "is missing");
    if (tokens->size() > static_cast<size_t>(INT32_MAX)) keys.corrupt("tokenizer.ggml.tokens", "is too long");
    v.tokens = *tokens;
    const size_t n = v.tokens.size();

    v.scores.assign(n, 0.0f);
    if (const gguf::Value* scores = keys.numeric_array("tokenizer.ggml.scores", n))
        for (size_t i = 0; i < n; ++i) v.scores[i] = static_cast<float>(scores->float_at(i).value_or(0.0));

    v.types.assign(n, TokenType::Normal);
    if (const gguf::Value* types = keys.numeric_array("tokenizer.ggml.token_type", n)) {
        for (size_t i = 0; i < n; ++i) {
            const auto t = types->int_at(i);
            if (!t || *t < 0 || *t > static_cast<int64_t>(TokenType::Byte))
                keys.corrupt("tokenizer.ggml.token_type", "has an invalid type for token " + std::to_string(i) + " ('" + v.tokens[i] + "')");
            v.types[i] = static_cast<TokenType>(*t);
        }
    }

    const auto* pre = find_key(kv, "tokenizer.ggml.pre");
    if (pre) {
        const std::string* s = pre->as_string();
        if (!s) keys.corrupt("tokenizer.ggml.pre", "is not a string");
        v.pre = *s;
    }

    bool llama3_style = false;
    if (v.kind == TokenizerKind::Spm) {
        // SentencePiece conventions, as llama.cpp assumes them when the keys are absent.
        v.unk = n > 0 ? 0 : -1;
        v.bos = n > 1 ? 1 : -1;
        v.eos = n > 2 ? 2 : -1;
        v.add_bos = true;
        v.add_space_prefix = true;
    } else {
        const auto merges = keys.string_array("tokenizer.ggml.merges");
        if (!merges) keys.corrupt("tokenizer.ggml.merges", "is missing (a 'gpt2' vocabulary needs its merges)");
        v.merges = *merges;
        if (!pre)
            fail(ExitCode::Unsupported, std::string(origin) + ": byte-level BPE vocabulary without tokenizer.ggml.pre",
                 "reconvert with a converter that records the pre-tokenizer (gpt-2, llama-bpe, qwen2, ...)");
        const auto kind = pre_tokenizer_from_name(v.pre);
        if (!kind)
            fail(ExitCode::Unsupported, std::string(origin) + ": pre-tokenizer '" + v.pre + "' is not supported",
                 "supported: gpt-2 (and its aliases), llama-bpe/llama3, qwen2, smollm/starcoder/refact/command-r");
        llama3_style = *kind == PreTokenizer::Llama3;
        v.add_bos = llama3_style;  // llama.cpp's default for the Llama 3 family
    }

    if (auto id = keys.token_id("tokenizer.ggml.bos_token_id", n)) v.bos = *id;
    if (auto id = keys.token_id("tokenizer.ggml.eos_token_id", n)) v.eos = *id;
    if (auto id = keys.token_id("tokenizer.ggml.unknown_token_id", n)) v.unk = *id;
    if (auto id = keys.token_id("tokenizer.ggml.padding_token_id", n)) v.pad = *id;
    if (v.bos < 0) v.add_bos = false;  // a default, not a request: nothing to add
    if (auto b = keys.boolean("tokenizer.ggml.add_bos_token")) v.add_bos = *b;
    if (auto b = keys.boolean("tokenizer.ggml.add_eos_token")) v.add_eos = *b;
    if (auto b = keys.boolean("tokenizer.ggml.add_space_prefix")) v.add_space_prefix = *b;
    if (v.add_bos && v.bos < 0) keys.corrupt("tokenizer.ggml.add_bos_token", "is set but the vocabulary has no BOS token");
    if (v.add_eos && v.eos < 0) keys.corrupt("tokenizer.ggml.add_eos_token", "is set but the vocabulary has no EOS token");

    for (size_t i = 0; i < n; ++i) {
        const TokenType t = v.types[i];
        if ((t == TokenType::Control || t == TokenType::Unknown || t == TokenType::UserDefined) && !v.tokens[i].empty())
            v.specials.push_back(static_cast<int32_t>(i));
    }
    // Longest first so that a special token containing another wins; ids break ties so the
    // order never depends on the sort implementation.
    std::sort(v.specials.begin(), v.specials.end(), [&](int32_t a, int32_t b) {
        const size_t la = v.tokens[a].size(), lb = v.tokens[b].size();
        return la != lb ? la > lb : a < b;
    });

    v.build_index();
    return v;
}

}  // namespace llmq::tokenizer_detail
