// GGUF container: metadata values, a validating header reader (v2/v3) and a streaming writer
// that emits the complete header first, then each tensor's bytes in order, padded.
// Facts: reference/ggml-formats.md §1.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llmq/io/io.hpp"
#include "llmq/quant/types.hpp"

namespace llmq::gguf {

inline constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
inline constexpr uint32_t kDefaultAlignment = 32;

enum class ValueType : uint32_t {
    UINT8 = 0,
    INT8 = 1,
    UINT16 = 2,
    INT16 = 3,
    UINT32 = 4,
    INT32 = 5,
    FLOAT32 = 6,
    BOOL = 7,
    STRING = 8,
    ARRAY = 9,
    UINT64 = 10,
    INT64 = 11,
    FLOAT64 = 12,
};

std::string_view value_type_name(ValueType t);
// Bytes of one element of a fixed-size type (0 for STRING and ARRAY).
size_t value_type_size(ValueType t);

// One metadata value. Scalars keep their exact type; arrays are either strings or packed
// little-endian elements of a fixed-size type (nested arrays are not allowed, as in ggml).
class Value {
public:
    Value() = default;
    static Value u8(uint8_t v);
    static Value i8(int8_t v);
    static Value u16(uint16_t v);
    static Value i16(int16_t v);
    static Value u32(uint32_t v);
    static Value i32(int32_t v);
    static Value f32(float v);
    static Value boolean(bool v);
    static Value string(std::string v);
    static Value u64(uint64_t v);
    static Value i64(int64_t v);
    static Value f64(double v);
    static Value string_array(std::vector<std::string> items);
    // elem must be a fixed-size type; bytes.size() == count * value_type_size(elem).
    static Value array(ValueType elem, std::vector<uint8_t> bytes);
    template <class T>
    static Value array_of(ValueType elem, std::span<const T> items);

    ValueType type() const { return type_; }
    ValueType array_type() const { return elem_; }  // arrays only
    bool is_array() const { return type_ == ValueType::ARRAY; }

    // Scalar accessors: nullopt when the value is not of a compatible kind.
    std::optional<int64_t> as_int() const;    // any integer scalar (u64 above INT64_MAX: nullopt)
    std::optional<uint64_t> as_uint() const;  // any non-negative integer scalar
    std::optional<double> as_float() const;   // float or integer scalar
    std::optional<bool> as_bool() const;
    const std::string* as_string() const;  // nullptr unless STRING

    // Arrays.
    uint64_t array_size() const { return count_; }
    const std::vector<std::string>& strings() const { return strings_; }  // STRING arrays
    std::span<const uint8_t> array_bytes() const { return raw_; }         // fixed-size arrays
    std::optional<int64_t> int_at(uint64_t i) const;                      // integer arrays
    std::optional<double> float_at(uint64_t i) const;                     // float or integer arrays

    // Scalar payload as stored (little-endian bit pattern, zero-extended).
    uint64_t scalar_bits() const { return bits_; }

    bool operator==(const Value&) const = default;

private:
    ValueType type_ = ValueType::UINT32;
    ValueType elem_ = ValueType::UINT8;
    uint64_t bits_ = 0;
    uint64_t count_ = 0;
    std::string str_;
    std::vector<std::string> strings_;
    std::vector<uint8_t> raw_;
};

struct KeyValue {
    std::string key;
    Value value;
};

struct TensorInfo {
    std::string name;
    uint32_t n_dims = 0;
    std::array<int64_t, 4> ne{1, 1, 1, 1};  // ne[0] = row length (innermost)
    GgmlType type = GgmlType::F32;
    uint64_t offset = 0;  // relative to the start of the data section
    uint64_t nbytes = 0;

    int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
    int64_t n_rows() const { return ne[1] * ne[2] * ne[3]; }
};

// A parsed and validated header. Tensor data is not read.
struct Header {
    uint32_t version = 3;
    uint32_t alignment = kDefaultAlignment;
    uint64_t data_offset = 0;  // absolute offset of the data section in the file
    std::vector<KeyValue> kv;
    std::vector<TensorInfo> tensors;

    const Value* find(std::string_view key) const;
    const TensorInfo* find_tensor(std::string_view name) const;
};

// Reads and validates a GGUF header: magic, version 2 or 3, counts, key rules (non-empty,
// unique), value types (no nested arrays), string/array limits (2^30), tensor names (< 64 bytes,
// unique), dims (<= 4, each >= 0, no overflow of element or byte counts), known type ids with a
// non-zero block size, ne[0] divisible by the block size, offsets aligned and equal to the
// running sum of padded sizes, data inside the file, general.alignment a u32 power of two.
// Never allocates more than the file can hold: every count is checked against the bytes left.
// Throws Failure(CorruptInput) naming the file and the problem (Unsupported for a version > 3
// or v1).
Header read_header(const ByteSource& source);

// Output declaration of one tensor (offsets are computed by the writer).
struct TensorDecl {
    std::string name;
    uint32_t n_dims = 0;
    std::array<int64_t, 4> ne{1, 1, 1, 1};
    GgmlType type = GgmlType::F32;

    uint64_t nbytes() const;
};

// Streaming writer: the constructor writes the whole header (KVs, tensor infos, padding);
// then the tensors' bytes are appended in declaration order with write_data (any chunking);
// the writer pads each tensor to the alignment when its last byte arrives. finish() checks
// that every tensor is complete; it does not finish the sink.
class Writer {
public:
    Writer(ByteSink& sink, std::vector<KeyValue> kv, std::vector<TensorDecl> tensors, uint32_t alignment = kDefaultAlignment);
    void write_data(std::span<const uint8_t> bytes);
    // Same, checked: the bytes must belong to tensor `name`, the one being written, and not run
    // past its end, so a caller that emits tensors out of order fails instead of writing a
    // wrong file.
    void write_data(std::string_view name, std::span<const uint8_t> bytes);
    void finish();
    // Total file size the header and declared tensors make (known before any data is written).
    uint64_t total_size() const { return total_size_; }
    uint64_t data_offset() const { return data_offset_; }

private:
    ByteSink& sink_;
    std::vector<TensorDecl> tensors_;
    uint32_t alignment_;
    uint64_t data_offset_ = 0;
    uint64_t total_size_ = 0;
    size_t current_ = 0;         // index of the tensor being written
    uint64_t current_done_ = 0;  // bytes of it written so far
    uint64_t sink_start_ = 0;    // sink position before the header, to check the final size

    void skip_empty_tensors();
};

// Serialises the header exactly as Writer would (for tests and size planning).
std::vector<uint8_t> encode_header(const std::vector<KeyValue>& kv, const std::vector<TensorDecl>& tensors, uint32_t alignment = kDefaultAlignment);

}  // namespace llmq::gguf
