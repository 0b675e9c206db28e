// Validating GGUF header reader. It follows ggml's own reader rules (reference/ggml-formats.md
// §1) and is written for hostile input: every count or length is compared with the bytes left
// in the file before anything is reserved, and every size product is overflow-checked.
#include <limits>
#include <string>
#include <unordered_set>

#include "format/gguf_limits.hpp"
#include "format/source_cursor.hpp"
#include "llmq/format/gguf.hpp"

namespace llmq::gguf {
namespace {

using format::SourceCursor;
namespace lim = limits;

// Smallest encodings, used to bound counts before reserving: a KV is a non-empty key
// (8-byte length + 1 byte), a 4-byte type and at least a 1-byte value; a tensor info is a
// name (8-byte length), n_dims, type and offset.
constexpr uint64_t kMinKvBytes = 8 + 1 + 4 + 1;
constexpr uint64_t kMinTensorBytes = 8 + 4 + 4 + 8;

// Built by appending: GCC 12 raises a false -Wrestrict on "'" + std::string(s) + "'".
std::string quoted(std::string_view s) {
    std::string out(1, '\'');
    out.append(s);
    out.push_back('\'');
    return out;
}

class HeaderParser {
public:
    explicit HeaderParser(const ByteSource& source) : in_(source, "GGUF") {}

    Header parse() {
        Header h;
        read_preamble(h);
        h.kv.reserve(static_cast<size_t>(n_kv_));
        std::unordered_set<std::string> keys;
        for (uint64_t i = 0; i < n_kv_; ++i) h.kv.push_back(read_kv(i, keys));
        h.alignment = read_alignment(h);
        h.tensors.reserve(static_cast<size_t>(n_tensors_));
        std::unordered_set<std::string> names;
        for (uint64_t i = 0; i < n_tensors_; ++i) h.tensors.push_back(read_tensor_info(names));
        place_data(h);
        return h;
    }

private:
    [[noreturn]] void corrupt(const std::string& problem) const { in_.fail_here(problem); }

    [[noreturn]] void unsupported(const std::string& problem, std::string hint) const {
        fail(ExitCode::Unsupported, in_.name() + ": unsupported GGUF: " + problem, std::move(hint));
    }

    void read_preamble(Header& h) {
        const auto magic = in_.get<uint32_t>("the magic number");
        if (magic != kMagic) corrupt("not a GGUF file (the file does not start with \"GGUF\")");
        h.version = in_.get<uint32_t>("the version");
        if (h.version == 1) unsupported("GGUF version 1 is no longer supported", "convert the model again with a current llama.cpp");
        if (h.version > lim::kVersion) {
            if ((h.version & 0xFFFF) == 0) {
                unsupported("version field " + std::to_string(h.version) + " looks byte-swapped: a big-endian GGUF file, which llmq does not read",
                            "use a little-endian GGUF file");
            }
            unsupported("GGUF version " + std::to_string(h.version) + " is newer than the supported version 3", "update llmq");
        }
        if (h.version < lim::kMinVersion) corrupt("GGUF version " + std::to_string(h.version) + " is invalid");
        n_tensors_ = in_.get<uint64_t>("the tensor count");
        n_kv_ = in_.get<uint64_t>("the metadata count");
        constexpr auto kMaxCount = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
        if (n_tensors_ > kMaxCount) corrupt("negative tensor count " + std::to_string(static_cast<int64_t>(n_tensors_)));
        if (n_kv_ > kMaxCount) corrupt("negative metadata count " + std::to_string(static_cast<int64_t>(n_kv_)));
        // Both lists must fit in what is left, together, before either is reserved.
        const uint64_t left = in_.remaining();
        if (!in_.fits(n_kv_, kMinKvBytes) || !in_.fits(n_tensors_, kMinTensorBytes) || n_kv_ * kMinKvBytes > left - n_tensors_ * kMinTensorBytes) {
            corrupt("header claims " + std::to_string(n_tensors_) + " tensors and " + std::to_string(n_kv_) +
                    " metadata entries, more than the remaining " + std::to_string(left) + " bytes can hold");
        }
    }

