// GGUF metadata values: factories, typed accessors and the lookups of a parsed header.
#include <bit>
#include <cstring>
#include <limits>

#include "llmq/error.hpp"
#include "llmq/format/gguf.hpp"

namespace llmq::gguf {

static_assert(std::endian::native == std::endian::little, "GGUF payloads are stored little-endian");

std::string_view value_type_name(ValueType t) {
    switch (t) {
        case ValueType::UINT8:
            return "UINT8";
        case ValueType::INT8:
            return "INT8";
        case ValueType::UINT16:
            return "UINT16";
        case ValueType::INT16:
            return "INT16";
        case ValueType::UINT32:
            return "UINT32";
        case ValueType::INT32:
            return "INT32";
        case ValueType::FLOAT32:
            return "FLOAT32";
        case ValueType::BOOL:
            return "BOOL";
        case ValueType::STRING:
            return "STRING";
        case ValueType::ARRAY:
            return "ARRAY";
        case ValueType::UINT64:
            return "UINT64";
        case ValueType::INT64:
            return "INT64";
        case ValueType::FLOAT64:
            return "FLOAT64";
    }
    return "UNKNOWN";
}

size_t value_type_size(ValueType t) {
    switch (t) {
        case ValueType::UINT8:
        case ValueType::INT8:
        case ValueType::BOOL:
            return 1;
        case ValueType::UINT16:
        case ValueType::INT16:
            return 2;
        case ValueType::UINT32:
        case ValueType::INT32:
        case ValueType::FLOAT32:
            return 4;
        case ValueType::UINT64:
        case ValueType::INT64:
        case ValueType::FLOAT64:
            return 8;
        case ValueType::STRING:
        case ValueType::ARRAY:
            return 0;
    }
    return 0;
}

namespace {

bool is_integer(ValueType t) {
    switch (t) {
        case ValueType::UINT8:
        case ValueType::INT8:
        case ValueType::UINT16:
        case ValueType::INT16:
        case ValueType::UINT32:
        case ValueType::INT32:
        case ValueType::UINT64:
        case ValueType::INT64:
            return true;
        default:
            return false;
    }
}

bool is_signed(ValueType t) {
    return t == ValueType::INT8 || t == ValueType::INT16 || t == ValueType::INT32 || t == ValueType::INT64;
}

// Sign-extends the low bytes of a stored bit pattern of an integer type. Returns false for a
// UINT64 above INT64_MAX, which has no int64 value.
bool bits_to_int(ValueType t, uint64_t bits, int64_t& out) {
    switch (t) {
        case ValueType::INT8:
            out = static_cast<int8_t>(bits);
            return true;
        case ValueType::INT16:
            out = static_cast<int16_t>(bits);
            return true;
        case ValueType::INT32:
            out = static_cast<int32_t>(bits);
            return true;
        case ValueType::INT64:
            out = static_cast<int64_t>(bits);
            return true;
        case ValueType::UINT64:
            if (bits > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
            out = static_cast<int64_t>(bits);
            return true;
        default:
            out = static_cast<int64_t>(bits);
            return true;  // narrower unsigned types
    }
}

std::optional<double> bits_to_double(ValueType t, uint64_t bits) {
    if (t == ValueType::FLOAT32) return static_cast<double>(std::bit_cast<float>(static_cast<uint32_t>(bits)));
    if (t == ValueType::FLOAT64) return std::bit_cast<double>(bits);
    if (t == ValueType::UINT64) return static_cast<double>(bits);
    if (!is_integer(t)) return std::nullopt;
    int64_t v = 0;
    bits_to_int(t, bits, v);
    return static_cast<double>(v);
}

}  // namespace

// Scalars keep the type tag plus the zero-extended little-endian bit pattern.
Value Value::u8(uint8_t v) {
    Value o;
    o.type_ = ValueType::UINT8;
    o.bits_ = v;
    return o;
}
Value Value::i8(int8_t v) {
    Value o;
    o.type_ = ValueType::INT8;
    o.bits_ = static_cast<uint8_t>(v);
    return o;
}
Value Value::u16(uint16_t v) {
    Value o;
    o.type_ = ValueType::UINT16;
    o.bits_ = v;
    return o;
}
Value Value::i16(int16_t v) {
    Value o;
    o.type_ = ValueType::INT16;
    o.bits_ = static_cast<uint16_t>(v);
    return o;
}
Value Value::u32(uint32_t v) {
    Value o;
    o.type_ = ValueType::UINT32;
    o.bits_ = v;
    return o;
}
Value Value::i32(int32_t v) {
    Value o;
    o.type_ = ValueType::INT32;
    o.bits_ = static_cast<uint32_t>(v);
    return o;
}
Value Value::f32(float v) {
    Value o;
    o.type_ = ValueType::FLOAT32;
    o.bits_ = std::bit_cast<uint32_t>(v);
    return o;
}
Value Value::u64(uint64_t v) {
    Value o;
    o.type_ = ValueType::UINT64;
    o.bits_ = v;
    return o;
}
Value Value::i64(int64_t v) {
    Value o;
    o.type_ = ValueType::INT64;
    o.bits_ = static_cast<uint64_t>(v);
    return o;
}
Value Value::f64(double v) {
    Value o;
    o.type_ = ValueType::FLOAT64;
    o.bits_ = std::bit_cast<uint64_t>(v);
    return o;
}

Value Value::boolean(bool v) {
    Value out;
    out.type_ = ValueType::BOOL;
    out.bits_ = v ? 1 : 0;
    return out;
}

Value Value::string(std::string v) {
    Value out;
    out.type_ = ValueType::STRING;
    out.str_ = std::move(v);
    return out;
}

Value Value::string_array(std::vector<std::string> items) {
    Value out;
    out.type_ = ValueType::ARRAY;
    out.elem_ = ValueType::STRING;
    out.count_ = items.size();
    out.strings_ = std::move(items);
    return out;
}

Value Value::array(ValueType elem, std::vector<uint8_t> bytes) {
    const size_t size = value_type_size(elem);
    if (size == 0) {
        fail(ExitCode::General,
             "internal: GGUF array of " + std::string(value_type_name(elem)) + " must be built with string_array (nested arrays are not allowed)");
    }
    if (bytes.size() % size != 0) {
        fail(ExitCode::General, "internal: GGUF array of " + std::string(value_type_name(elem)) + " with " + std::to_string(bytes.size()) +
                                    " bytes, not a whole number of elements");
    }
    Value out;
    out.type_ = ValueType::ARRAY;
    out.elem_ = elem;
    out.count_ = bytes.size() / size;
    out.raw_ = std::move(bytes);
    return out;
}

template <class T>
Value Value::array_of(ValueType elem, std::span<const T> items) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (value_type_size(elem) != sizeof(T)) {
        fail(ExitCode::General,
             "internal: GGUF array of " + std::string(value_type_name(elem)) + " built from elements of " + std::to_string(sizeof(T)) + " bytes");
    }
    std::vector<uint8_t> bytes(items.size_bytes());
    if (!bytes.empty()) std::memcpy(bytes.data(), items.data(), bytes.size());
    return array(elem, std::move(bytes));
}

// array_of is defined here, so every element type a caller may use is instantiated here.
template Value Value::array_of<uint8_t>(ValueType, std::span<const uint8_t>);
template Value Value::array_of<int8_t>(ValueType, std::span<const int8_t>);
template Value Value::array_of<uint16_t>(ValueType, std::span<const uint16_t>);
template Value Value::array_of<int16_t>(ValueType, std::span<const int16_t>);
template Value Value::array_of<uint32_t>(ValueType, std::span<const uint32_t>);
template Value Value::array_of<int32_t>(ValueType, std::span<const int32_t>);
template Value Value::array_of<uint64_t>(ValueType, std::span<const uint64_t>);
template Value Value::array_of<int64_t>(ValueType, std::span<const int64_t>);
template Value Value::array_of<float>(ValueType, std::span<const float>);
template Value Value::array_of<double>(ValueType, std::span<const double>);
template Value Value::array_of<bool>(ValueType, std::span<const bool>);

std::optional<int64_t> Value::as_int() const {
    if (!is_integer(type_)) return std::nullopt;
    int64_t v = 0;
    if (!bits_to_int(type_, bits_, v)) return std::nullopt;
    return v;
}

std::optional<uint64_t> Value::as_uint() const {
    if (!is_integer(type_)) return std::nullopt;
    if (type_ == ValueType::UINT64) return bits_;
    int64_t v = 0;
    bits_to_int(type_, bits_, v);
    if (is_signed(type_) && v < 0) return std::nullopt;
    return static_cast<uint64_t>(v);
}

std::optional<double> Value::as_float() const {
    if (type_ == ValueType::ARRAY || type_ == ValueType::STRING || type_ == ValueType::BOOL) return std::nullopt;
    return bits_to_double(type_, bits_);
}

std::optional<bool> Value::as_bool() const {
    if (type_ != ValueType::BOOL) return std::nullopt;
    return bits_ != 0;
}

const std::string* Value::as_string() const {
    return type_ == ValueType::STRING ? &str_ : nullptr;
}

namespace {

uint64_t element_bits(std::span<const uint8_t> raw, size_t size, uint64_t i) {
    uint64_t bits = 0;
    std::memcpy(&bits, raw.data() + i * size, size);
    return bits;
}

}  // namespace

std::optional<int64_t> Value::int_at(uint64_t i) const {
    if (type_ != ValueType::ARRAY || !is_integer(elem_) || i >= count_) return std::nullopt;
    int64_t v = 0;
    if (!bits_to_int(elem_, element_bits(raw_, value_type_size(elem_), i), v)) return std::nullopt;
    return v;
}

std::optional<double> Value::float_at(uint64_t i) const {
    if (type_ != ValueType::ARRAY || i >= count_ || elem_ == ValueType::STRING || elem_ == ValueType::BOOL) {
        return std::nullopt;
    }
    return bits_to_double(elem_, element_bits(raw_, value_type_size(elem_), i));
}

const Value* Header::find(std::string_view key) const {
    for (const auto& entry : kv)
        if (entry.key == key) return &entry.value;
    return nullptr;
}

const TensorInfo* Header::find_tensor(std::string_view name) const {
    for (const auto& t : tensors)
        if (t.name == name) return &t;
    return nullptr;
}

}  // namespace llmq::gguf
