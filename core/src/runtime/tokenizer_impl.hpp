// The shared, immutable state behind a Tokenizer: its vocabulary and the encoder of its kind.
#pragma once

#include <optional>
#include <string>

#include "runtime/tokenizer_bpe.hpp"
#include "runtime/tokenizer_spm.hpp"
#include "runtime/tokenizer_vocab.hpp"

namespace llmq::tokenizer_detail {

struct Impl {
    Vocab vocab;
    std::optional<SpmEncoder> spm;
    std::optional<BpeEncoder> bpe;

    explicit Impl(Vocab v);
    // Encoders were built from this vocab: the object stays where it was made.
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;
};

// The text one token renders as (no leading-space removal). id must be in range.
std::string render_piece(const Vocab& vocab, int32_t id, bool render_special);

}  // namespace llmq::tokenizer_detail