    std::string read_string(const char* what) {
        const auto length = in_.get<uint64_t>(what);
        if (length > lim::kMaxString) {
            corrupt(std::string(what) + " claims a string of " + std::to_string(length) + " bytes (limit 2^30)");
        }
        return in_.get_string(length, what);
    }

    ValueType read_type(const std::string& key, bool element) {
        const auto id = in_.get<uint32_t>(element ? "an array element type" : "a value type");
        if (id > static_cast<uint32_t>(ValueType::FLOAT64)) {
            corrupt("key " + quoted(key) + " has unknown " + (element ? "array element" : "value") + " type " + std::to_string(id));
        }
        return static_cast<ValueType>(id);
    }

    KeyValue read_kv(uint64_t index, std::unordered_set<std::string>& keys) {
        KeyValue kv;
        kv.key = read_string("a metadata key");
        if (kv.key.empty()) corrupt("metadata entry " + std::to_string(index) + " has an empty key");
        if (!keys.insert(kv.key).second) corrupt("duplicate metadata key " + quoted(kv.key));
        const ValueType type = read_type(kv.key, false);
        kv.value = type == ValueType::ARRAY ? read_array(kv.key) : read_scalar(type, kv.key);
        return kv;
    }

    Value read_scalar(ValueType type, const std::string& key) {
        constexpr const char* what = "a metadata value";
        switch (type) {
            case ValueType::UINT8:
                return Value::u8(in_.get<uint8_t>(what));
            case ValueType::INT8:
                return Value::i8(in_.get<int8_t>(what));
            case ValueType::UINT16:
                return Value::u16(in_.get<uint16_t>(what));
            case ValueType::INT16:
                return Value::i16(in_.get<int16_t>(what));
            case ValueType::UINT32:
                return Value::u32(in_.get<uint32_t>(what));
            case ValueType::INT32:
                return Value::i32(in_.get<int32_t>(what));
            case ValueType::FLOAT32:
                return Value::f32(in_.get<float>(what));
            // ggml reads a bool as a byte and treats any non-zero value as true; so do we.
            case ValueType::BOOL:
                return Value::boolean(in_.get<uint8_t>(what) != 0);
            case ValueType::STRING:
                return Value::string(read_string("a string value"));
            case ValueType::UINT64:
                return Value::u64(in_.get<uint64_t>(what));
            case ValueType::INT64:
                return Value::i64(in_.get<int64_t>(what));
            case ValueType::FLOAT64:
                return Value::f64(in_.get<double>(what));
            case ValueType::ARRAY:
                break;
        }
        corrupt("key " + quoted(key) + " has an unreadable value");
    }

    Value read_array(const std::string& key) {
        const ValueType elem = read_type(key, true);
        if (elem == ValueType::ARRAY) corrupt("key " + quoted(key) + " holds a nested array, which ggml does not read");
        const auto count = in_.get<uint64_t>("an array length");
        if (count > lim::kMaxArray) {
            corrupt("key " + quoted(key) + " claims an array of " + std::to_string(count) + " elements (limit 2^30)");
        }
        const uint64_t min_bytes = elem == ValueType::STRING ? 8 : value_type_size(elem);
        if (!in_.fits(count, min_bytes)) {
            corrupt("key " + quoted(key) + " claims an array of " + std::to_string(count) + " " + std::string(value_type_name(elem)) +
                    " elements, more than the remaining " + std::to_string(in_.remaining()) + " bytes can hold");
        }
        if (elem == ValueType::STRING) {
            std::vector<std::string> items;
            items.reserve(static_cast<size_t>(count));
            for (uint64_t i = 0; i < count; ++i) items.push_back(read_string("an array string"));
            return Value::string_array(std::move(items));
        }
        // Bool arrays keep their bytes as stored (no normalisation), like ggml.
        std::vector<uint8_t> bytes(static_cast<size_t>(count * min_bytes));
        in_.read(bytes, "array elements");
        return Value::array(elem, std::move(bytes));
    }

