// SentencePiece BPE: a priority queue over adjacent symbol pairs keeps a long text at
// O(n log n); stale pairs are recognised on pop by their length no longer matching. Where the
// vocabulary allows it (see independent_words_), text is cut into words first and repeated
// words are taken from a cache: same ids, far less work on natural text.
#include "runtime/tokenizer_spm.hpp"

#include <algorithm>
#include <cstdio>
#include <unordered_map>

#include "llmq/error.hpp"
#include "runtime/tokenizer_unicode.hpp"

namespace llmq::tokenizer_detail {

namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581 "▁"

struct Symbol {
    uint32_t start;
    uint32_t len;  // 0 once merged into its left neighbour
    int32_t prev;
    int32_t next;
};

struct Bigram {
    float score;
    uint32_t left;
    uint32_t right;
    uint32_t len;  // bytes of both symbols when queued
};

// Heap order: highest score on top, the leftmost pair among equal scores.
bool lower_priority(const Bigram& a, const Bigram& b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
}

bool is_space_mark(std::string_view text, size_t pos, size_t len) {
    return len == kSpaceMark.size() && text.compare(pos, len, kSpaceMark) == 0;
}

// Whether some token has a "▁" right after a character other than "▁" (characters counted as
// the encoder counts them).
bool has_inner_space_mark(std::string_view token) {
    bool prev_is_mark = true;  // a leading "▁" is allowed
    for (size_t pos = 0; pos < token.size();) {
        const size_t n = utf8_step(token, pos);
        const bool mark = is_space_mark(token, pos, n);
        if (mark && !prev_is_mark) return true;
        prev_is_mark = mark;
        pos += n;
    }
    return false;
}

constexpr size_t kMaxCachedWord = 64;         // longer words are rare: merge them directly
constexpr size_t kMaxCacheEntries = 1 << 16;  // bounds memory on text that never repeats

}  // namespace

struct SpmEncoder::Scratch {
    std::vector<Symbol> symbols;
    std::vector<Bigram> heap;
};

SpmEncoder::SpmEncoder(const Vocab& vocab) {
    for (int b = 0; b < 256; ++b) {
        char hex[8];
        std::snprintf(hex, sizeof hex, "<0x%02X>", b);
        int32_t id = vocab.find(hex);
        if (id < 0) id = vocab.find(std::string_view(reinterpret_cast<const char*>(&b), 1));
        byte_tokens_[b] = id >= 0 ? id : vocab.unk;
    }
    independent_words_ = std::none_of(vocab.tokens.begin(), vocab.tokens.end(), [](const std::string& t) { return has_inner_space_mark(t); });
}

void SpmEncoder::encode(const Vocab& vocab, std::string_view text, std::vector<int32_t>& out) const {
    if (text.empty()) return;
    if (text.size() >= 0x7FFFFFFFu)
        fail(ExitCode::Unsupported, "text of " + std::to_string(text.size()) + " bytes is too long to tokenize at once",
             "split it into pieces under 2 GiB");
    Scratch scratch;
    if (!independent_words_) {
        encode_span(vocab, text, scratch, out);
        return;
    }

    struct Range {
        uint32_t begin;
        uint32_t end;
    };
    std::unordered_map<std::string_view, Range> cache;
    std::vector<int32_t> cached_ids;
    // A word is a run of "▁" and the characters up to the next "▁".
    size_t word_start = 0;
    bool prev_is_mark = true;
    const auto flush = [&](size_t word_end) {
        const std::string_view word = text.substr(word_start, word_end - word_start);
        if (word.size() > kMaxCachedWord) {
            encode_span(vocab, word, scratch, out);
            return;
        }
        if (const auto it = cache.find(word); it != cache.end()) {
            out.insert(out.end(), cached_ids.begin() + it->second.begin, cached_ids.begin() + it->second.end);
            return;
        }
        const size_t first = out.size();
        encode_span(vocab, word, scratch, out);
        if (cache.size() < kMaxCacheEntries) {
            const auto begin = static_cast<uint32_t>(cached_ids.size());
            cached_ids.insert(cached_ids.end(), out.begin() + static_cast<std::ptrdiff_t>(first), out.end());
            cache.emplace(word, Range{begin, static_cast<uint32_t>(cached_ids.size())});
        }
    };
    for (size_t pos = 0; pos < text.size();) {
        const size_t n = utf8_step(text, pos);
        const bool mark = is_space_mark(text, pos, n);
        if (mark && !prev_is_mark) {
            flush(pos);
            word_start = pos;
        }
        prev_is_mark = mark;
        pos += n;
    }
    flush(text.size());
}

void SpmEncoder::encode_span(const Vocab& vocab, std::string_view text, Scratch& scratch, std::vector<int32_t>& out) const {
    if (text.empty()) return;
    std::vector<Symbol>& symbols = scratch.symbols;
    std::vector<Bigram>& heap = scratch.heap;
    symbols.clear();
    heap.clear();
    for (size_t pos = 0; pos < text.size();) {
        const size_t n = utf8_step(text, pos);
        const auto index = static_cast<int32_t>(symbols.size());
        symbols.push_back({static_cast<uint32_t>(pos), static_cast<uint32_t>(n), index - 1, index + 1});
        pos += n;
    }
    symbols.back().next = -1;

    const auto try_add = [&](int32_t left, int32_t right) {
        if (left < 0 || right < 0) return;
        const Symbol& l = symbols[left];
        const Symbol& r = symbols[right];
        const uint32_t len = l.len + r.len;
        const int32_t id = vocab.find(text.substr(l.start, len));  // adjacent, so contiguous
        if (id < 0) return;
        heap.push_back({vocab.scores[id], static_cast<uint32_t>(left), static_cast<uint32_t>(right), len});
        std::push_heap(heap.begin(), heap.end(), lower_priority);
    };
    for (size_t i = 1; i < symbols.size(); ++i) try_add(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));

    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), lower_priority);
        const Bigram top = heap.back();
        heap.pop_back();
        Symbol& l = symbols[top.left];
        Symbol& r = symbols[top.right];
        // A symbol only grows by absorbing its right neighbour, so an unchanged pair is exactly
        // one whose two symbols are alive and still add up to the queued length.
        if (l.len == 0 || r.len == 0 || l.len + r.len != top.len) continue;
        l.len += r.len;
        r.len = 0;
        l.next = r.next;
        if (r.next >= 0) symbols[r.next].prev = static_cast<int32_t>(top.left);
        try_add(l.prev, static_cast<int32_t>(top.left));
        try_add(static_cast<int32_t>(top.left), l.next);
    }

    for (int32_t i = 0; i >= 0; i = symbols[i].next) {
        const Symbol& s = symbols[i];
        const int32_t id = vocab.find(text.substr(s.start, s.len));
        if (id >= 0) {
            out.push_back(id);
            continue;
        }
        // Only unmerged characters can miss the vocabulary: spell them as bytes.
        for (uint32_t k = 0; k < s.len; ++k) {
            const int32_t b = byte_tokens_[static_cast<uint8_t>(text[s.start + k])];
            if (b >= 0) out.push_back(b);
        }
    }
}

}  // namespace llmq::tokenizer_detail
