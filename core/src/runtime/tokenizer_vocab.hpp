// A tokenizer vocabulary as read from GGUF keys: token strings, scores, types, special ids and
// the flags that steer encoding. Validated on load; immutable afterwards.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "llmq/format/gguf.hpp"
#include "llmq/runtime/tokenizer.hpp"

namespace llmq::tokenizer_detail {

struct Vocab {
    std::string origin;  // file name for messages
    TokenizerKind kind = TokenizerKind::Spm;
    std::string pre;
    std::vector<std::string> tokens;
    std::vector<float> scores;
    std::vector<TokenType> types;
    std::vector<std::string> merges;  // BPE only, in rank order
    int32_t bos = -1;
    int32_t eos = -1;
    int32_t unk = -1;
    int32_t pad = -1;
    bool add_bos = false;
    bool add_eos = false;
    bool add_space_prefix = false;
    // Tokens matched in the text before the model's own algorithm runs (control, unknown and
    // user-defined ones), longest first.
    std::vector<int32_t> specials;

    // Id of a token string, -1 when absent (the last of duplicate strings wins, as in llama.cpp).
    int32_t find(std::string_view text) const {
        const auto it = index_.find(text);
        return it == index_.end() ? -1 : it->second;
    }
    int32_t size() const { return static_cast<int32_t>(tokens.size()); }

    // Loads and validates. Throws Failure(Unsupported / CorruptInput).
    static Vocab load(std::span<const gguf::KeyValue> kv, std::string_view origin);

    Vocab() = default;
    // The index holds views into tokens: moving tokens would keep them valid, copying would not.
    Vocab(const Vocab&) = delete;
    Vocab& operator=(const Vocab&) = delete;
    Vocab(Vocab&&) = default;
    Vocab& operator=(Vocab&&) = default;

private:
    std::unordered_map<std::string_view, int32_t> index_;
    void build_index();
};

}  // namespace llmq::tokenizer_detail
