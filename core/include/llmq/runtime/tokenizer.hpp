// Tokenizers built from a model's GGUF vocabulary keys (tokenizer.ggml.*): SentencePiece BPE
// ("llama": scores, byte fallback, dummy prefix) and byte-level BPE ("gpt2": merges, the
// pre-tokenizer regexes gpt-2, llama-bpe, qwen2). Ids match llama.cpp's llama_tokenize.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llmq/format/gguf.hpp"

namespace llmq {

struct ModelView;

namespace tokenizer_detail {
struct Impl;
}

enum class TokenizerKind { Spm, Bpe };

// tokenizer.ggml.token_type values (llama.cpp's llama_token_type).
enum class TokenType : uint8_t {
    Undefined = 0,
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
};

struct DecodeOptions {
    // Drop a leading BOS / trailing EOS where the vocabulary adds them (llama_detokenize's
    // remove_special).
    bool remove_special = false;
    // Show control and unknown tokens as their text instead of nothing (unparse_special).
    bool render_special = false;
};

class Tokenizer {
public:
    // From a model's metadata; throws Failure(Unsupported) when the model has no vocabulary or
    // one of another kind, Failure(CorruptInput) when its keys are missing or inconsistent.
    static Tokenizer from_metadata(const ModelView& model);
    // Same from GGUF key/values; origin names the file in messages.
    static Tokenizer from_kv(std::span<const gguf::KeyValue> kv, std::string_view origin);

    // Token ids of text. add_special: BOS (and EOS) as the vocabulary asks (add_bos/add_eos);
    // parse_special: control tokens written in the text (e.g. "<s>") become their ids.
    // User-defined tokens are always matched.
    std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;

    // Text of token ids, as llama_detokenize: SentencePiece "▁" become spaces and the dummy
    // prefix's space is dropped from the first token; byte tokens become their bytes; control
    // tokens render as nothing unless options.render_special. Throws Failure(CorruptInput) for an id
    // outside the vocabulary.
    std::string decode(std::span<const int32_t> ids, DecodeOptions options = {}) const;
    // The text of one token as decode renders it alone, but without dropping a leading space.
    std::string token_piece(int32_t id, bool render_special = false) const;
    // The token's string as stored in the vocabulary ("▁the", "<0x0A>", "Ġthe").
    std::string token_text(int32_t id) const;
    TokenType token_type(int32_t id) const;
    float token_score(int32_t id) const;

    TokenizerKind kind() const;
    std::string_view pre() const;  // tokenizer.ggml.pre ("" when absent)
    size_t vocab_size() const;
    int32_t bos() const;  // -1 when the vocabulary has none
    int32_t eos() const;
    int32_t unk() const;
    int32_t pad() const;
    bool add_bos() const;
    bool add_eos() const;
    bool add_space_prefix() const;

private:
    explicit Tokenizer(std::shared_ptr<const tokenizer_detail::Impl> impl) : impl_(std::move(impl)) {}
    std::shared_ptr<const tokenizer_detail::Impl> impl_;  // immutable, so copies share it
};

}  // namespace llmq
