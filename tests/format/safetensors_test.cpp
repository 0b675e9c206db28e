// The safetensors reader: the fixture shards (single and sharded through the index) and
// hand-made hostile headers and indexes, one per validation rule.
#include "llmq/format/safetensors.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "llmq/error.hpp"
#include "llmq/io/memory.hpp"
#include "posix_io.hpp"
#include "support/fixtures.hpp"
#include "support/hf_builder.hpp"

namespace llmq {
namespace {

using nlohmann::json;
using safetensors::DType;

const auto kLlamaDir = test::fixture("models/tinyllama-spm");
const auto kQwenDir = test::fixture("models/tinyqwen-bpe");

std::vector<uint8_t> with_header(const std::string& header_text, size_t data_bytes) {
    std::string buf(8, '\0');  // a string: GCC 12 warns falsely on vector range inserts here
    const uint64_t n = header_text.size();
    std::memcpy(buf.data(), &n, 8);
    buf += header_text;
    buf.append(data_bytes, '\0');
    return {buf.begin(), buf.end()};
}

void expect_failure(const std::function<void()>& fn, ExitCode code, std::initializer_list<std::string> fragments) {
    try {
        fn();
        ADD_FAILURE() << "accepted invalid input";
    } catch (const Failure& f) {
        const std::string& m = f.error().message;
        EXPECT_EQ(f.error().code, code) << m;
        EXPECT_EQ(m.find('\n'), std::string::npos) << m;
        for (const auto& frag : fragments) EXPECT_NE(m.find(frag), std::string::npos) << "'" << frag << "' not in: " << m;
    }
}

void expect_header_rejected(const std::vector<uint8_t>& bytes, ExitCode code, std::initializer_list<std::string> fragments) {
    MemorySource src(bytes, "hand.safetensors");
    expect_failure([&] { safetensors::read_header(src, "hand.safetensors"); }, code, fragments);
    // Every message names the file.
    try {
        safetensors::read_header(src, "hand.safetensors");
    } catch (const Failure& f) {
        EXPECT_NE(f.error().message.find("hand.safetensors"), std::string::npos) << f.error().message;
    }
}

TEST(Safetensors, ReadsTheFixtureShardHeader) {
    native::FileSource src(kLlamaDir / "model-00001-of-00002.safetensors");
    const auto h = safetensors::read_header(src, "model-00001-of-00002.safetensors");
    EXPECT_EQ(h.data_offset, 8u + 3248u);
    EXPECT_EQ(h.file_size, 5970104u);
    ASSERT_EQ(h.metadata.size(), 1u);
    EXPECT_EQ(h.metadata[0], (std::pair<std::string, std::string>{"format", "pt"}));
    const auto* embed = h.find("model.embed_tokens.weight");
    ASSERT_NE(embed, nullptr);
    EXPECT_EQ(embed->dtype, DType::BF16);
    EXPECT_EQ(embed->shape, (std::vector<int64_t>{2048, 256}));
    EXPECT_EQ(embed->begin, 0u);
    EXPECT_EQ(embed->end, 1048576u);
    const auto* k3 = h.find("model.layers.3.self_attn.k_proj.weight");
    ASSERT_NE(k3, nullptr);
    EXPECT_EQ(k3->begin, 5770240u);
    EXPECT_EQ(k3->n_elements(), 128 * 256);
    EXPECT_EQ(h.find("lm_head.weight"), nullptr);  // in the second shard
    EXPECT_TRUE(std::is_sorted(h.tensors.begin(), h.tensors.end(), [](const auto& a, const auto& b) { return a.name < b.name; }));
}

TEST(Safetensors, OpensTheShardedSetThroughItsIndex) {
    native::DiskFileSet files(kLlamaDir);
    const auto ck = safetensors::open_checkpoint(files);
    ASSERT_EQ(ck.shards.size(), 2u);
    EXPECT_EQ(ck.shards[0].file, "model-00001-of-00002.safetensors");
    EXPECT_EQ(ck.shards[1].file, "model-00002-of-00002.safetensors");
    EXPECT_EQ(ck.tensors.size(), 57u);
    EXPECT_EQ(ck.total_bytes, 5970104u + 5577040u);
    // Shard order, then name order inside a shard.
    EXPECT_EQ(ck.entry(ck.tensors.front()).name, "model.embed_tokens.weight");
    EXPECT_EQ(ck.entry(ck.tensors[29]).name, "model.layers.3.self_attn.q_proj.weight");
    EXPECT_EQ(ck.entry(ck.tensors[30]).name, "lm_head.weight");
    EXPECT_EQ(ck.entry(ck.tensors.back()).name, "model.norm.weight");
    const auto* lm = ck.find("lm_head.weight");
    ASSERT_NE(lm, nullptr);
    EXPECT_EQ(lm->shard, 1u);
    EXPECT_EQ(ck.data_start(*lm), 8u + 2888u);
}

TEST(Safetensors, OpensASingleFile) {
    native::DiskFileSet files(kQwenDir);
    const auto ck = safetensors::open_checkpoint(files);
    ASSERT_EQ(ck.shards.size(), 1u);
    EXPECT_EQ(ck.shards[0].file, "model.safetensors");
    EXPECT_EQ(ck.tensors.size(), 50u);
    EXPECT_EQ(ck.find("lm_head.weight"), nullptr);
    EXPECT_NE(ck.find("model.layers.0.self_attn.q_proj.bias"), nullptr);
}

TEST(Safetensors, AcceptsEveryWholeByteDtype) {
    const auto bytes = test::safetensors_bytes(
        {{"a", "I64", {3}, std::vector<uint8_t>(24)}, {"b", "F8_E4M3", {2, 2}, std::vector<uint8_t>(4)}, {"c", "BOOL", {0}, {}}});
    MemorySource src(bytes, "ok.safetensors");
    const auto h = safetensors::read_header(src, "ok.safetensors");
    ASSERT_EQ(h.tensors.size(), 3u);
    EXPECT_EQ(h.find("a")->dtype, DType::I64);
    EXPECT_EQ(h.find("b")->nbytes(), 4u);
    EXPECT_FALSE(safetensors::float_type(DType::I64).has_value());
    EXPECT_EQ(safetensors::float_type(DType::BF16), GgmlType::BF16);
}

// ---- hostile headers ----

TEST(SafetensorsRejects, ShortFilesAndLengthPrefixes) {
    expect_header_rejected({1, 2, 3}, ExitCode::CorruptInput, {"truncated"});
    auto big = with_header("{}", 0);
    const uint64_t huge = 200'000'000;
    std::memcpy(big.data(), &huge, 8);
    expect_header_rejected(big, ExitCode::CorruptInput, {"200000000", "limit"});
    auto past = with_header("{}", 0);
    const uint64_t too_long = 4096;
    std::memcpy(past.data(), &too_long, 8);
    expect_header_rejected(past, ExitCode::CorruptInput, {"truncated", "4096"});
}

TEST(SafetensorsRejects, MalformedJson) {
    expect_header_rejected(with_header("{\"a\": ", 0), ExitCode::CorruptInput, {"not valid JSON"});
    expect_header_rejected(with_header("[1, 2]", 0), ExitCode::CorruptInput, {"not a JSON object"});
    expect_header_rejected(with_header(R"({"a": 5})", 0), ExitCode::CorruptInput, {"'a'", "object"});
    expect_header_rejected(with_header(R"({"__metadata__": {"k": 1}})", 0), ExitCode::CorruptInput, {"__metadata__"});
}

TEST(SafetensorsRejects, DuplicateTensorNames) {
    expect_header_rejected(
        with_header(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8),
        ExitCode::CorruptInput, {"'w'", "twice"});
}

TEST(SafetensorsRejects, MissingOrBadFields) {
    expect_header_rejected(with_header(R"({"w":{"shape":[1],"data_offsets":[0,4]}})", 4), ExitCode::CorruptInput, {"'w'", "dtype"});
    expect_header_rejected(with_header(R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", 4), ExitCode::CorruptInput, {"shape"});
    expect_header_rejected(with_header(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", 4), ExitCode::CorruptInput, {"data_offsets"});
    expect_header_rejected(with_header(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4), ExitCode::CorruptInput,
                           {"dimension", "non-negative"});
    expect_header_rejected(with_header(R"({"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", 4), ExitCode::CorruptInput, {"dimension"});
    expect_header_rejected(with_header(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", 4), ExitCode::CorruptInput,
                           {"begin 4 after end 0"});
}

TEST(SafetensorsRejects, UnknownDtypeIsUnsupported) {
    expect_header_rejected(with_header(R"({"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,1]}})", 1), ExitCode::Unsupported, {"'w'", "'Q4'"});
}

TEST(SafetensorsRejects, HeadersThatLieAboutSizes) {
    // The shape says 8 bytes, the offsets 12.
    expect_header_rejected(with_header(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,12]}})", 12), ExitCode::CorruptInput,
                           {"'w'", "claims 12 bytes", "make 8"});
    // An element count that overflows 64 bits.
    expect_header_rejected(with_header(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,4]}})", 4), ExitCode::CorruptInput,
                           {"overflows"});
    expect_header_rejected(with_header(R"({"w":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,8]}})", 8), ExitCode::CorruptInput,
                           {"more than 2^64"});
    // Two tensors sharing bytes.
    expect_header_rejected(
        with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12),
        ExitCode::CorruptInput, {"'a'", "'b'", "overlap"});
}

