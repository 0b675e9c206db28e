// Tokenizer: construction, the special-token pass that runs before either algorithm, encode
// (BOS/EOS, SentencePiece's dummy prefix and whitespace escaping) and the accessors.
#include <memory>

#include "llmq/error.hpp"
#include "llmq/format/model.hpp"
#include "llmq/runtime/tokenizer.hpp"
#include "runtime/tokenizer_impl.hpp"

namespace llmq {

using tokenizer_detail::Impl;
using tokenizer_detail::Vocab;

namespace tokenizer_detail {

Impl::Impl(Vocab v) : vocab(std::move(v)) {
    if (vocab.kind == TokenizerKind::Spm) {
        spm.emplace(vocab);
    } else {
        // Vocab::load accepted the name, so it is known.
        const PreTokenizer pre = *pre_tokenizer_from_name(vocab.pre);
        bpe.emplace(vocab, pre, pre == PreTokenizer::Llama3);
    }
}

}  // namespace tokenizer_detail

namespace {

// A piece of the input: raw text [start, start + len), or one special token.
struct Fragment {
    size_t start;
    size_t len;
    int32_t token;  // -1 for text
};

// Cuts the special tokens out of the text, longest token first, each text fragment scanned left
// to right for non-overlapping occurrences. Control and unknown tokens are matched only when
// parse_special; user-defined ones always (as HuggingFace and llama.cpp do).
std::vector<Fragment> partition(const Vocab& vocab, std::string_view text, bool parse_special) {
    std::vector<Fragment> fragments;
    if (text.empty()) return fragments;
    fragments.push_back({0, text.size(), -1});
    std::vector<Fragment> next;
    for (const int32_t id : vocab.specials) {
        const TokenType type = vocab.types[id];
        if (!parse_special && type != TokenType::UserDefined) continue;
        const std::string_view needle = vocab.tokens[id];
        bool found = false;
        next.clear();
        for (const Fragment& f : fragments) {
            if (f.token >= 0) {
                next.push_back(f);
                continue;
            }
            size_t start = f.start;
            const size_t end = f.start + f.len;
            const std::string_view window = text.substr(0, end);  // never search past the fragment
            for (size_t hit = window.find(needle, start); hit != std::string_view::npos; hit = window.find(needle, start)) {
                found = true;
                if (hit > start) next.push_back({start, hit - start, -1});
                next.push_back({hit, needle.size(), id});
                start = hit + needle.size();
            }
            if (start < end) next.push_back({start, end - start, -1});
        }
        if (found) fragments.swap(next);
    }
    return fragments;
}

// SentencePiece's whitespace escape: every ' ' becomes U+2581 "▁".
void append_escaped(std::string& out, std::string_view text) {
    for (char c : text) {
        if (c == ' ') {
            out += "\xE2\x96\x81";
        } else {
            out += c;
        }
    }
}

}  // namespace

Tokenizer Tokenizer::from_kv(std::span<const gguf::KeyValue> kv, std::string_view origin) {
    return Tokenizer(std::make_shared<const Impl>(Vocab::load(kv, origin)));
}

Tokenizer Tokenizer::from_metadata(const ModelView& model) {
    return from_kv(model.metadata, model.path);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
    const Vocab& vocab = impl_->vocab;
    std::vector<int32_t> out;
    out.reserve(text.size() / 3 + 2);
    if (add_special && vocab.add_bos) out.push_back(vocab.bos);

    const std::vector<Fragment> fragments = partition(vocab, text, parse_special);
    if (impl_->spm) {
        // The dummy prefix goes before the text's start and after every special token, the way
        // SentencePiece sees each stretch of plain text as a new sentence.
        bool after_special = true;
        std::string escaped;
        for (const Fragment& f : fragments) {
            if (f.token >= 0) {
                out.push_back(f.token);
                after_special = true;
                continue;
            }
            escaped.clear();
            if (vocab.add_space_prefix && after_special) escaped = "\xE2\x96\x81";
            append_escaped(escaped, text.substr(f.start, f.len));
            impl_->spm->encode(vocab, escaped, out);
            after_special = false;
        }
    } else {
        for (const Fragment& f : fragments) {
            if (f.token >= 0) {
                out.push_back(f.token);
            } else {
                impl_->bpe->encode(vocab, text.substr(f.start, f.len), out);
            }
        }
    }

    if (add_special && vocab.add_eos) out.push_back(vocab.eos);
    return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, DecodeOptions options) const {
    const Vocab& vocab = impl_->vocab;
    // The dummy prefix's space comes back on the first token; llama.cpp keeps it when a BOS
    // that is being removed stood first.
    bool strip_space = vocab.add_space_prefix;
    if (options.remove_special && vocab.add_bos && !ids.empty() && ids.front() == vocab.bos) {
        strip_space = false;
        ids = ids.subspan(1);
    }
    if (options.remove_special && vocab.add_eos && !ids.empty() && ids.back() == vocab.eos) ids = ids.first(ids.size() - 1);

    std::string text;
    text.reserve(ids.size() * 4);
    for (const int32_t id : ids) {
        if (id < 0 || id >= vocab.size())
            fail(ExitCode::CorruptInput,
                 "token id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(vocab.size()) + " tokens of " + vocab.origin);
        std::string piece = tokenizer_detail::render_piece(vocab, id, options.render_special);
        if (strip_space && !piece.empty() && piece.front() == ' ') piece.erase(0, 1);
        strip_space = false;
        text += piece;
    }
    return text;
}

std::string Tokenizer::token_piece(int32_t id, bool render_special) const {
    const Vocab& vocab = impl_->vocab;
    if (id < 0 || id >= vocab.size())
        fail(ExitCode::CorruptInput,
             "token id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(vocab.size()) + " tokens of " + vocab.origin);
    return tokenizer_detail::render_piece(vocab, id, render_special);
}

std::string Tokenizer::token_text(int32_t id) const {
    const Vocab& vocab = impl_->vocab;
    if (id < 0 || id >= vocab.size()) return {};
    return vocab.tokens[id];
}

TokenType Tokenizer::token_type(int32_t id) const {
    const Vocab& vocab = impl_->vocab;
    return id < 0 || id >= vocab.size() ? TokenType::Undefined : vocab.types[id];
}

float Tokenizer::token_score(int32_t id) const {
    const Vocab& vocab = impl_->vocab;
    return id < 0 || id >= vocab.size() ? 0.0f : vocab.scores[id];
}

TokenizerKind Tokenizer::kind() const {
    return impl_->vocab.kind;
}
std::string_view Tokenizer::pre() const {
    return impl_->vocab.pre;
}
size_t Tokenizer::vocab_size() const {
    return impl_->vocab.tokens.size();
}
int32_t Tokenizer::bos() const {
    return impl_->vocab.bos;
}
int32_t Tokenizer::eos() const {
    return impl_->vocab.eos;
}
int32_t Tokenizer::unk() const {
    return impl_->vocab.unk;
}
int32_t Tokenizer::pad() const {
    return impl_->vocab.pad;
}
bool Tokenizer::add_bos() const {
    return impl_->vocab.add_bos;
}
bool Tokenizer::add_eos() const {
    return impl_->vocab.add_eos;
}
bool Tokenizer::add_space_prefix() const {
    return impl_->vocab.add_space_prefix;
}

}  // namespace llmq
