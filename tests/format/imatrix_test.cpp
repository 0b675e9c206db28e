// Importance matrix files: both llama.cpp layouts written and read back, their normalisation
// (sums / counts, stored / ncall), and every kind of bad input as ExitCode::Imatrix.
#include "llmq/format/imatrix.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "llmq/error.hpp"
#include "llmq/format/gguf.hpp"
#include "llmq/io/memory.hpp"
#include "support/fixtures.hpp"

namespace llmq {
namespace {

// A dense entry (one matrix of 8 columns) and a 3-expert entry whose second expert never ran.
ImatrixSums sample_sums() {
    ImatrixSums s;
    ImatrixStats dense;
    for (int i = 0; i < 8; ++i) dense.sums.push_back(0.75f * static_cast<float>(i + 1));
    dense.counts = {512};
    ImatrixStats experts;
    for (int i = 0; i < 12; ++i) experts.sums.push_back(static_cast<float>(i) + 0.5f);
    experts.counts = {100, 0, 7};
    s.entries["blk.0.attn_q.weight"] = dense;
    s.entries["blk.0.ffn_up_exps.weight"] = experts;
    s.datasets = {"earlier.txt", "calibration.txt"};
    s.chunk_count = 3;
    s.chunk_size = 256;
    return s;
}

std::vector<uint8_t> gguf_bytes(const ImatrixSums& s) {
    MemorySink sink("out.imatrix");
    write_imatrix_gguf(sink, s);
    sink.finish();
    return sink.bytes();
}

std::vector<uint8_t> dat_bytes(const ImatrixSums& s) {
    MemorySink sink("out.dat");
    write_imatrix_dat(sink, s);
    sink.finish();
    return sink.bytes();
}

ImatrixData read(const std::vector<uint8_t>& bytes, const std::string& name = "in.imatrix") {
    MemorySource source(bytes, name);
    return read_imatrix(source);
}

// Expects an Imatrix failure whose one-line message names the file and holds `fragment`.
void expect_invalid(const std::vector<uint8_t>& bytes, const std::string& fragment, const std::string& name = "bad.imatrix") {
    try {
        read(bytes, name);
        ADD_FAILURE() << "accepted";
    } catch (const Failure& f) {
        const std::string& m = f.error().message;
        EXPECT_EQ(f.error().code, ExitCode::Imatrix) << m;
        EXPECT_NE(m.find(name), std::string::npos) << m;
        EXPECT_EQ(m.find('\n'), std::string::npos) << m;
        EXPECT_NE(m.find(fragment), std::string::npos) << "'" << fragment << "' not in: " << m;
    }
}

TEST(Imatrix, GgufRoundTrip) {
    const ImatrixSums s = sample_sums();
    const ImatrixData d = read(gguf_bytes(s));
    EXPECT_EQ(d.format, "gguf");
    EXPECT_EQ(d.datasets, s.datasets);
    EXPECT_EQ(d.chunk_count, 3u);
    EXPECT_EQ(d.chunk_size, 256u);
    ASSERT_EQ(d.entries.size(), 2u);
    const auto& dense = d.entries.at("blk.0.attn_q.weight");
    ASSERT_EQ(dense.size(), 8u);
    for (size_t i = 0; i < 8; ++i) EXPECT_EQ(dense[i], 0.75f * static_cast<float>(i + 1) / 512.0f);
    const auto& experts = d.entries.at("blk.0.ffn_up_exps.weight");
    ASSERT_EQ(experts.size(), 12u);
    for (size_t i = 0; i < 4; ++i) EXPECT_EQ(experts[i], (static_cast<float>(i) + 0.5f) / 100.0f);
    for (size_t i = 4; i < 8; ++i) EXPECT_EQ(experts[i], 1.0f);  // the expert that saw nothing
    for (size_t i = 8; i < 12; ++i) EXPECT_EQ(experts[i], (static_cast<float>(i) + 0.5f) / 7.0f);
}

TEST(Imatrix, GgufLayoutIsLlamaCpps) {
    const auto bytes = gguf_bytes(sample_sums());
    MemorySource source(bytes, "layout.imatrix");
    const gguf::Header h = gguf::read_header(source);
    EXPECT_EQ(*h.find("general.type")->as_string(), "imatrix");
    EXPECT_EQ(h.find("general.architecture"), nullptr);
    EXPECT_EQ(h.find("imatrix.chunk_count")->type(), gguf::ValueType::UINT32);
    EXPECT_EQ(h.find("imatrix.chunk_size")->type(), gguf::ValueType::UINT32);
    EXPECT_EQ(h.find("imatrix.datasets")->array_type(), gguf::ValueType::STRING);
    ASSERT_EQ(h.tensors.size(), 4u);
    // Dense entries keep only significant dims: [ne0] and [1].
    EXPECT_EQ(h.tensors[0].name, "blk.0.attn_q.weight.in_sum2");
    EXPECT_EQ(h.tensors[0].n_dims, 1u);
    EXPECT_EQ(h.tensors[0].ne[0], 8);
    EXPECT_EQ(h.tensors[1].name, "blk.0.attn_q.weight.counts");
    EXPECT_EQ(h.tensors[1].n_dims, 1u);
    EXPECT_EQ(h.tensors[1].ne[0], 1);
    // Expert entries: [ne0, n_expert] and [1, n_expert].
    EXPECT_EQ(h.tensors[2].name, "blk.0.ffn_up_exps.weight.in_sum2");
    EXPECT_EQ(h.tensors[2].ne, (std::array<int64_t, 4>{4, 3, 1, 1}));
    EXPECT_EQ(h.tensors[3].ne, (std::array<int64_t, 4>{1, 3, 1, 1}));
    for (const auto& t : h.tensors) EXPECT_EQ(t.type, GgmlType::F32);
    // Counts are stored as floats.
    float counts[3];
    source.read(h.data_offset + h.tensors[3].offset, std::span(reinterpret_cast<uint8_t*>(counts), 12));
    EXPECT_EQ(counts[0], 100.0f);
    EXPECT_EQ(counts[1], 0.0f);
    EXPECT_EQ(counts[2], 7.0f);
}

// A GGUF imatrix made directly with the container writer, for contents our writer never makes.
std::vector<uint8_t> custom_gguf(std::vector<gguf::KeyValue> kv, const std::vector<float>& sums, const std::vector<float>& counts,
                                 const std::string& base = "w") {
    std::vector<gguf::TensorDecl> decls = {
        {base + ".in_sum2", 1, {static_cast<int64_t>(sums.size()), 1, 1, 1}, GgmlType::F32},
        {base + ".counts", 1, {static_cast<int64_t>(counts.size()), 1, 1, 1}, GgmlType::F32},
    };
    MemorySink sink;
    gguf::Writer w(sink, std::move(kv), decls);
    w.write_data(std::span(reinterpret_cast<const uint8_t*>(sums.data()), sums.size() * 4));
    w.write_data(std::span(reinterpret_cast<const uint8_t*>(counts.data()), counts.size() * 4));
    w.finish();
    sink.finish();
    return sink.bytes();
}

std::vector<gguf::KeyValue> imatrix_keys() {
    return {{"general.type", gguf::Value::string("imatrix")},
            {"imatrix.datasets", gguf::Value::string_array({"x.txt"})},
            {"imatrix.chunk_count", gguf::Value::u32(1)},
            {"imatrix.chunk_size", gguf::Value::u32(512)}};
}

TEST(Imatrix, GgufCountsAreRounded) {
    const auto d = read(custom_gguf(imatrix_keys(), {6.0f, 9.0f}, {2.6f}));
    EXPECT_EQ(d.entries.at("w"), (std::vector<float>{2.0f, 3.0f}));
    // A count that rounds to zero means "no data": values 1.0.
    EXPECT_EQ(read(custom_gguf(imatrix_keys(), {6.0f}, {0.4f})).entries.at("w"), (std::vector<float>{1.0f}));
}

TEST(Imatrix, GgufRejections) {
    expect_invalid(custom_gguf(imatrix_keys(), {1, 2, 3}, {1, 1}), "3 values for 2 counts");
    expect_invalid(custom_gguf(imatrix_keys(), {1, 2}, {-1}), "invalid count");
    expect_invalid(custom_gguf(imatrix_keys(), {1, NAN}, {1}), "non-finite");
    for (const char* key : {"imatrix.datasets", "imatrix.chunk_count", "imatrix.chunk_size"}) {
        auto kv = imatrix_keys();
        std::erase_if(kv, [&](const gguf::KeyValue& e) { return e.key == key; });
        expect_invalid(custom_gguf(kv, {1}, {1}), std::string("missing imatrix metadata (") + key + ")");
    }
    auto wrong_type = imatrix_keys();
    wrong_type[3].value = gguf::Value::u64(512);
    expect_invalid(custom_gguf(wrong_type, {1}, {1}), "imatrix.chunk_size must be a UINT32");
    auto not_imatrix = imatrix_keys();
    not_imatrix[0].value = gguf::Value::string("model");
    expect_invalid(custom_gguf(not_imatrix, {1}, {1}), "general.type is 'model'");

    // Unpaired tensors.
    const std::vector<gguf::TensorDecl> lone = {{"w.in_sum2", 1, {2, 1, 1, 1}, GgmlType::F32}};
    MemorySink sink;
    gguf::Writer w(sink, imatrix_keys(), lone);
    w.write_data(std::vector<uint8_t>(8, 0));
    w.finish();
    sink.finish();
    expect_invalid(sink.bytes(), "w.in_sum2 has no matching w.counts");
    // No entries at all.
    MemorySink empty;
    gguf::Writer(empty, imatrix_keys(), {}).finish();
    empty.finish();
    expect_invalid(empty.bytes(), "no <weight>.in_sum2");
}

TEST(Imatrix, ModelFileIsNotAnImatrix) {
    const auto bytes = test::read_file(test::fixture("models/tinyqwen-bpe.bf16.gguf"));
    expect_invalid(bytes, "general.type is 'model', not 'imatrix'", "tinyqwen-bpe.bf16.gguf");
    // Without general.type, the architecture key gives it away.
    MemorySource source(test::read_file(test::fixture("gguf/tiny-align32.gguf")), "tiny-align32.gguf");
    try {
        read_imatrix(source);
        ADD_FAILURE() << "accepted";
    } catch (const Failure& f) {
        EXPECT_EQ(f.error().code, ExitCode::Imatrix);
        EXPECT_NE(f.error().message.find("tiny-align32.gguf: not a usable importance matrix: a GGUF model"), std::string::npos) << f.error().message;
    }
}

TEST(Imatrix, DatRoundTrip) {
    ImatrixSums s = sample_sums();
    ImatrixStats unused;  // never saw a token: the legacy format drops it
    unused.sums = {0, 0};
    unused.counts = {0};
    s.entries["blk.1.attn_k.weight"] = unused;
    const auto bytes = dat_bytes(s);
    const ImatrixData d = read(bytes, "in.dat");
    EXPECT_EQ(d.format, "dat");
    EXPECT_EQ(d.datasets, std::vector<std::string>{"calibration.txt"});  // the last dataset
    EXPECT_EQ(d.chunk_count, 3u);
    EXPECT_EQ(d.chunk_size, 0u);
    ASSERT_EQ(d.entries.size(), 2u);
    EXPECT_EQ(d.entries.count("blk.1.attn_k.weight"), 0u);

    // ncall = ceil(512 / 256) = 2 for the dense entry, ceil(100 / 256) = 1 for the experts.
    int32_t first_ncall = 0;
    const size_t name_len = std::string("blk.0.attn_q.weight").size();
    std::memcpy(&first_ncall, bytes.data() + 8 + name_len, 4);
    EXPECT_EQ(first_ncall, 2);
    const auto& dense = d.entries.at("blk.0.attn_q.weight");
    for (size_t i = 0; i < 8; ++i) {
        const float stored = 0.75f * static_cast<float>(i + 1) / 512.0f * 2.0f;
        EXPECT_EQ(dense[i], stored / 2.0f);
    }
    const auto& experts = d.entries.at("blk.0.ffn_up_exps.weight");
    for (size_t i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(experts[i], (static_cast<float>(i) + 0.5f) / 100.0f);
    for (size_t i = 4; i < 8; ++i) EXPECT_EQ(experts[i], 1.0f);
    for (size_t i = 8; i < 12; ++i) EXPECT_FLOAT_EQ(experts[i], (static_cast<float>(i) + 0.5f) / 7.0f);
}

// A legacy file written field by field.
struct DatBytes {
    std::vector<uint8_t> b;
    DatBytes& i32(int32_t v) {
        const auto* p = reinterpret_cast<const uint8_t*>(&v);
        b.insert(b.end(), p, p + 4);
        return *this;
    }
    DatBytes& f32(float v) {
        const auto* p = reinterpret_cast<const uint8_t*>(&v);
        b.insert(b.end(), p, p + 4);
        return *this;
    }
    DatBytes& text(const std::string& s) {
        i32(static_cast<int32_t>(s.size()));
        b.insert(b.end(), s.begin(), s.end());
        return *this;
    }
};

TEST(Imatrix, DatWithoutTrailerAndWithNonPositiveNcall) {
    DatBytes d;
    d.i32(2).text("a").i32(4).i32(2).f32(8.0f).f32(2.0f).text("b").i32(0).i32(1).f32(5.0f);
    const ImatrixData no_trailer = read(d.b, "old.dat");
    EXPECT_EQ(no_trailer.entries.at("a"), (std::vector<float>{2.0f, 0.5f}));
    EXPECT_EQ(no_trailer.entries.at("b"), std::vector<float>{5.0f});  // ncall 0: as stored
    EXPECT_EQ(no_trailer.chunk_count, 0u);
    EXPECT_TRUE(no_trailer.datasets.empty());

    d.i32(17).text("wiki.txt");
    const ImatrixData with = read(d.b, "new.dat");
    EXPECT_EQ(with.chunk_count, 17u);
    EXPECT_EQ(with.datasets, std::vector<std::string>{"wiki.txt"});
}

TEST(Imatrix, DatRejections) {
    expect_invalid(DatBytes().i32(0).b, "entry count 0");
    expect_invalid(DatBytes().i32(-5).b, "entry count -5");
    expect_invalid(DatBytes().i32(1 << 30).text("a").i32(1).i32(1).f32(1).b, "claims 1073741824 entries");
    expect_invalid(DatBytes().i32(1).i32(0).i32(1).i32(1).f32(1).f32(1).b, "name length 0");
    expect_invalid(DatBytes().i32(1).text("a").i32(1).i32(0).f32(1).b, "value count 0");
    expect_invalid(DatBytes().i32(1).text("a").i32(1).i32(1 << 29).f32(1).b, "truncated");
    expect_invalid(DatBytes().i32(2).text("a").i32(1).i32(1).f32(1).text("a").i32(1).i32(1).f32(1).b, "duplicate entry 'a'");
    expect_invalid(DatBytes().i32(1).text("a").i32(1).i32(1).f32(INFINITY).b, "non-finite");
    expect_invalid(DatBytes().i32(1).text("a").i32(1).i32(1).f32(1).i32(-1).text("x").b, "negative chunk count");
    // Random bytes.
    std::vector<uint8_t> garbage(4096);
    for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<uint8_t>((i * 2654435761u) >> 13);
    expect_invalid(garbage, "bad.imatrix");
    expect_invalid({}, "truncated");
}

TEST(Imatrix, EveryTruncationIsRejected) {
    const auto gguf = gguf_bytes(sample_sums());
    for (size_t n = 0; n < gguf.size(); ++n) {
        SCOPED_TRACE(n);
        expect_invalid(std::vector<uint8_t>(gguf.begin(), gguf.begin() + static_cast<std::ptrdiff_t>(n)), "cut.gguf", "cut.gguf");
    }
    // A .dat cut exactly where the optional trailer starts is a valid old-style file.
    const auto dat = dat_bytes(sample_sums());
    const size_t trailer = 4 + (4 + 19 + 4 + 4 + 8 * 4) + (4 + 24 + 4 + 4 + 12 * 4);
    ASSERT_EQ(dat.size(), trailer + 4 + 4 + std::string("calibration.txt").size());
    for (size_t n = 0; n < dat.size(); ++n) {
        SCOPED_TRACE(n);
        std::vector<uint8_t> cut(dat.begin(), dat.begin() + static_cast<std::ptrdiff_t>(n));
        if (n == trailer) {
            EXPECT_EQ(read(cut).entries.size(), 2u);
        } else {
            expect_invalid(cut, "cut.dat", "cut.dat");
        }
    }
}

TEST(Imatrix, WritersRefuseBadInput) {
    MemorySink sink("x");
    EXPECT_THROW(write_imatrix_gguf(sink, ImatrixSums{}), Failure);
    ImatrixSums s = sample_sums();
    s.entries["bad"] = ImatrixStats{{1, 2, 3}, {1, 1}};
    EXPECT_THROW(write_imatrix_gguf(sink, s), Failure);
    s = sample_sums();
    s.chunk_size = 0;
    EXPECT_THROW(write_imatrix_dat(sink, s), Failure);
    s = sample_sums();
    s.entries.begin()->second.sums[0] = NAN;
    try {
        write_imatrix_dat(sink, s);
        ADD_FAILURE() << "accepted";
    } catch (const Failure& f) {
        EXPECT_EQ(f.error().code, ExitCode::Importance);
    }
}

}  // namespace
}  // namespace llmq