TEST(SafetensorsRejects, TensorsPastTheEndOfTheFile) {
    auto bytes = test::safetensors_bytes({{"w", "F32", {4, 4}, std::vector<uint8_t>(64, 1)}});
    bytes.resize(bytes.size() - 1);
    expect_header_rejected(bytes, ExitCode::CorruptInput, {"truncated", "'w'", "ends at data offset 64", "63"});
}

// ---- indexes and directories ----

MemoryFileSet sharded(const json& weight_map, bool write_shards = true) {
    MemoryFileSet files("hf");
    const std::string index = json{{"metadata", json::object()}, {"weight_map", weight_map}}.dump();
    files.add("model.safetensors.index.json", {index.begin(), index.end()});
    if (write_shards) {
        files.add("a.safetensors", test::safetensors_bytes({{"x", "F32", {2}, std::vector<uint8_t>(8)}}));
        files.add("b.safetensors", test::safetensors_bytes({{"y", "F32", {2}, std::vector<uint8_t>(8)}}));
    }
    return files;
}

TEST(SafetensorsIndex, OpensShardsInNameOrder) {
    const auto files = sharded({{"y", "b.safetensors"}, {"x", "a.safetensors"}});
    const auto ck = safetensors::open_checkpoint(files);
    ASSERT_EQ(ck.shards.size(), 2u);
    EXPECT_EQ(ck.entry(ck.tensors[0]).name, "x");
    EXPECT_EQ(ck.entry(ck.tensors[1]).name, "y");
}

