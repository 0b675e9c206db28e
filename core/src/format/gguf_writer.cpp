// Streaming GGUF writer. Every output size is known up front, so the header (with final
// offsets) goes out first and the tensor bytes follow in order: the sink never seeks. The
// writer refuses anything the validating reader (and ggml) would reject, so llmq cannot
// produce a file it cannot read back.
#include <algorithm>
#include <array>
#include <cstring>
#include <unordered_set>

#include "format/gguf_limits.hpp"
#include "llmq/error.hpp"
#include "llmq/format/gguf.hpp"

namespace llmq::gguf {
namespace {

namespace lim = limits;

// Built by appending: GCC 12 raises a false -Wrestrict on "'" + std::string(s) + "'".
std::string quoted(std::string_view s) {
    std::string out(1, '\'');
    out.append(s);
    out.push_back('\'');
    return out;
}

[[noreturn]] void misuse(const std::string& problem) {
    fail(ExitCode::General, "internal: GGUF writer: " + problem);
}

// Content a GGUF file cannot carry (for instance a tensor name from a foreign checkpoint that
// is too long) is the input's problem, not a bug.
[[noreturn]] void cannot_hold(const std::string& problem) {
    fail(ExitCode::Unsupported, "cannot write GGUF: " + problem);
}

class Encoder {
public:
    std::vector<uint8_t> bytes;

