// The streaming GGUF writer: round trips through the validating reader, byte-identical
// re-encoding of ggml's own file, and refusal of every misuse.
#include <gtest/gtest.h>

#include <numeric>

#include "llmq/error.hpp"
#include "llmq/format/gguf.hpp"
#include "llmq/format/model.hpp"
#include "llmq/io/memory.hpp"
#include "support/fixtures.hpp"

namespace llmq {
namespace {

using gguf::KeyValue;
using gguf::TensorDecl;
using gguf::Value;
using gguf::ValueType;

template <class T>
Value array_of(ValueType t, std::vector<T> v) {
    return Value::array_of<T>(t, std::span<const T>(v));
}

constexpr bool kBools[] = {true, false, true};  // std::vector<bool> is not contiguous

// Every value type, scalar and as an array element.
std::vector<KeyValue> all_value_types() {
    return {
        {"general.architecture", Value::string("llama")},
        {"t.u8", Value::u8(250)},
        {"t.i8", Value::i8(-7)},
        {"t.u16", Value::u16(65535)},
        {"t.i16", Value::i16(-32768)},
        {"t.u32", Value::u32(4294967295u)},
        {"t.i32", Value::i32(-123456789)},
        {"t.f32", Value::f32(-1.5e-7f)},
        {"t.bool", Value::boolean(true)},
        {"t.string", Value::string(std::string("with\0nul and \xe2\x82\xac", 16))},
        {"t.u64", Value::u64(~uint64_t{0})},
        {"t.i64", Value::i64(INT64_MIN)},
        {"t.f64", Value::f64(3.141592653589793)},
        {"a.u8", array_of<uint8_t>(ValueType::UINT8, {1, 2, 255})},
        {"a.i8", array_of<int8_t>(ValueType::INT8, {-1, 0, 1})},
        {"a.u16", array_of<uint16_t>(ValueType::UINT16, {7, 65535})},
        {"a.i16", array_of<int16_t>(ValueType::INT16, {-2, 3})},
        {"a.u32", array_of<uint32_t>(ValueType::UINT32, {1, 4000000000u})},
        {"a.i32", array_of<int32_t>(ValueType::INT32, {-5, 5})},
        {"a.f32", array_of<float>(ValueType::FLOAT32, {0.5f, -0.25f, 1e30f})},
        {"a.bool", Value::array_of<bool>(ValueType::BOOL, std::span<const bool>(kBools))},
        {"a.u64", array_of<uint64_t>(ValueType::UINT64, {uint64_t{1} << 63})},
        {"a.i64", array_of<int64_t>(ValueType::INT64, {-(int64_t{1} << 62)})},
        {"a.f64", array_of<double>(ValueType::FLOAT64, {-0.0, 2.5})},
        {"a.str", Value::string_array({"a", "", "long string \xc3\xa9"})},
        {"a.empty", Value::string_array({})},
        {"a.empty_f32", array_of<float>(ValueType::FLOAT32, {})},
    };
}

// Odd sizes, so most tensors need padding: 28, 30, 102, 5 and 144 bytes.
std::vector<TensorDecl> odd_tensors() {
    return {
        {"f32", 1, {7, 1, 1, 1}, GgmlType::F32}, {"f16", 2, {3, 5, 1, 1}, GgmlType::F16},   {"q8", 2, {32, 3, 1, 1}, GgmlType::Q8_0},
        {"i8", 1, {5, 1, 1, 1}, GgmlType::I8},   {"empty", 2, {0, 4, 1, 1}, GgmlType::F32}, {"q4k", 3, {256, 1, 1, 1}, GgmlType::Q4_K},
    };
}

std::vector<uint8_t> pattern(size_t n, uint32_t seed) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>((i * 131 + seed * 17 + 1) % 251);
    return v;
}

TEST(GgufWriter, ValueAccessorsAndFactories) {
    EXPECT_EQ(Value::i8(-7).as_int(), -7);
    EXPECT_FALSE(Value::i8(-7).as_uint().has_value());
    EXPECT_EQ(Value::u64(~uint64_t{0}).as_uint(), ~uint64_t{0});
    EXPECT_FALSE(Value::u64(~uint64_t{0}).as_int().has_value());
    EXPECT_EQ(Value::f32(0.5f).as_float(), 0.5);
    EXPECT_FALSE(Value::f32(0.5f).as_int().has_value());
    EXPECT_FALSE(Value::string("x").as_float().has_value());
    EXPECT_EQ(Value::u16(9).as_float(), 9.0);
    EXPECT_FALSE(Value::u8(1).as_bool().has_value());
    EXPECT_EQ(Value::string("x").as_string()->size(), 1u);
    EXPECT_EQ(Value::u32(1).as_string(), nullptr);
    const Value a = array_of<int16_t>(ValueType::INT16, {-3, 4});
    EXPECT_EQ(a.array_size(), 2u);
    EXPECT_EQ(a.int_at(0), -3);
    EXPECT_EQ(a.float_at(1), 4.0);
    EXPECT_FALSE(a.int_at(2).has_value());
    EXPECT_FALSE(Value::string_array({"x"}).int_at(0).has_value());
    EXPECT_EQ(gguf::value_type_size(ValueType::FLOAT64), 8u);
    EXPECT_EQ(gguf::value_type_size(ValueType::STRING), 0u);
    EXPECT_THROW(array_of<int32_t>(ValueType::INT16, {1}), Failure);    // element size mismatch
    EXPECT_THROW(Value::array(ValueType::UINT32, {1, 2, 3}), Failure);  // not whole elements
    EXPECT_THROW(Value::array(ValueType::ARRAY, {}), Failure);          // nested
}

TEST(GgufWriter, RoundTripAllValueTypesAndOddTensors) {
    const auto kv = all_value_types();
    const auto decls = odd_tensors();
    std::vector<uint8_t> data;  // all tensors' bytes, unpadded, in order
    std::vector<std::vector<uint8_t>> per_tensor;
    for (size_t i = 0; i < decls.size(); ++i) {
        per_tensor.push_back(pattern(decls[i].nbytes(), static_cast<uint32_t>(i)));
        data.insert(data.end(), per_tensor.back().begin(), per_tensor.back().end());
    }
    EXPECT_EQ(data.size(), 28u + 30 + 102 + 5 + 0 + 144);

    MemorySink sink("round.gguf");
    gguf::Writer writer(sink, kv, decls);
    // The header goes out whole, before any data.
    EXPECT_EQ(sink.bytes_written(), writer.data_offset());
    EXPECT_EQ(writer.data_offset() % 32, 0u);
    // Chunks of 13 bytes cross tensor boundaries.
    for (size_t at = 0; at < data.size(); at += 13) {
        writer.write_data(std::span(data).subspan(at, std::min<size_t>(13, data.size() - at)));
    }
    writer.finish();
    EXPECT_EQ(sink.bytes_written(), writer.total_size());
    sink.finish();
    const auto& file = sink.bytes();
    EXPECT_EQ(file.size(), writer.data_offset() + 32 + 32 + 128 + 32 + 0 + 160);
    const auto header_bytes = gguf::encode_header(kv, decls);
    EXPECT_TRUE(std::equal(header_bytes.begin(), header_bytes.end(), file.begin()));

    auto source = std::make_shared<MemorySource>(file, "round.gguf");
    const gguf::Header h = gguf::read_header(*source);
    EXPECT_EQ(h.version, 3u);
    EXPECT_EQ(h.data_offset, writer.data_offset());
    ASSERT_EQ(h.kv.size(), kv.size());
    for (size_t i = 0; i < kv.size(); ++i) {
        EXPECT_EQ(h.kv[i].key, kv[i].key);
        EXPECT_TRUE(h.kv[i].value == kv[i].value) << kv[i].key;
    }
    EXPECT_EQ(*h.find("t.string")->as_string(), std::string("with\0nul and \xe2\x82\xac", 16));
    EXPECT_EQ(h.find("t.i64")->as_int(), INT64_MIN);

    const ModelView view = open_gguf_model(source);
    ASSERT_EQ(h.tensors.size(), decls.size());
    uint64_t expected_offset = 0;
    for (size_t i = 0; i < decls.size(); ++i) {
        const auto& t = h.tensors[i];
        SCOPED_TRACE(t.name);
        EXPECT_EQ(t.name, decls[i].name);
        EXPECT_EQ(t.n_dims, decls[i].n_dims);
        EXPECT_EQ(t.ne, decls[i].ne);
        EXPECT_EQ(t.type, decls[i].type);
        EXPECT_EQ(t.offset, expected_offset);
        EXPECT_EQ(t.nbytes, decls[i].nbytes());
        std::vector<uint8_t> back(t.nbytes);
        view.tensors[i].read_rows(0, view.tensors[i].n_rows(), back);
        EXPECT_EQ(back, per_tensor[i]);
        // Padding is zeros.
        const uint64_t end = h.data_offset + t.offset + t.nbytes;
        const uint64_t padded = h.data_offset + t.offset + (t.nbytes + 31) / 32 * 32;
        for (uint64_t p = end; p < padded; ++p) EXPECT_EQ(file[p], 0) << p;
        expected_offset += (t.nbytes + 31) / 32 * 32;
    }
}

TEST(GgufWriter, ReencodesGgmlFixtureByteForByte) {
    const auto file = test::read_file(test::fixture("gguf/tiny-align32.gguf"));
    MemorySource source(file, "tiny-align32.gguf");
    const gguf::Header h = gguf::read_header(source);
    std::vector<TensorDecl> decls;
    for (const auto& t : h.tensors) decls.push_back({t.name, t.n_dims, t.ne, t.type});

    MemorySink sink("copy.gguf");
    gguf::Writer writer(sink, h.kv, decls, h.alignment);
    EXPECT_EQ(writer.data_offset(), h.data_offset);
    EXPECT_EQ(writer.total_size(), file.size());
    for (const auto& t : h.tensors) {
        const auto begin = file.begin() + static_cast<std::ptrdiff_t>(h.data_offset + t.offset);
        writer.write_data(t.name, std::vector<uint8_t>(begin, begin + static_cast<std::ptrdiff_t>(t.nbytes)));
    }
    writer.finish();
    sink.finish();
    EXPECT_EQ(sink.bytes(), file);
}

TEST(GgufWriter, CustomAlignmentNeedsItsKey) {
    auto kv = all_value_types();
    kv.push_back({"general.alignment", Value::u32(64)});
    const auto decls = odd_tensors();
    MemorySink sink("a64.gguf");
    gguf::Writer writer(sink, kv, decls, 64);
    for (size_t i = 0; i < decls.size(); ++i) writer.write_data(decls[i].name, pattern(decls[i].nbytes(), 0));
    writer.finish();
    EXPECT_EQ(sink.bytes_written(), writer.total_size());
    sink.finish();
    MemorySource source(sink.bytes(), "a64.gguf");
    const auto h = gguf::read_header(source);
    EXPECT_EQ(h.alignment, 64u);
    EXPECT_EQ(h.tensors[1].offset, 64u);
    EXPECT_EQ(h.tensors[3].offset, 64u + 64 + 128);

    // ggml's pitfall (reference §1.1): a key that disagrees with the layout, or a layout the
    // reader cannot know about.
    MemorySink s2;
    EXPECT_THROW(gguf::Writer(s2, kv, decls, 32), Failure);
    kv.back().value = Value::u64(64);
    EXPECT_THROW(gguf::Writer(s2, kv, decls, 64), Failure);
    EXPECT_THROW(gguf::Writer(s2, all_value_types(), decls, 64), Failure);
    EXPECT_THROW(gguf::Writer(s2, all_value_types(), decls, 48), Failure);
    EXPECT_EQ(s2.bytes_written(), 0u);  // nothing written by a refused writer
}

TEST(GgufWriter, RefusesDeclarationsAReaderWouldReject) {
    const auto kv = all_value_types();
    auto expect_refused = [&](std::vector<KeyValue> k, std::vector<TensorDecl> d, ExitCode code) {
        MemorySink sink("out.gguf");
        try {
            gguf::Writer w(sink, std::move(k), std::move(d));
            ADD_FAILURE() << "accepted";
        } catch (const Failure& f) {
            EXPECT_EQ(f.error().code, code) << f.error().message;
            EXPECT_EQ(f.error().message.rfind("out.gguf: ", 0), 0u) << f.error().message;
        }
    };
    const TensorDecl ok{"w", 1, {32, 1, 1, 1}, GgmlType::Q8_0};
    expect_refused(kv, {ok, ok}, ExitCode::General);  // duplicate name
    expect_refused(kv, {{std::string(64, 'n'), 1, {4, 1, 1, 1}, GgmlType::F32}}, ExitCode::Unsupported);
    expect_refused(kv, {{"w", 1, {33, 1, 1, 1}, GgmlType::Q8_0}}, ExitCode::Unsupported);
    expect_refused(kv, {{"w", 5, {4, 1, 1, 1}, GgmlType::F32}}, ExitCode::Unsupported);
    expect_refused(kv, {{"w", 1, {4, 2, 1, 1}, GgmlType::F32}}, ExitCode::General);  // ne[1] beyond n_dims
    expect_refused(kv, {{"w", 1, {-4, 1, 1, 1}, GgmlType::F32}}, ExitCode::General);
    expect_refused(kv, {{"w", 1, {32, 1, 1, 1}, static_cast<GgmlType>(4)}}, ExitCode::Unsupported);
    auto dup = kv;
    dup.push_back(kv[1]);
    expect_refused(dup, {ok}, ExitCode::General);
    auto empty = kv;
    empty.push_back({"", Value::u8(1)});
    expect_refused(empty, {ok}, ExitCode::General);
    // The largest legal name is fine.
    MemorySink sink;
    EXPECT_NO_THROW(gguf::Writer(sink, kv, {{std::string(63, 'n'), 1, {4, 1, 1, 1}, GgmlType::F32}}));
}

TEST(GgufWriter, DataMisuseThrows) {
    const std::vector<TensorDecl> decls = {{"a", 1, {4, 1, 1, 1}, GgmlType::F32}, {"b", 1, {2, 1, 1, 1}, GgmlType::F16}};
    {  // out of order
        MemorySink sink;
        gguf::Writer w(sink, {}, decls);
        EXPECT_THROW(w.write_data("b", pattern(4, 0)), Failure);
        w.write_data("a", pattern(10, 0));
        EXPECT_THROW(w.write_data("b", pattern(4, 0)), Failure);  // "a" still has 6 bytes to go
        w.write_data("a", pattern(6, 0));
        EXPECT_THROW(w.write_data("a", pattern(1, 0)), Failure);  // "a" is complete
        w.write_data("b", pattern(4, 0));
        w.finish();
        EXPECT_EQ(sink.bytes_written(), w.total_size());
    }
    {  // too much
        MemorySink sink;
        gguf::Writer w(sink, {}, decls);
        EXPECT_THROW(w.write_data(pattern(21, 0)), Failure);
    }
    {  // too little
        MemorySink sink;
        gguf::Writer w(sink, {}, decls);
        w.write_data(pattern(19, 0));
        try {
            w.finish();
            ADD_FAILURE() << "finish accepted an incomplete tensor";
        } catch (const Failure& f) {
            EXPECT_NE(f.error().message.find("'b' is incomplete (3 of 4 bytes"), std::string::npos) << f.error().message;
        }
        w.write_data(pattern(1, 0));
        EXPECT_NO_THROW(w.finish());
    }
}

// Records every write: the writer only ever appends (ByteSink has no seek), and the first
// write is the complete header.
class RecordingSink final : public ByteSink {
public:
    void write(std::span<const uint8_t> bytes) override {
        sizes.push_back(bytes.size());
        all.insert(all.end(), bytes.begin(), bytes.end());
    }
    uint64_t bytes_written() const override { return all.size(); }
    void finish() override {}
    void abort() noexcept override {}
    std::string name() const override { return "recording"; }
    std::vector<size_t> sizes;
    std::vector<uint8_t> all;
};

TEST(GgufWriter, HeaderFirstThenAppendOnly) {
    RecordingSink sink;
    sink.write(std::vector<uint8_t>(5, 0xEE));  // a sink need not start empty
    const auto decls = odd_tensors();
    gguf::Writer w(sink, all_value_types(), decls);
    ASSERT_EQ(sink.sizes.size(), 2u);
    EXPECT_EQ(sink.sizes[1], w.data_offset());
    uint64_t total = 0;
    for (const auto& d : decls) total += d.nbytes();
    w.write_data(pattern(total, 3));
    w.finish();
    EXPECT_EQ(sink.all.size(), 5 + w.total_size());
    EXPECT_EQ(std::accumulate(sink.sizes.begin(), sink.sizes.end(), size_t{0}), sink.all.size());
}

}  // namespace
}  // namespace llmq
