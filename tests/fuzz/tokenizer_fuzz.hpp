// Shared body of the tokenizer targets: a vocabulary loaded once from a GGUF fixture, then per
// input: the first byte holds the flags (add_special, parse_special, remove_special,
// render_special, and whether the rest is text or raw token ids), the rest is encoded and the
// ids decoded again; raw ids (4 bytes each) are decoded as they are, out-of-range ones included.
#pragma once

#include <cstring>

#include "fuzz_files.hpp"
#include "llmq/format/gguf.hpp"
#include "llmq/runtime/tokenizer.hpp"

namespace llmq::fuzz {

inline Tokenizer vocabulary(const std::string& relative) {
    const Bytes bytes = repository_file(relative);
    const SharedSource source(bytes, bytes->size(), relative);
    const gguf::Header h = gguf::read_header(source);
    return Tokenizer::from_kv(h.kv, relative);
}

inline void tokenize(const Tokenizer& tok, std::span<const uint8_t> input) {
    if (input.empty()) return;
    const uint8_t flags = input[0];
    const auto rest = input.subspan(1);
    const DecodeOptions options{.remove_special = (flags & 4) != 0, .render_special = (flags & 8) != 0};
    if (flags & 16) {
        std::vector<int32_t> ids(rest.size() / 4);
        if (!ids.empty()) std::memcpy(ids.data(), rest.data(), ids.size() * 4);
        for (const int32_t id : ids) {
            if (id < 0 || static_cast<size_t>(id) >= tok.vocab_size()) continue;
            (void)tok.token_piece(id, options.render_special);
            (void)tok.token_text(id);
            (void)tok.token_type(id);
        }
        (void)tok.decode(ids, options);  // throws Failure for an id outside the vocabulary
        return;
    }
    const std::string_view text(reinterpret_cast<const char*>(rest.data()), rest.size());
    const std::vector<int32_t> ids = tok.encode(text, (flags & 1) != 0, (flags & 2) != 0);
    const std::string back = tok.decode(ids, options);
    for (const int32_t id : ids) {
        if (id < 0 || static_cast<size_t>(id) >= tok.vocab_size()) __builtin_trap();  // encode made an id that does not exist
    }
    (void)back.size();
}

}  // namespace llmq::fuzz