    template <class T>
    void put(T v) {
        const size_t at = bytes.size();
        bytes.resize(at + sizeof(T));
        std::memcpy(bytes.data() + at, &v, sizeof(T));
    }
    void put_raw(std::span<const uint8_t> raw) { bytes.insert(bytes.end(), raw.begin(), raw.end()); }
    void put_string(std::string_view s, std::string_view what) {
        if (s.size() > lim::kMaxString) cannot_hold(std::string(what) + " is longer than 2^30 bytes");
        put<uint64_t>(s.size());
        put_raw(std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
    }
};

void encode_value(Encoder& e, const KeyValue& kv) {
    const Value& v = kv.value;
    e.put<uint32_t>(static_cast<uint32_t>(v.type()));
    switch (v.type()) {
        case ValueType::STRING:
            e.put_string(*v.as_string(), "the value of " + quoted(kv.key));
            return;
        case ValueType::ARRAY: {
            if (v.array_size() > lim::kMaxArray) cannot_hold("array " + quoted(kv.key) + " has more than 2^30 elements");
            e.put<uint32_t>(static_cast<uint32_t>(v.array_type()));
            e.put<uint64_t>(v.array_size());
            if (v.array_type() == ValueType::STRING) {
                for (const auto& s : v.strings()) e.put_string(s, "an element of " + quoted(kv.key));
            } else {
                e.put_raw(v.array_bytes());
            }
            return;
        }
        default: {
            const uint64_t bits = v.scalar_bits();
            std::array<uint8_t, 8> raw{};
            std::memcpy(raw.data(), &bits, raw.size());
            e.put_raw(std::span(raw).first(value_type_size(v.type())));
        }
    }
}

// A general.alignment key that disagrees with the layout gives a file ggml rejects (the
// writer pitfall of reference §1.1), and a non-default layout without the key is misread.
void check_alignment_key(const std::vector<KeyValue>& kv, uint32_t alignment) {
    if (!lim::is_power_of_two(alignment)) misuse("alignment " + std::to_string(alignment) + " is not a power of two");
    const auto it = std::find_if(kv.begin(), kv.end(), [](const KeyValue& e) { return e.key == lim::kAlignmentKey; });
    if (it == kv.end()) {
        if (alignment != kDefaultAlignment) {
            misuse("alignment " + std::to_string(alignment) + " needs a general.alignment key with that value");
        }
        return;
    }
    if (it->value.type() != ValueType::UINT32 || it->value.scalar_bits() != alignment) {
        misuse("general.alignment must be the UINT32 " + std::to_string(alignment) + " the data is laid out with");
    }
}

void check_decl(const TensorDecl& t) {
    const std::string who = "tensor " + quoted(t.name);
    if (t.name.size() > lim::kMaxName) cannot_hold(who + " has a name longer than 63 bytes");
    if (t.n_dims > lim::kMaxDims) cannot_hold(who + " has more than 4 dimensions");
    for (uint32_t d = 0; d < 4; ++d) {
        if (t.ne[d] < 0) misuse(who + " has a negative dimension");
        if (d >= t.n_dims && t.ne[d] != 1) misuse(who + " has dimension " + std::to_string(d) + " beyond n_dims not 1");
    }
}

}  // namespace

uint64_t TensorDecl::nbytes() const {
    const TypeTraits& t = traits(type);
    if (t.block_size <= 0 || ne[0] % t.block_size != 0) {
        cannot_hold("tensor " + quoted(name) + " has row length " + std::to_string(ne[0]) + ", not a multiple of the " + std::string(t.name) +
                    " block size " + std::to_string(t.block_size));
    }
    for (int64_t d : ne)
        if (d < 0) misuse("tensor " + quoted(name) + " has a negative dimension");
    const auto bytes = lim::byte_count(ne, t);
    if (!bytes) cannot_hold("tensor " + quoted(name) + " is larger than 2^64 bytes");
    return *bytes;
}

std::vector<uint8_t> encode_header(const std::vector<KeyValue>& kv, const std::vector<TensorDecl>& tensors, uint32_t alignment) {
    check_alignment_key(kv, alignment);
    Encoder e;
    e.put<uint32_t>(kMagic);
    e.put<uint32_t>(lim::kVersion);
    e.put<uint64_t>(tensors.size());
    e.put<uint64_t>(kv.size());

    std::unordered_set<std::string_view> keys;
    for (const auto& entry : kv) {
        if (entry.key.empty()) misuse("empty metadata key");
        if (!keys.insert(entry.key).second) misuse("duplicate metadata key " + quoted(entry.key));
        e.put_string(entry.key, "a metadata key");
        encode_value(e, entry);
    }

    std::unordered_set<std::string_view> names;
    uint64_t offset = 0;
    for (const auto& t : tensors) {
        check_decl(t);
        if (!names.insert(t.name).second) misuse("duplicate tensor name " + quoted(t.name));
        e.put_string(t.name, "a tensor name");
        e.put<uint32_t>(t.n_dims);
        for (uint32_t d = 0; d < t.n_dims; ++d) e.put<uint64_t>(static_cast<uint64_t>(t.ne[d]));
        e.put<uint32_t>(static_cast<uint32_t>(t.type));
        e.put<uint64_t>(offset);
        const uint64_t padded = lim::pad(t.nbytes(), alignment);
        if (padded < t.nbytes() || __builtin_add_overflow(offset, padded, &offset)) {
            cannot_hold("tensor data larger than 2^64 bytes");
        }
    }
    e.bytes.resize(static_cast<size_t>(lim::pad(e.bytes.size(), alignment)), 0);
    return std::move(e.bytes);
}

Writer::Writer(ByteSink& sink, std::vector<KeyValue> kv, std::vector<TensorDecl> tensors, uint32_t alignment)
    : sink_(sink), tensors_(std::move(tensors)), alignment_(alignment) {
    std::vector<uint8_t> header;
    try {
        header = encode_header(kv, tensors_, alignment_);
    } catch (const Failure& f) {
        fail(f.error().code, sink_.name() + ": " + f.error().message, f.error().suggestion);  // name the output
    }
    data_offset_ = header.size();
    total_size_ = data_offset_;
    for (const auto& t : tensors_) total_size_ += lim::pad(t.nbytes(), alignment_);
    sink_start_ = sink_.bytes_written();
    sink_.write(header);
    skip_empty_tensors();
}

void Writer::skip_empty_tensors() {
    while (current_ < tensors_.size() && tensors_[current_].nbytes() == 0) ++current_;
}

void Writer::write_data(std::span<const uint8_t> bytes) {
    static constexpr std::array<uint8_t, 4096> kZeros{};
    while (!bytes.empty()) {
        if (current_ == tensors_.size()) {
            misuse(sink_.name() + ": " + std::to_string(bytes.size()) + " bytes written after the last tensor's data");
        }
        const uint64_t nbytes = tensors_[current_].nbytes();
        const auto n = static_cast<size_t>(std::min<uint64_t>(nbytes - current_done_, bytes.size()));
        sink_.write(bytes.first(n));
        bytes = bytes.subspan(n);
        current_done_ += n;
        if (current_done_ < nbytes) continue;
        // Tensor complete: zero padding up to the alignment, then on to the next one.
        for (uint64_t pad = lim::pad(nbytes, alignment_) - nbytes; pad > 0;) {
            const auto chunk = static_cast<size_t>(std::min<uint64_t>(pad, kZeros.size()));
            sink_.write(std::span(kZeros).first(chunk));
            pad -= chunk;
        }
        ++current_;
        current_done_ = 0;
        skip_empty_tensors();
    }
}

void Writer::write_data(std::string_view name, std::span<const uint8_t> bytes) {
    if (bytes.empty()) return;
    if (current_ == tensors_.size()) {
        misuse(sink_.name() + ": data for tensor " + quoted(name) + " after every tensor is complete");
    }
    const TensorDecl& t = tensors_[current_];
    if (t.name != name) {
        misuse(sink_.name() + ": data for tensor " + quoted(name) + " while tensor " + quoted(t.name) +
               " is expected (tensors are written in declaration order)");
    }
    if (bytes.size() > t.nbytes() - current_done_) {
        misuse(sink_.name() + ": " + std::to_string(bytes.size()) + " bytes for tensor " + quoted(name) + ", which has " +
               std::to_string(t.nbytes() - current_done_) + " bytes left");
    }
    write_data(bytes);
}

void Writer::finish() {
    if (current_ < tensors_.size()) {
        const TensorDecl& t = tensors_[current_];
        misuse(sink_.name() + ": tensor " + quoted(t.name) + " is incomplete (" + std::to_string(current_done_) + " of " +
               std::to_string(t.nbytes()) + " bytes written)");
    }
    const uint64_t written = sink_.bytes_written() - sink_start_;
    if (written != total_size_) {
        misuse(sink_.name() + ": wrote " + std::to_string(written) + " bytes, expected " + std::to_string(total_size_));
    }
}

}  // namespace llmq::gguf
