// tokenizer.model is a SentencePiece ModelProto in protobuf wire format. Only field 1 (the
// repeated pieces: text, score, type) matters for GGUF, so a small bounds-checked wire reader
// replaces the protobuf library: every length is checked against the bytes that remain.
#include <cstring>

#include "format/hf_internal.hpp"
#include "llmq/error.hpp"

namespace llmq::hf {
namespace {

enum Wire : uint32_t { kVarint = 0, kFixed64 = 1, kLength = 2, kFixed32 = 5 };

class WireReader {
public:
    WireReader(std::span<const uint8_t> bytes, const std::string& who) : bytes_(bytes), who_(who) {}

    bool done() const { return pos_ == bytes_.size(); }

    [[noreturn]] void corrupt(const std::string& problem) const {
        fail(ExitCode::CorruptInput, who_ + ": invalid SentencePiece model: " + problem + " at byte " + std::to_string(pos_),
             "tokenizer.model is damaged or is not a SentencePiece model; download it again");
    }

    uint64_t varint() {
        uint64_t v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (pos_ == bytes_.size()) corrupt("truncated varint");
            const uint8_t b = bytes_[pos_++];
            v |= static_cast<uint64_t>(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return v;
        }
        corrupt("varint longer than 10 bytes");
    }

    // Reads a field key; returns {field number, wire type}.
    std::pair<uint64_t, uint32_t> key() {
        const uint64_t k = varint();
        if ((k >> 3) == 0) corrupt("field number 0");
        return {k >> 3, static_cast<uint32_t>(k & 7)};
    }

    std::span<const uint8_t> bytes_field() {
        const uint64_t n = varint();
        if (n > bytes_.size() - pos_) corrupt("length " + std::to_string(n) + " past the end");
        const auto out = bytes_.subspan(pos_, static_cast<size_t>(n));
        pos_ += static_cast<size_t>(n);
        return out;
    }

    uint32_t fixed32() {
        if (bytes_.size() - pos_ < 4) corrupt("truncated fixed32");
        uint32_t v;
        std::memcpy(&v, bytes_.data() + pos_, 4);
        pos_ += 4;
        return v;
    }

    void skip(uint32_t wire) {
        switch (wire) {
            case kVarint:
                varint();
                return;
            case kFixed64:
                if (bytes_.size() - pos_ < 8) corrupt("truncated fixed64");
                pos_ += 8;
                return;
            case kLength:
                bytes_field();
                return;
            case kFixed32:
                fixed32();
                return;
            default:
                corrupt("unsupported wire type " + std::to_string(wire));
        }
    }

