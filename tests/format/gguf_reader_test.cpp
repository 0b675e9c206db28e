// The validating GGUF reader: the fixture files (what a reader must find, what it must reject)
// and hand-made hostile headers, one per rule of reference/ggml-formats.md §1.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <tuple>

#include "format/gguf_bytes.hpp"
#include "llmq/error.hpp"
#include "llmq/format/gguf.hpp"
#include "llmq/format/model.hpp"
#include "llmq/io/memory.hpp"
#include "llmq/quant/codec.hpp"
#include "support/fixtures.hpp"

namespace llmq {
namespace {

using gguf::ValueType;
using test::GgufBytes;

constexpr uint32_t kF32 = 0, kQ8_0 = 8;

std::vector<uint8_t> tiny_bytes() {
    return test::read_file(test::fixture("gguf/tiny-align32.gguf"));
}

// Expects read_header to reject `bytes` with `code`, a one-line message naming the file and
// containing every fragment.
void expect_rejected(const std::vector<uint8_t>& bytes, ExitCode code, std::initializer_list<std::string> fragments) {
    MemorySource source(bytes, "hand.gguf");
    try {
        gguf::read_header(source);
        ADD_FAILURE() << "accepted an invalid header";
    } catch (const Failure& f) {
        const std::string& m = f.error().message;
        EXPECT_EQ(f.error().code, code) << m;
        EXPECT_NE(m.find("hand.gguf"), std::string::npos) << m;
        EXPECT_EQ(m.find('\n'), std::string::npos) << m;
        for (const auto& frag : fragments) EXPECT_NE(m.find(frag), std::string::npos) << "'" << frag << "' not in: " << m;
    }
}

void expect_corrupt(const std::vector<uint8_t>& bytes, std::initializer_list<std::string> fragments) {
    expect_rejected(bytes, ExitCode::CorruptInput, fragments);
}

// A valid file: one KV, tensors a (F32 [8], 32 bytes) and b (F32 [4, 2], 32 bytes).
GgufBytes two_tensors_with(uint64_t offset_b, uint64_t data_bytes = 64) {
    GgufBytes b = GgufBytes::header(2, 1);
    b.kv_str("general.architecture", "llama");
    b.tensor("a", {8}, kF32, 0).tensor("b", {4, 2}, kF32, offset_b);
    return b.data(32, data_bytes);
}

// A file with one F32 [8] tensor named `name` after the given KV bytes.
GgufBytes one_tensor(std::string_view name, std::initializer_list<uint64_t> dims = {8}, uint32_t type = kF32) {
    GgufBytes b = GgufBytes::header(1, 0);
    b.tensor(name, dims, type, 0);
    return b.data(32, 32);
}

// ---- fixtures ------------------------------------------------------------------------

TEST(GgufReader, TinyFixtureMatchesReadme) {
    const auto readme = nlohmann::ordered_json::parse(test::read_file(test::fixture("gguf/README.json")));
    const auto& expect = readme["tiny-align32.gguf"];
    MemorySource source(tiny_bytes(), "tiny-align32.gguf");
    const gguf::Header h = gguf::read_header(source);

    EXPECT_EQ(h.version, expect["version"].get<uint32_t>());
    EXPECT_EQ(h.alignment, expect["alignment"].get<uint32_t>());
    EXPECT_EQ(h.data_offset, expect["data_offset"].get<uint64_t>());
    ASSERT_EQ(h.kv.size(), expect["n_kv"].get<size_t>());
    ASSERT_EQ(h.kv.size(), expect["kv"].size());

    size_t i = 0;
    for (const auto& [key, tv] : expect["kv"].items()) {
        SCOPED_TRACE(key);
        const auto& kv = h.kv[i++];
        EXPECT_EQ(kv.key, key);  // file order
        const gguf::Value* v = h.find(key);
        ASSERT_EQ(v, &kv.value);
        const std::string type = tv[0];
        const auto& val = tv[1];
        if (type.starts_with("ARRAY[")) {
            ASSERT_TRUE(v->is_array());
            EXPECT_EQ("ARRAY[" + std::string(gguf::value_type_name(v->array_type())) + "]", type);
            ASSERT_EQ(v->array_size(), val.size());
            for (size_t j = 0; j < val.size(); ++j) {
                if (v->array_type() == ValueType::STRING) {
                    EXPECT_EQ(v->strings()[j], val[j].get<std::string>());
                } else {
                    EXPECT_EQ(v->int_at(j), val[j].get<int64_t>());
                }
            }
            continue;
        }
        EXPECT_EQ(gguf::value_type_name(v->type()), type);
        if (type == "STRING") {
            ASSERT_NE(v->as_string(), nullptr);
            EXPECT_EQ(*v->as_string(), val.get<std::string>());
        } else if (type == "BOOL") {
            EXPECT_EQ(v->as_bool(), val.get<bool>());
        } else if (type == "FLOAT32" || type == "FLOAT64") {
            EXPECT_EQ(v->as_float(), val.get<double>());
            EXPECT_FALSE(v->as_int().has_value());
        } else if (val.is_number_unsigned()) {
            EXPECT_EQ(v->as_uint(), val.get<uint64_t>());
        } else {
            EXPECT_EQ(v->as_int(), val.get<int64_t>());
            EXPECT_FALSE(v->as_uint().has_value());
        }
    }
    // Accessor edges on real values: u64 above INT64_MAX has no int64 value.
    EXPECT_FALSE(h.find("test.u64")->as_int().has_value());
    EXPECT_EQ(h.find("test.u32")->as_float(), 4000000000.0);
    EXPECT_EQ(h.find("test.arr_i32")->float_at(1), -2.0);
    EXPECT_FALSE(h.find("test.arr_i32")->int_at(5).has_value());
    EXPECT_EQ(h.find("no.such.key"), nullptr);

    ASSERT_EQ(h.tensors.size(), expect["tensors"].size());
    for (size_t t = 0; t < h.tensors.size(); ++t) {
        const auto& et = expect["tensors"][t];
        const auto& info = h.tensors[t];
        SCOPED_TRACE(info.name);
        EXPECT_EQ(info.name, et["name"].get<std::string>());
        const std::string type = et["type"];
        EXPECT_EQ(static_cast<uint32_t>(info.type), std::stoul(type.substr(type.find('(') + 1)));
        EXPECT_EQ(info.n_dims, et["ne"].size());
        for (size_t d = 0; d < 4; ++d) EXPECT_EQ(info.ne[d], d < et["ne"].size() ? et["ne"][d].get<int64_t>() : 1);
        EXPECT_EQ(info.offset, et["offset"].get<uint64_t>());
        EXPECT_EQ(info.nbytes, et["nbytes"].get<uint64_t>());
        EXPECT_EQ(h.find_tensor(info.name), &info);
    }
    EXPECT_EQ(h.find_tensor("missing"), nullptr);
}

TEST(GgufReader, TinyFixtureTensorDataThroughModelView) {
    const auto readme = nlohmann::json::parse(test::read_file(test::fixture("gguf/README.json")));
    auto source = std::make_shared<MemorySource>(tiny_bytes(), "tiny-align32.gguf");
    const ModelView view = open_gguf_model(source);
    EXPECT_EQ(view.format, "gguf");
    EXPECT_EQ(view.path, "tiny-align32.gguf");
    EXPECT_EQ(view.source_bytes, 1632u);
    EXPECT_EQ(view.architecture(), "llama");
    ASSERT_NE(view.find("test.str"), nullptr);
    EXPECT_EQ(*view.find("test.str")->as_string(), "h\xc3\xa9llo");

    const ModelTensor* f32 = view.find_tensor("t.f32_7");
    ASSERT_NE(f32, nullptr);
    std::vector<float> values(7);
    f32->read_rows(0, 1, std::span(reinterpret_cast<uint8_t*>(values.data()), 28));
    EXPECT_EQ(values, readme["tiny-align32.gguf"]["tensors"][0]["values"].get<std::vector<float>>());

    // F16 [3, 2, 2]: 4 rows of 3; read rows 1..3 and decode; value i = i * 0.25.
    const ModelTensor* f16 = view.find_tensor("t.f16_3x2x2");
    ASSERT_NE(f16, nullptr);
    EXPECT_EQ(f16->n_rows(), 4);
    std::vector<uint8_t> raw(3 * 6);
    f16->read_rows(1, 3, raw);
    std::vector<float> decoded(9);
    dequantize(GgmlType::F16, raw, decoded);
    for (size_t i = 0; i < decoded.size(); ++i) EXPECT_EQ(decoded[i], static_cast<float>(i + 3) * 0.25f);

    const ModelTensor* q4k = view.find_tensor("blk.0.ffn_down.weight");
    ASSERT_NE(q4k, nullptr);
    EXPECT_EQ(q4k->type, GgmlType::Q4_K);
    EXPECT_EQ(q4k->nbytes(), 576u);
    std::vector<uint8_t> row(288);
    EXPECT_THROW(q4k->read_rows(1, 2, std::span(row)), Failure);             // past the last row
    EXPECT_THROW(q4k->read_rows(0, 1, std::span(row).first(100)), Failure);  // wrong buffer size
    q4k->read_rows(1, 1, row);
    const auto file = tiny_bytes();
    EXPECT_TRUE(std::equal(row.begin(), row.end(), file.begin() + 768 + 256 + 288));
}

struct ModelFixture {
    const char* file;
    size_t tensors, kv, vocab;
    const char* arch;
};

TEST(GgufReader, ModelFixturesParse) {
    for (const ModelFixture& m :
         {ModelFixture{"tinyllama-spm.bf16.gguf", 57, 28, 2048, "llama"}, ModelFixture{"tinyqwen-bpe.bf16.gguf", 50, 22, 4096, "qwen2"}}) {
        SCOPED_TRACE(m.file);
        auto source = std::make_shared<MemorySource>(test::read_file(test::fixture(std::string("models/") + m.file)), m.file);
        const ModelView view = open_gguf_model(source);
        EXPECT_EQ(view.architecture(), m.arch);
        EXPECT_EQ(view.metadata.size(), m.kv);
        ASSERT_EQ(view.tensors.size(), m.tensors);
        EXPECT_EQ(view.tensors.front().name, "token_embd.weight");
        EXPECT_EQ(view.tensors.back().name, "output_norm.weight");
        EXPECT_EQ(view.tensors.front().type, GgmlType::BF16);
        EXPECT_EQ(view.tensors.front().ne[0], 256);
        EXPECT_EQ(view.tensors.front().ne[1], static_cast<int64_t>(m.vocab));
        const gguf::Value* tokens = view.find("tokenizer.ggml.tokens");
        ASSERT_NE(tokens, nullptr);
        EXPECT_EQ(tokens->array_size(), m.vocab);
        EXPECT_EQ(view.find("general.file_type")->as_uint(), 32u);  // MOSTLY_BF16
        // RMS norm weights are F32 and were trained away from zero.
        const ModelTensor& norm = view.tensors.back();
        EXPECT_EQ(norm.type, GgmlType::F32);
        std::vector<float> w(256);
        norm.read_rows(0, 1, std::span(reinterpret_cast<uint8_t*>(w.data()), 1024));
        double sum = 0;
        for (float x : w) sum += x;
        EXPECT_GT(sum / 256, 0.1);
    }
}

// llama.cpp's vocab-only files: no tensors, and no padding after the header (odd sizes).
TEST(GgufReader, VocabOnlyFixturesParse) {
    for (const auto& [file, vocab, arch] :
         {std::tuple{"ggml-vocab-gpt-2.gguf", 50257u, "gpt2"}, std::tuple{"ggml-vocab-llama-spm.gguf", 32000u, "llama"}}) {
        SCOPED_TRACE(file);
        auto source = std::make_shared<MemorySource>(test::read_file(test::fixture(std::string("vocab/") + file)), file);
        const ModelView view = open_gguf_model(source);
        EXPECT_TRUE(view.tensors.empty());
        EXPECT_EQ(view.architecture(), arch);
        ASSERT_NE(view.find("tokenizer.ggml.tokens"), nullptr);
        EXPECT_EQ(view.find("tokenizer.ggml.tokens")->array_size(), vocab);
    }
}

TEST(GgufReader, InvalidAlignmentFixtureIsRejected) {
    const auto bytes = test::read_file(test::fixture("gguf/invalid-alignment-kv64-data32.gguf"));
    MemorySource source(bytes, "invalid-alignment-kv64-data32.gguf");
    try {
        gguf::read_header(source);
        FAIL() << "accepted";
    } catch (const Failure& f) {
        EXPECT_EQ(f.error().code, ExitCode::CorruptInput);
        const std::string& m = f.error().message;
        EXPECT_NE(m.find("invalid-alignment-kv64-data32.gguf"), std::string::npos) << m;
        EXPECT_NE(m.find("t.q8_0_64x3"), std::string::npos) << m;
        EXPECT_NE(m.find("offset 32"), std::string::npos) << m;
        EXPECT_NE(m.find("expected 64"), std::string::npos) << m;
    }
}

TEST(GgufReader, EveryPrefixOfTheFixtureIsCorrupt) {
    const auto bytes = tiny_bytes();
    for (size_t n = 0; n < bytes.size(); ++n) {
        std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
        MemorySource source(std::move(prefix), "cut.gguf");
        try {
            gguf::read_header(source);
            ADD_FAILURE() << "prefix of " << n << " bytes accepted";
        } catch (const Failure& f) {
            EXPECT_EQ(f.error().code, ExitCode::CorruptInput) << n << ": " << f.error().message;
            EXPECT_EQ(f.error().message.rfind("cut.gguf: ", 0), 0u) << f.error().message;
        }
    }
    MemorySource whole(bytes, "whole.gguf");
    EXPECT_NO_THROW(gguf::read_header(whole));
}

// ---- magic and version -------------------------------------------------------------------

TEST(GgufReader, BadMagic) {
    auto bytes = tiny_bytes();
    bytes[3] = 'G';
    expect_corrupt(bytes, {"not a GGUF file"});
}

TEST(GgufReader, Versions) {
    auto with_version = [](uint32_t v) {
        auto bytes = tiny_bytes();
        std::memcpy(bytes.data() + 4, &v, 4);
        return bytes;
    };
    expect_corrupt(with_version(0), {"version 0"});
    expect_rejected(with_version(1), ExitCode::Unsupported, {"version 1"});
    expect_rejected(with_version(4), ExitCode::Unsupported, {"version 4", "newer"});
    expect_rejected(with_version(0x03000000), ExitCode::Unsupported, {"big-endian"});
    // Version 2 has the same layout as 3.
    MemorySource v2(with_version(2), "v2.gguf");
    EXPECT_EQ(gguf::read_header(v2).version, 2u);
}

// ---- counts and lengths ---------------------------------------------------------------------

TEST(GgufReader, CountsBeyondTheFile) {
    expect_corrupt(GgufBytes::header(uint64_t{1} << 40, 0).data(32, 64).bytes, {"1099511627776 tensors"});
    expect_corrupt(GgufBytes::header(0, uint64_t{1} << 40).data(32, 64).bytes, {"1099511627776 metadata"});
    expect_corrupt(GgufBytes::header(~uint64_t{0}, 0).bytes, {"negative tensor count"});
    expect_corrupt(GgufBytes::header(0, ~uint64_t{0}).bytes, {"negative metadata count"});
    // Each list alone would fit; together they do not.
    auto both = GgufBytes::header(2, 3);
    both.bytes.resize(both.bytes.size() + 2 * 24 + 2 * 14, 0);
    expect_corrupt(both.bytes, {"2 tensors and 3 metadata entries"});
}

TEST(GgufReader, StringLengths) {
    auto key = GgufBytes::header(0, 1);
    key.u64(uint64_t{1} << 62);
    key.bytes.resize(key.bytes.size() + 64, 'k');
    expect_corrupt(key.bytes, {"4611686018427387904 bytes"});

    auto value = GgufBytes::header(0, 1);
    value.str("general.name").type(ValueType::STRING).u64(uint64_t{1} << 29).str("abc");
    expect_corrupt(value.bytes, {"truncated", "536870912 bytes"});
}

TEST(GgufReader, Arrays) {
    auto huge = GgufBytes::header(0, 1);
    huge.str("a").type(ValueType::ARRAY).type(ValueType::INT32).u64(uint64_t{1} << 40).u32(1);
    expect_corrupt(huge.bytes, {"'a'", "1099511627776 elements"});

    auto beyond_file = GgufBytes::header(0, 1);
    beyond_file.str("a").type(ValueType::ARRAY).type(ValueType::STRING).u64(1000).str("x");
    expect_corrupt(beyond_file.bytes, {"'a'", "1000 STRING elements"});

    auto nested = GgufBytes::header(0, 1);
    nested.str("a").type(ValueType::ARRAY).type(ValueType::ARRAY).u64(1).type(ValueType::UINT8).u64(1).u8(0);
    expect_corrupt(nested.bytes, {"'a'", "nested array"});

    auto unknown_elem = GgufBytes::header(0, 1);
    unknown_elem.str("a").type(ValueType::ARRAY).u32(13).u64(1).u64(0);
    expect_corrupt(unknown_elem.bytes, {"'a'", "unknown array element type 13"});
}

TEST(GgufReader, KeyRules) {
    auto unknown = GgufBytes::header(0, 1);
    unknown.str("a").u32(13).u64(0);
    expect_corrupt(unknown.bytes, {"'a'", "unknown value type 13"});

    auto dup = GgufBytes::header(0, 2);
    dup.kv_u32("x.y", 1).kv_u32("x.y", 2);
    expect_corrupt(dup.bytes, {"duplicate metadata key 'x.y'"});

    auto empty = GgufBytes::header(0, 2);
    empty.kv_u32("x.y", 1).kv_u32("", 2);
    expect_corrupt(empty.bytes, {"entry 1 has an empty key"});
}

TEST(GgufReader, BoolBytesFollowGgml) {
    // ggml reads a bool byte and treats any non-zero value as true; llmq accepts it the same way.
    auto b = GgufBytes::header(0, 2);
    b.str("t").type(ValueType::BOOL).u8(2).str("f").type(ValueType::BOOL).u8(0);
    MemorySource source(b.bytes, "bool.gguf");
    const auto h = gguf::read_header(source);
    EXPECT_EQ(h.find("t")->as_bool(), true);
    EXPECT_EQ(h.find("f")->as_bool(), false);
    EXPECT_FALSE(h.find("t")->as_int().has_value());
}

// ---- tensor infos -----------------------------------------------------------------------------

TEST(GgufReader, TensorNames) {
    auto dup = GgufBytes::header(2, 0);
    dup.tensor("w", {8}, kF32, 0).tensor("w", {8}, kF32, 32).data(32, 64);
    expect_corrupt(dup.bytes, {"duplicate tensor name 'w'"});

    expect_corrupt(one_tensor(std::string(64, 'n')).bytes, {"64 bytes", "limit 63"});
    MemorySource ok(one_tensor(std::string(63, 'n')).bytes, "ok.gguf");
    EXPECT_EQ(gguf::read_header(ok).tensors[0].name.size(), 63u);
}

TEST(GgufReader, Dimensions) {
    auto five = GgufBytes::header(1, 0);
    five.tensor("w", {8, 1, 1, 1, 1}, kF32, 0).data(32, 32);
    expect_corrupt(five.bytes, {"'w'", "5 dimensions"});

    // 2^62 F32 elements are countable but their 2^64 bytes are not.
    expect_corrupt(one_tensor("w", {uint64_t{1} << 62}).bytes, {"'w'", "more bytes than fit in 64 bits"});
    expect_corrupt(one_tensor("w", {uint64_t{1} << 60, 16}).bytes, {"'w'", "more elements"});
    expect_corrupt(one_tensor("w", {uint64_t{1} << 40, uint64_t{1} << 40}).bytes, {"'w'", "more elements"});
    expect_corrupt(one_tensor("w", {8, ~uint64_t{0}}).bytes, {"'w'", "negative dimension"});
    // Large but representable: only the data bound catches it.
    expect_corrupt(one_tensor("w", {uint64_t{1} << 60}).bytes, {"'w'", "truncated"});
}

TEST(GgufReader, TensorTypes) {
    for (uint32_t id : {4u, 5u, 31u, 36u, 43u, 99u}) {
        SCOPED_TRACE(id);
        expect_corrupt(one_tensor("w", {32}, id).bytes, {"'w'", "type id " + std::to_string(id)});
    }
    expect_corrupt(one_tensor("w", {33}, kQ8_0).bytes, {"'w'", "row length 33", "block size 32"});
}

TEST(GgufReader, Offsets) {
    MemorySource ok(two_tensors_with(32).bytes, "ok.gguf");
    const auto h = gguf::read_header(ok);
    EXPECT_EQ(h.tensors[1].offset, 32u);
    EXPECT_EQ(h.data_offset % 32, 0u);

    expect_corrupt(two_tensors_with(40).bytes, {"'b'", "offset 40", "not a multiple of the alignment 32"});
    expect_corrupt(two_tensors_with(64, 96).bytes, {"'b'", "offset 64, expected 32"});  // gap
    expect_corrupt(two_tensors_with(0).bytes, {"'b'", "offset 0, expected 32"});        // overlap
    expect_corrupt(two_tensors_with(32, 63).bytes, {"'b'", "truncated"});               // data past the end
}

TEST(GgufReader, AlignmentKey) {
    auto with_alignment = [](ValueType type, uint64_t value, uint64_t offset_b) {
        GgufBytes b = GgufBytes::header(2, 1);
        b.str("general.alignment").type(type);
        if (type == ValueType::UINT64)
            b.u64(value);
        else
            b.u32(static_cast<uint32_t>(value));
        b.tensor("a", {8}, kF32, 0).tensor("b", {8}, kF32, offset_b);
        const uint64_t align = value >= 32 && value < 4096 ? value : 32;
        return b.data(align, offset_b + align);
    };
    expect_corrupt(with_alignment(ValueType::UINT64, 32, 32).bytes, {"general.alignment must be a UINT32, found UINT64"});
    expect_corrupt(with_alignment(ValueType::INT32, 32, 32).bytes, {"found INT32"});
    expect_corrupt(with_alignment(ValueType::UINT32, 48, 48).bytes, {"48 is not a power of two"});
    expect_corrupt(with_alignment(ValueType::UINT32, 0, 32).bytes, {"0 is not a power of two"});

    MemorySource ok(with_alignment(ValueType::UINT32, 64, 64).bytes, "a64.gguf");
    const auto h = gguf::read_header(ok);
    EXPECT_EQ(h.alignment, 64u);
    EXPECT_EQ(h.data_offset % 64, 0u);
    EXPECT_EQ(h.tensors[1].offset, 64u);
}

// ---- cost of hostile and large headers --------------------------------------------------------

// Headers whose claims would need gigabytes if the reader trusted them.
std::vector<std::vector<uint8_t>> hostile_headers() {
    std::vector<std::vector<uint8_t>> cases;
    cases.push_back(GgufBytes::header(uint64_t{1} << 40, 0).data(32, 256).bytes);
    cases.push_back(GgufBytes::header(0, uint64_t{1} << 40).data(32, 256).bytes);
    auto strings = GgufBytes::header(0, 1);
    strings.str("a").type(ValueType::ARRAY).type(ValueType::STRING).u64(uint64_t{1} << 29).str("x");
    cases.push_back(strings.bytes);
    auto numbers = GgufBytes::header(0, 1);
    numbers.str("a").type(ValueType::ARRAY).type(ValueType::UINT64).u64(uint64_t{1} << 29).u64(1);
    cases.push_back(numbers.bytes);
    auto key = GgufBytes::header(0, 1);
    key.u64(uint64_t{1} << 29).str("k");
    cases.push_back(key.bytes);
    return cases;
}

bool sanitized_build() {
#if defined(__SANITIZE_ADDRESS__)
    return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    return true;
#endif
#endif
    return false;
}

// Caps the address space at what the process maps now plus `headroom`, so that any large
// reservation (even one never touched, which RSS would not show) fails with bad_alloc.
void limit_address_space(uint64_t headroom) {
    std::ifstream statm("/proc/self/statm");
    uint64_t pages = 0;
    statm >> pages;
    const uint64_t limit = pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) + headroom;
    const rlimit rl{limit, limit};
    setrlimit(RLIMIT_AS, &rl);
}

// Runs in the forked child: 0 = rejected as corrupt, 3 = out of memory, 4 = accepted.
[[noreturn]] void parse_under_limit(const std::vector<uint8_t>& bytes) {
    limit_address_space(uint64_t{64} << 20);
    try {
        MemorySource source(bytes, "hostile.gguf");
        gguf::read_header(source);
    } catch (const Failure& f) {
        std::_Exit(f.error().code == ExitCode::CorruptInput ? 0 : 2);
    } catch (const std::bad_alloc&) {
        std::_Exit(3);
    }
    std::_Exit(4);
}

[[noreturn]] void allocate_under_limit(size_t bytes) {
    limit_address_space(uint64_t{64} << 20);
    try {
        std::vector<std::string> v;
        v.reserve(bytes / sizeof(std::string));
    } catch (const std::bad_alloc&) {
        std::_Exit(3);
    }
    std::_Exit(0);
}

TEST(GgufReaderDeathTest, HostileCountsAreRejectedWithoutAllocating) {
    if (sanitized_build()) GTEST_SKIP() << "sanitizers reserve address space; RLIMIT_AS cannot be used";
    // Control: the limit really makes a 1 GiB reservation fail.
    EXPECT_EXIT(allocate_under_limit(size_t{1} << 30), ::testing::ExitedWithCode(3), "");
    for (const auto& bytes : hostile_headers()) {
        EXPECT_EXIT(parse_under_limit(bytes), ::testing::ExitedWithCode(0), "");
    }
}

// Counts host reads, to show that the header is read in large chunks.
class CountingSource final : public ByteSource {
public:
    explicit CountingSource(std::vector<uint8_t> bytes) : inner_(std::move(bytes), "big-vocab.gguf") {}
    uint64_t size() const override { return inner_.size(); }
    void read(uint64_t offset, std::span<uint8_t> out) const override {
        ++reads;
        inner_.read(offset, out);
    }
    std::string name() const override { return inner_.name(); }
    mutable int reads = 0;

private:
    MemorySource inner_;
};

TEST(GgufReader, LargeVocabularyHeaderIsFastAndChunked) {
    constexpr uint64_t kVocab = 150000;
    GgufBytes b = GgufBytes::header(1, 3);
    b.str("tokenizer.ggml.tokens").type(ValueType::ARRAY).type(ValueType::STRING).u64(kVocab);
    for (uint64_t i = 0; i < kVocab; ++i) b.str("tok" + std::to_string(i * 7919));
    b.str("tokenizer.ggml.merges").type(ValueType::ARRAY).type(ValueType::STRING).u64(kVocab);
    for (uint64_t i = 0; i < kVocab; ++i) {
        std::string merge = std::to_string(i);  // appended, not `"m" + ...`: GCC 12 -Wrestrict false positive
        merge.append(" x").append(std::to_string(i % 977));
        b.str(merge);
    }
    b.str("tokenizer.ggml.scores").type(ValueType::ARRAY).type(ValueType::FLOAT32).u64(kVocab);
    for (uint64_t i = 0; i < kVocab; ++i) b.f32(-static_cast<float>(i));
    b.tensor("token_embd.weight", {8, kVocab}, kF32, 0).data(32, 8 * 4 * kVocab);
    const uint64_t header_bytes = b.bytes.size() - 8 * 4 * kVocab;

    CountingSource source(std::move(b.bytes));
    const auto start = std::chrono::steady_clock::now();
    const auto h = gguf::read_header(source);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_EQ(h.find("tokenizer.ggml.tokens")->array_size(), kVocab);
    EXPECT_EQ(h.find("tokenizer.ggml.tokens")->strings()[kVocab - 1], "tok" + std::to_string((kVocab - 1) * 7919));
    EXPECT_EQ(h.find("tokenizer.ggml.scores")->float_at(kVocab - 1), -static_cast<double>(kVocab - 1));
    // One read per MiB of header, not one per field.
    EXPECT_LE(source.reads, static_cast<int>(header_bytes >> 20) + 2) << header_bytes << " header bytes";
    EXPECT_LT(seconds, 2.0);
}

}  // namespace
}  // namespace llmq