TEST(SafetensorsIndex, RejectsPathsOutsideTheDirectory) {
    for (const std::string bad : {"../a.safetensors", "/etc/passwd", "sub/../../a.safetensors", "sub/a.safetensors", "..", "a\\..\\b"}) {
        const auto files = sharded({{"x", bad}});
        expect_failure([&] { safetensors::open_checkpoint(files); }, ExitCode::CorruptInput, {"'" + bad + "'", "outside the model directory"});
    }
}

TEST(SafetensorsIndex, AbsentShardIsNotFound) {
    const auto files = sharded({{"x", "a.safetensors"}, {"z", "c.safetensors"}});
    expect_failure([&] { safetensors::open_checkpoint(files); }, ExitCode::ModelNotFound, {"'c.safetensors'", "missing"});
}

TEST(SafetensorsIndex, IndexAndShardsMustAgree) {
    const auto files = sharded({{"x", "b.safetensors"}, {"y", "b.safetensors"}});
    expect_failure([&] { safetensors::open_checkpoint(files); }, ExitCode::CorruptInput, {"'x'", "'b.safetensors'", "does not hold"});
    MemoryFileSet twice = sharded({{"x", "a.safetensors"}, {"y", "b.safetensors"}});
    twice.add("b.safetensors", test::safetensors_bytes({{"x", "F32", {2}, std::vector<uint8_t>(8)}, {"y", "F32", {1}, std::vector<uint8_t>(4)}}));
    expect_failure([&] { safetensors::open_checkpoint(twice); }, ExitCode::CorruptInput, {"'x'", "stored twice"});
}

TEST(SafetensorsIndex, MalformedIndex) {
    MemoryFileSet files("hf");
    files.add("model.safetensors.index.json", test::SyntheticModel::text("{\"weight_map\": "));
    expect_failure([&] { safetensors::open_checkpoint(files); }, ExitCode::CorruptInput, {"model.safetensors.index.json", "JSON"});
    MemoryFileSet no_map("hf");
    no_map.add("model.safetensors.index.json", test::SyntheticModel::text("{\"metadata\": {}}"));
    expect_failure([&] { safetensors::open_checkpoint(no_map); }, ExitCode::CorruptInput, {"weight_map"});
    const auto not_string = sharded({{"x", 5}});
    expect_failure([&] { safetensors::open_checkpoint(not_string); }, ExitCode::CorruptInput, {"'x'", "not a string"});
}

TEST(SafetensorsDirectory, WithoutWeights) {
    MemoryFileSet empty("hf");
    empty.add("config.json", test::SyntheticModel::text("{}"));
    expect_failure([&] { safetensors::open_checkpoint(empty); }, ExitCode::ModelNotFound, {"hf", "safetensors"});
    MemoryFileSet pickle("hf");
    pickle.add("config.json", test::SyntheticModel::text("{}"));
    pickle.add("pytorch_model.bin", {1, 2, 3});
    expect_failure([&] { safetensors::open_checkpoint(pickle); }, ExitCode::Unsupported, {"PyTorch"});
}

TEST(SafetensorsDirectory, UnindexedShardsAreTakenInNameOrder) {
    MemoryFileSet files("hf");
    files.add("model-2.safetensors", test::safetensors_bytes({{"b", "F32", {1}, std::vector<uint8_t>(4)}}));
    files.add("model-1.safetensors", test::safetensors_bytes({{"a", "F32", {1}, std::vector<uint8_t>(4)}}));
    files.add("consolidated.safetensors", test::safetensors_bytes({{"c", "F32", {1}, std::vector<uint8_t>(4)}}));
    const auto ck = safetensors::open_checkpoint(files);
    ASSERT_EQ(ck.shards.size(), 2u);
    EXPECT_EQ(ck.entry(ck.tensors[0]).name, "a");
    EXPECT_EQ(ck.entry(ck.tensors[1]).name, "b");
}

}  // namespace
}  // namespace llmq