    void expect(uint32_t wire, uint32_t wanted, const char* what) const {
        if (wire != wanted) corrupt(std::string(what) + " has wire type " + std::to_string(wire));
    }

private:
    std::span<const uint8_t> bytes_;
    const std::string& who_;
    size_t pos_ = 0;
};

struct Piece {
    std::string text;
    float score = 0.0f;
    int32_t type = kNormal;
};

Piece read_piece(std::span<const uint8_t> bytes, const std::string& who) {
    WireReader r(bytes, who);
    Piece p;
    while (!r.done()) {
        const auto [field, wire] = r.key();
        if (field == 1) {
            r.expect(wire, kLength, "a piece's text");
            const auto text = r.bytes_field();
            p.text.assign(reinterpret_cast<const char*>(text.data()), text.size());
        } else if (field == 2) {
            r.expect(wire, kFixed32, "a piece's score");
            const uint32_t bits = r.fixed32();
            std::memcpy(&p.score, &bits, 4);  // bit-exact, -0.0 included
        } else if (field == 3) {
            r.expect(wire, kVarint, "a piece's type");
            const uint64_t t = r.varint();
            if (t < 1 || t > 6) r.corrupt("piece type " + std::to_string(t) + " is not a SentencePiece type");
            p.type = static_cast<int32_t>(t);
        } else {
            r.skip(wire);
        }
    }
    return p;
}

// GGUF type of a SentencePiece type. USER_DEFINED pieces count as NORMAL, as in llama.cpp's
// converter, which asks the processor only for unknown/control/unused/byte.
int32_t gguf_type(int32_t spm_type) {
    return spm_type == kUserDefined ? kNormal : spm_type;
}

}  // namespace

Vocab read_sentencepiece(std::span<const uint8_t> bytes, const std::string& who, int64_t vocab_size, std::vector<std::string>& warnings) {
    Vocab v;
    v.model = "llama";
    v.pre = "default";
    v.tokens.reserve(static_cast<size_t>(vocab_size));
    for (int64_t i = 0; i < vocab_size; ++i) v.tokens.push_back("[PAD" + std::to_string(i) + "]");
    v.scores.assign(static_cast<size_t>(vocab_size), -10000.0f);
    v.types.assign(static_cast<size_t>(vocab_size), kUnused);

    WireReader r(bytes, who);
    int64_t n = 0;
    while (!r.done()) {
        const auto [field, wire] = r.key();
        if (field != 1) {
            r.skip(wire);
            continue;
        }
        r.expect(wire, kLength, "a piece");
        const auto piece_bytes = r.bytes_field();
        if (n < vocab_size) {
            Piece p = read_piece(piece_bytes, who);
            v.tokens[static_cast<size_t>(n)] = std::move(p.text);
            v.scores[static_cast<size_t>(n)] = p.score;
            v.types[static_cast<size_t>(n)] = gguf_type(p.type);
        }
        ++n;
    }
    if (n == 0) r.corrupt("no pieces");
    if (n > vocab_size) {
        warnings.push_back(who + ": " + std::to_string(n) + " pieces but config.json vocab_size is " + std::to_string(vocab_size) +
                           "; the pieces beyond it are dropped");
    }
    return v;
}

bool looks_special(std::string_view t) {
    if (t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]") return true;
    if (t.starts_with("<|") && t.ends_with("|>")) return true;
    if (t.starts_with("<\xef\xbd\x9c") && t.ends_with("\xef\xbd\x9c>")) return true;  // <｜ ... ｜>
    return t.starts_with("<unused") && t.ends_with(">");
}

void apply_added_tokens(Vocab& v, const json* tokenizer_config, const json* added_tokens, std::vector<std::string>& warnings) {
    const auto size = static_cast<int64_t>(v.tokens.size());
    if (added_tokens && added_tokens->is_object()) {
        for (const auto& [text, id] : added_tokens->items()) {
            if (!id.is_number_integer() || id.get<int64_t>() < 0) continue;
            const int64_t i = id.get<int64_t>();
            if (i >= size) {
                warnings.push_back("added_tokens.json: token id " + std::to_string(i) + " is beyond the vocabulary; ignored");
                continue;
            }
            v.tokens[static_cast<size_t>(i)] = text;
            v.scores[static_cast<size_t>(i)] = -1000.0f;
            v.types[static_cast<size_t>(i)] = kUserDefined;
        }
    }
    if (!tokenizer_config || !tokenizer_config->is_object()) return;
    const auto decoder = tokenizer_config->find("added_tokens_decoder");
    if (decoder == tokenizer_config->end() || !decoder->is_object()) return;
    for (const auto& [key, entry] : decoder->items()) {
        int64_t i = -1;
        try {
            size_t used = 0;
            i = std::stoll(key, &used);
            if (used != key.size()) i = -1;
        } catch (const std::exception&) {
            i = -1;
        }
        if (i < 0 || !entry.is_object() || !entry.contains("content") || !entry["content"].is_string()) continue;
        if (i >= size) {
            warnings.push_back("tokenizer_config.json: added token id " + std::to_string(i) + " is beyond the vocabulary; ignored");
            continue;
        }
        std::string text = entry["content"].get<std::string>();
        const bool special = entry.contains("special") && entry["special"].is_boolean() && entry["special"].get<bool>();
        if (special || looks_special(text)) {
            v.types[static_cast<size_t>(i)] = kControl;
        } else {
            // User-defined tokens are matched before normalisation: spell their spaces plainly.
            for (size_t at; (at = text.find("\xe2\x96\x81")) != std::string::npos;) text.replace(at, 3, " ");
            v.types[static_cast<size_t>(i)] = kUserDefined;
        }
        v.scores[static_cast<size_t>(i)] = -1000.0f;
        v.tokens[static_cast<size_t>(i)] = std::move(text);
    }
}

}  // namespace llmq::hf
