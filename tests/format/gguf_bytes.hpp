// Hand-made GGUF bytes for reader tests: every field is written explicitly, so a test can put
// any value (valid or hostile) in any place.
#pragma once

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string_view>
#include <vector>

#include "llmq/format/gguf.hpp"

namespace llmq::test {

class GgufBytes {
public:
    std::vector<uint8_t> bytes;

    // Magic, version and the two counts.
    static GgufBytes header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
        GgufBytes b;
        b.u32(gguf::kMagic).u32(version).u64(n_tensors).u64(n_kv);
        return b;
    }

    GgufBytes& u8(uint8_t v) { return put(v); }
    GgufBytes& u32(uint32_t v) { return put(v); }
    GgufBytes& i32(int32_t v) { return put(v); }
    GgufBytes& u64(uint64_t v) { return put(v); }
    GgufBytes& f32(float v) { return put(v); }
    GgufBytes& str(std::string_view s) {
        u64(s.size());
        bytes.insert(bytes.end(), s.begin(), s.end());
        return *this;
    }
    GgufBytes& type(gguf::ValueType t) { return u32(static_cast<uint32_t>(t)); }
    GgufBytes& kv_u32(std::string_view key, uint32_t v) { return str(key).type(gguf::ValueType::UINT32).u32(v); }
    GgufBytes& kv_str(std::string_view key, std::string_view v) { return str(key).type(gguf::ValueType::STRING).str(v); }
    GgufBytes& tensor(std::string_view name, std::initializer_list<uint64_t> dims, uint32_t ggml_type, uint64_t offset) {
        str(name).u32(static_cast<uint32_t>(dims.size()));
        for (uint64_t d : dims) u64(d);
        return u32(ggml_type).u64(offset);
    }
    // Pads to the alignment, then appends `n` data bytes (value 0x11, so padding is visible).
    GgufBytes& data(uint64_t alignment, uint64_t n) {
        while (bytes.size() % alignment != 0) bytes.push_back(0);
        bytes.insert(bytes.end(), n, 0x11);
        return *this;
    }

private:
    template <class T>
    GgufBytes& put(T v) {
        const size_t at = bytes.size();
        bytes.resize(at + sizeof(T));
        std::memcpy(bytes.data() + at, &v, sizeof(T));
        return *this;
    }
};

}  // namespace llmq::test
