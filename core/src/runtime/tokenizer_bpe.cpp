// Byte-level BPE: words from the pre-tokenizer, each merged by a priority queue over adjacent
// symbol pairs (lowest merge rank first, leftmost on ties), so no word is ever quadratic.
#include "runtime/tokenizer_bpe.hpp"

#include <algorithm>

#include "llmq/error.hpp"
#include "runtime/tokenizer_unicode.hpp"

namespace llmq::tokenizer_detail {

namespace {

bool printable_byte(uint32_t b) {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

struct ByteMap {
    std::array<uint32_t, 256> to_cp{};
    std::array<int16_t, 324> from_cp{};  // code points 0..323 cover every mapped byte
    ByteMap() {
        from_cp.fill(-1);
        uint32_t next = 256;
        for (uint32_t b = 0; b < 256; ++b) {
            to_cp[b] = printable_byte(b) ? b : next++;
            from_cp[to_cp[b]] = static_cast<int16_t>(b);
        }
    }
};

const ByteMap& byte_map() {
    static const ByteMap map;
    return map;
}

struct Symbol {
    int32_t id;
    uint32_t start;
    uint32_t len;  // 0 once merged into its left neighbour
    int32_t prev;
    int32_t next;
};

struct Bigram {
    int32_t rank;
    int32_t result;
    uint32_t left;
    uint32_t right;
    uint32_t len;
};

constexpr size_t kMaxCachedWord = 64;         // longer words are rare: merge them directly
constexpr size_t kMaxCacheEntries = 1 << 16;  // bounds memory on text that never repeats

// Heap order: lowest rank on top, the leftmost pair among equal ranks.
bool lower_priority(const Bigram& a, const Bigram& b) {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
}

}  // namespace

uint32_t byte_to_codepoint(uint8_t byte) {
    return byte_map().to_cp[byte];
}

int codepoint_to_byte(uint32_t cp) {
    return cp < 324 ? byte_map().from_cp[cp] : -1;
}

BpeEncoder::BpeEncoder(const Vocab& vocab, PreTokenizer pre, bool ignore_merges) : pre_(pre), ignore_merges_(ignore_merges), n_tokens_(vocab.size()) {
    std::unordered_map<std::string, int32_t> extra;  // strings merges use that are no token
    const auto symbol_of = [&](std::string_view s) {
        const int32_t id = vocab.find(s);
        if (id >= 0) return id;
        const auto [it, inserted] = extra.try_emplace(std::string(s), n_tokens_ + static_cast<int32_t>(extra.size()));
        return it->second;
    };
    for (int b = 0; b < 256; ++b) {
        append_utf8(byte_chars_[b], byte_to_codepoint(static_cast<uint8_t>(b)));
        byte_symbol_[b] = symbol_of(byte_chars_[b]);
        const int32_t id = vocab.find(byte_chars_[b]);
        byte_token_[b] = id >= 0 ? id : vocab.unk;
    }
    merges_.reserve(vocab.merges.size());
    std::string joined;
    for (size_t rank = 0; rank < vocab.merges.size(); ++rank) {
        const std::string& line = vocab.merges[rank];
        // The separator is the first space after the first character: a left part never
        // starts with a space in a byte-level vocabulary (spaces are mapped to 'Ġ').
        const size_t space = line.find(' ', 1);
        if (space == std::string::npos)
            fail(ExitCode::CorruptInput,
                 vocab.origin + ": tokenizer.ggml.merges entry " + std::to_string(rank) + " ('" + line + "') is not two strings separated by a space",
                 "the vocabulary keys are damaged; reconvert the model");
        const std::string_view left(line.data(), space);
        const std::string_view right(line.data() + space + 1, line.size() - space - 1);
        joined.assign(left);
        joined.append(right);
        const int32_t l = symbol_of(left);
        const int32_t r = symbol_of(right);
        const int32_t result = symbol_of(joined);
        merges_.try_emplace(pair_key(l, r), Merge{static_cast<int32_t>(rank), result});  // first rank wins
    }
}

void BpeEncoder::encode(const Vocab& vocab, std::string_view text, std::vector<int32_t>& out) const {
    if (text.size() >= 0x7FFFFFFFu)
        fail(ExitCode::Unsupported, "text of " + std::to_string(text.size()) + " bytes is too long to tokenize at once",
             "split it into pieces under 2 GiB");
    // Natural text repeats its words: merge each distinct word once per call.
    struct Range {
        uint32_t begin;
        uint32_t end;
    };
    std::unordered_map<std::string_view, Range> cache;
    std::vector<int32_t> cached_ids;
    for (size_t pos = 0; pos < text.size();) {
        const size_t end = pre_token_end(text, pos, pre_);
        const std::string_view word = text.substr(pos, end - pos);
        pos = end;
        if (word.size() == 1 || word.size() > kMaxCachedWord) {
            encode_word(vocab, word, out);
            continue;
        }
        if (const auto it = cache.find(word); it != cache.end()) {
            out.insert(out.end(), cached_ids.begin() + it->second.begin, cached_ids.begin() + it->second.end);
            continue;
        }
        const size_t first = out.size();
        encode_word(vocab, word, out);
        if (cache.size() < kMaxCacheEntries) {
            const auto begin = static_cast<uint32_t>(cached_ids.size());
            cached_ids.insert(cached_ids.end(), out.begin() + static_cast<std::ptrdiff_t>(first), out.end());
            cache.emplace(word, Range{begin, static_cast<uint32_t>(cached_ids.size())});
        }
    }
}

void BpeEncoder::encode_word(const Vocab& vocab, std::string_view word, std::vector<int32_t>& out) const {
    if (word.size() == 1) {  // the commonest case for punctuation and spaces: no merge possible
        const auto b = static_cast<uint8_t>(word[0]);
        if (byte_symbol_[b] < n_tokens_) {
            out.push_back(byte_symbol_[b]);
        } else if (byte_token_[b] >= 0) {
            out.push_back(byte_token_[b]);
        }
        return;
    }
    if (ignore_merges_) {
        // Llama 3 vocabularies take a word that is a token as it is, whatever the merges say.
        std::string mapped;
        for (char c : word) mapped += byte_chars_[static_cast<uint8_t>(c)];
        const int32_t id = vocab.find(mapped);
        if (id >= 0) {
            out.push_back(id);
            return;
        }
    }

    // Small per-thread buffers: words are short and many, so reuse beats reallocating.
    thread_local std::vector<Symbol> symbols;
    thread_local std::vector<Bigram> heap;
    symbols.clear();
    heap.clear();
    for (size_t i = 0; i < word.size(); ++i) {
        const auto index = static_cast<int32_t>(i);
        symbols.push_back(
            {byte_symbol_[static_cast<uint8_t>(word[i])], static_cast<uint32_t>(i), 1, index - 1, i + 1 < word.size() ? index + 1 : -1});
    }
    const auto try_add = [&](int32_t left, int32_t right) {
        if (left < 0 || right < 0) return;
        const Symbol& l = symbols[left];
        const Symbol& r = symbols[right];
        const auto it = merges_.find(pair_key(l.id, r.id));
        if (it == merges_.end()) return;
        heap.push_back({it->second.rank, it->second.result, static_cast<uint32_t>(left), static_cast<uint32_t>(right), l.len + r.len});
        std::push_heap(heap.begin(), heap.end(), lower_priority);
    };
    for (size_t i = 1; i < symbols.size(); ++i) try_add(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));

    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), lower_priority);
        const Bigram top = heap.back();
        heap.pop_back();
        Symbol& l = symbols[top.left];
        Symbol& r = symbols[top.right];
        if (l.len == 0 || r.len == 0 || l.len + r.len != top.len) continue;  // stale pair
        l.id = top.result;
        l.len += r.len;
        r.len = 0;
        l.next = r.next;
        if (r.next >= 0) symbols[r.next].prev = static_cast<int32_t>(top.left);
        try_add(l.prev, static_cast<int32_t>(top.left));
        try_add(static_cast<int32_t>(top.left), l.next);
    }

    for (int32_t i = 0; i >= 0; i = symbols[i].next) {
        const Symbol& s = symbols[i];
        if (s.id < n_tokens_) {
            out.push_back(s.id);
            continue;
        }
        // A merged string the vocabulary lacks: spell it byte by byte.
        for (uint32_t k = 0; k < s.len; ++k) {
            const int32_t b = byte_token_[static_cast<uint8_t>(word[s.start + k])];
            if (b >= 0) out.push_back(b);
        }
    }
}

}  // namespace llmq::tokenizer_detail