    uint32_t read_alignment(const Header& h) const {
        const Value* v = h.find(lim::kAlignmentKey);
        if (!v) return kDefaultAlignment;
        if (v->type() != ValueType::UINT32) {
            corrupt(std::string(lim::kAlignmentKey) + " must be a UINT32, found " + std::string(value_type_name(v->type())));
        }
        const auto alignment = static_cast<uint32_t>(v->scalar_bits());
        if (!lim::is_power_of_two(alignment)) {
            corrupt(std::string(lim::kAlignmentKey) + " = " + std::to_string(alignment) + " is not a power of two");
        }
        return alignment;
    }

    TensorInfo read_tensor_info(std::unordered_set<std::string>& names) {
        TensorInfo t;
        t.name = read_string("a tensor name");
        const std::string who = "tensor " + quoted(t.name);
        if (t.name.size() > lim::kMaxName) {
            corrupt(who + " has a name of " + std::to_string(t.name.size()) + " bytes (limit 63)");
        }
        if (!names.insert(t.name).second) corrupt("duplicate tensor name " + quoted(t.name));
        t.n_dims = in_.get<uint32_t>("a tensor's dimension count");
        if (t.n_dims > lim::kMaxDims) corrupt(who + " has " + std::to_string(t.n_dims) + " dimensions (limit 4)");
        for (uint32_t d = 0; d < t.n_dims; ++d) {
            const auto dim = in_.get<uint64_t>("a tensor dimension");
            if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
                corrupt(who + " has negative dimension " + std::to_string(static_cast<int64_t>(dim)));
            }
            t.ne[d] = static_cast<int64_t>(dim);
        }
        const auto type_id = in_.get<uint32_t>("a tensor type");
        const TypeTraits* traits = find_traits(type_id);
        if (!traits) {
            corrupt(who + " has unknown or removed ggml type id " + std::to_string(type_id));
        }
        t.type = traits->type;
        if (t.ne[0] % traits->block_size != 0) {
            corrupt(who + " has row length " + std::to_string(t.ne[0]) + ", not a multiple of the " + std::string(traits->name) + " block size " +
                    std::to_string(traits->block_size));
        }
        if (!lim::element_count(t.ne)) corrupt(who + " has more elements than fit in 64 bits");
        const auto nbytes = lim::byte_count(t.ne, *traits);
        if (!nbytes) corrupt(who + " has more bytes than fit in 64 bits");
        t.nbytes = *nbytes;
        t.offset = in_.get<uint64_t>("a tensor offset");
        return t;
    }

    // The data section starts at the next alignment boundary; ggml requires each tensor at
    // exactly the running sum of the padded sizes before it, and the padded data in the file.
    void place_data(Header& h) const {
        const uint64_t alignment = h.alignment;
        const uint64_t size = in_.size();
        h.data_offset = lim::pad(in_.position(), alignment);
        if (h.tensors.empty()) return;
        if (h.data_offset > size) {
            corrupt("truncated: the header ends at " + std::to_string(in_.position()) + " but its padding runs past the end of the file (" +
                    std::to_string(size) + " bytes)");
        }
        const uint64_t room = size - h.data_offset;
        uint64_t expected = 0;
        for (const auto& t : h.tensors) {
            const std::string who = "tensor " + quoted(t.name);
            // `expected` is aligned, so this also rejects every misaligned offset.
            if (t.offset != expected) {
                const std::string why = t.offset % alignment != 0 ? "not a multiple of the alignment " + std::to_string(alignment)
                                                                  : "tensors must follow each other in order, padded to " + std::to_string(alignment);
                corrupt(who + " has offset " + std::to_string(t.offset) + ", expected " + std::to_string(expected) + " (" + why + ")");
            }
            // expected <= room here, so neither subtraction nor the padded sum can wrap.
            if (t.nbytes > room - expected || lim::pad(t.nbytes, alignment) > room - expected) {
                corrupt("truncated: " + who + " needs " + std::to_string(t.nbytes) + " bytes (padded to " + std::to_string(alignment) +
                        ") at file offset " + std::to_string(h.data_offset + expected) + " but the file has " + std::to_string(size) + " bytes");
            }
            expected += lim::pad(t.nbytes, alignment);
        }
    }

    SourceCursor in_;
    uint64_t n_tensors_ = 0;
    uint64_t n_kv_ = 0;
};

}  // namespace

Header read_header(const ByteSource& source) {
    return HeaderParser(source).parse();
}

}  // namespace llmq::gguf
