// End-to-end: the native llmq executable on the fixture models.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "llmq/format/gguf.hpp"
#include "llmq/format/imatrix.hpp"
#include "llmq/io/memory.hpp"
#include "support/cli_json.hpp"
#include "support/run_cli.hpp"

namespace llmq {
namespace {

using nlohmann::json;
using test::parse_json;
namespace fs = std::filesystem;

const std::string kLlama = test::fixture("models/tinyllama-spm.bf16.gguf").string();
const std::string kQwen = test::fixture("models/tinyqwen-bpe.bf16.gguf").string();

std::map<std::string, std::string> types_by_name(const json& result) {
    std::map<std::string, std::string> m;
    for (const auto& t : result["tensors"]) m[t["name"]] = t["type"];
    return m;
}

gguf::Header header_of(const fs::path& p) {
    MemorySource src(test::read_file(p), p.string());
    return gguf::read_header(src);
}

TEST(Cli, VersionAndHelp) {
    auto v = test::run_llmq({"--version"});
    EXPECT_EQ(v.exit_code, 0);
    EXPECT_NE(v.out.find("llmq "), std::string::npos);
    auto h = test::run_llmq({"quantize", "--help"});
    EXPECT_EQ(h.exit_code, 0);
    EXPECT_NE(h.out.find("--tensor-type"), std::string::npos);
    EXPECT_NE(h.out.find("Examples"), std::string::npos);
    EXPECT_EQ(test::run_llmq({}).exit_code, 2);
}

TEST(Cli, QuantizeQ4KMFollowsLlamaCppMixture) {
    const auto dir = test::temp_dir("q4km");
    const auto out = dir / "x.gguf";
    auto r = test::run_llmq({"quantize", kLlama, "-q", "Q4_K_M", "-o", out.string(), "--format", "json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = parse_json(r);
    EXPECT_EQ(j["status"], "success");
    EXPECT_EQ(j["level"], "Q4_K_M");
    auto types = types_by_name(j);
    EXPECT_EQ(types["token_embd.weight"], "q4_K");
    EXPECT_EQ(types["output.weight"], "q6_K");
    EXPECT_EQ(types["output_norm.weight"], "f32");
    for (int l = 0; l < 6; ++l) {
        const std::string b = "blk." + std::to_string(l) + ".";
        const bool more = l == 2 || l == 5;
        EXPECT_EQ(types[b + "attn_v.weight"], more ? "q6_K" : "q4_K") << l;
        EXPECT_EQ(types[b + "ffn_down.weight"], more ? "q6_K" : "q4_K") << l;
        EXPECT_EQ(types[b + "attn_q.weight"], "q4_K");
        EXPECT_EQ(types[b + "ffn_gate.weight"], "q4_K");
        EXPECT_FALSE(j["tensors"][0]["reason"].get<std::string>().empty());
    }
    ASSERT_TRUE(fs::exists(out));
    EXPECT_FALSE(fs::exists(out.string() + ".part"));
    EXPECT_EQ(fs::file_size(out), j["file_size"].get<uint64_t>());
    const auto h = header_of(out);
    EXPECT_EQ(h.find("general.file_type")->as_uint(), 15u);
    EXPECT_EQ(h.find("general.quantization_version")->as_uint(), 2u);
    EXPECT_EQ(h.tensors.size(), j["tensors"].size());
    EXPECT_GT(j["peak_memory_bytes"].get<uint64_t>(), 0u);
    EXPECT_FALSE(j["layer_summary"].empty());
}

TEST(Cli, TiedEmbeddingsFollowTheOutputRule) {
    const auto dir = test::temp_dir("qwen");
    auto r = test::run_llmq({"quantize", kQwen, "-q", "q5_k_m", "-o", (dir / "q.gguf").string(), "--format", "json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto types = types_by_name(parse_json(r));
    EXPECT_EQ(types["token_embd.weight"], "q6_K");
    EXPECT_EQ(types["blk.2.attn_v.weight"], "q6_K");
    EXPECT_EQ(types["blk.1.attn_v.weight"], "q5_K");
    EXPECT_EQ(types["blk.0.attn_q.bias"], "f32");
}

TEST(Cli, OutputIsIdenticalForAnyThreadCount) {
    const auto dir = test::temp_dir("threads");
    for (const std::string level : {"Q4_K_M", "Q8_0", "Q3_K_M"}) {
        const auto a = dir / ("a-" + level + ".gguf");
        const auto b = dir / ("b-" + level + ".gguf");
        ASSERT_EQ(test::run_llmq({"quantize", kLlama, "-q", level, "-o", a.string(), "-t", "1"}).exit_code, 0);
        ASSERT_EQ(test::run_llmq({"quantize", kLlama, "-q", level, "-o", b.string(), "-t", "2", "--chunk-mb", "1"}).exit_code, 0);
        EXPECT_EQ(test::read_file(a), test::read_file(b)) << level;
    }
}

TEST(Cli, InspectShowsTensorsAndMetadata) {
    auto r = test::run_llmq({"inspect", kLlama, "--format", "json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = parse_json(r);
    EXPECT_EQ(j["architecture"], "llama");
    EXPECT_EQ(j["parameter_count"], 5770496);
    EXPECT_EQ(j["metadata"]["llama.block_count"], 6);
    auto human = test::run_llmq({"inspect", kLlama});
    EXPECT_EQ(human.exit_code, 0);
    EXPECT_NE(human.err.find("blk.0.attn_q.weight"), std::string::npos);
}

// ---- bad input: clear one-line errors, CLI.md exit codes, output path untouched ----

void expect_failure(const std::vector<std::string>& args, int code, const std::string& needle, const fs::path& out) {
    auto r = test::run_llmq(args);
    EXPECT_EQ(r.exit_code, code) << r.err;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(out)) << out;
    EXPECT_FALSE(fs::exists(out.string() + ".part")) << out;
}

TEST(CliBadInput, MissingModel) {
    const auto out = test::temp_dir("missing") / "o.gguf";
    expect_failure({"quantize", "/nonexistent/model.gguf", "-q", "Q4_K_M", "-o", out.string()}, 3, "/nonexistent/model.gguf", out);
}

TEST(CliBadInput, TruncatedModel) {
    const auto dir = test::temp_dir("trunc");
    auto bytes = test::read_file(kLlama);
    for (size_t cut : {size_t(3), size_t(100), size_t(5000), bytes.size() / 2, bytes.size() - 1}) {
        std::vector<uint8_t> part(bytes.begin(), bytes.begin() + static_cast<long>(cut));
        const auto in = dir / "t.gguf";
        test::write_file(in, part);
        const auto out = dir / "o.gguf";
        expect_failure({"quantize", in.string(), "-q", "Q4_K_M", "-o", out.string()}, 8, in.string(), out);
    }
}

TEST(CliBadInput, BadMagicAndVersion) {
    const auto dir = test::temp_dir("magic");
    auto bytes = test::read_file(kLlama);
    bytes[0] = 'X';
    test::write_file(dir / "m.gguf", bytes);
    expect_failure({"quantize", (dir / "m.gguf").string(), "-q", "Q8_0", "-o", (dir / "o.gguf").string()}, 8, "m.gguf", dir / "o.gguf");
    bytes = test::read_file(kLlama);
    bytes[4] = 9;  // version 9
    test::write_file(dir / "v.gguf", bytes);
    expect_failure({"quantize", (dir / "v.gguf").string(), "-q", "Q8_0", "-o", (dir / "o.gguf").string()}, 6, "version", dir / "o.gguf");
}

TEST(CliBadInput, UsageErrors) {
    const auto out = test::temp_dir("usage") / "o.gguf";
    expect_failure({"quantize", kLlama, "-q", "Q9_X", "-o", out.string()}, 2, "Q9_X", out);
    expect_failure({"quantize", kLlama, "-q", "Q4_K_M", "--bogus", "-o", out.string()}, 2, "--bogus", out);
    expect_failure({"quantize", kLlama, "-o", out.string()}, 2, "level", out);
    expect_failure({"quantize", kLlama, "-q", "Q4_K_M", "--tensor-type", "attn_v=q9", "-o", out.string()}, 2, "q9", out);
    auto j = test::run_llmq({"quantize", kLlama, "-q", "nope", "--format", "json"});
    EXPECT_EQ(j.exit_code, 2);
    const json e = parse_json(j);
    EXPECT_EQ(e["status"], "error");
    EXPECT_EQ(e["error_code"], 2);
    EXPECT_FALSE(e["suggestion"].is_null());
}

TEST(CliBadInput, UnwritableOutput) {
    const auto out = fs::path("/nonexistent-dir/o.gguf");
    expect_failure({"quantize", kLlama, "-q", "Q8_0", "-o", out.string()}, 7, "o.gguf", out);
}

// An importance matrix whose entries have the wrong width (another model's).
TEST(CliBadInput, ImatrixForAnotherModel) {
    const auto dir = test::temp_dir("imat-other");
    ImatrixSums data;
    data.chunk_count = 1;
    data.chunk_size = 256;
    data.datasets = {"other.txt"};
    data.entries["blk.0.attn_q.weight"] = {std::vector<float>(512, 10.0f), {10}};  // tinyllama needs 256
    MemorySink sink;
    write_imatrix_gguf(sink, data);
    sink.finish();
    test::write_file(dir / "other.imatrix", sink.bytes());
    const auto out = dir / "o.gguf";
    expect_failure({"quantize", kLlama, "-q", "Q4_K_M", "--imatrix", (dir / "other.imatrix").string(), "-o", out.string()}, 10, "another model", out);
    expect_failure({"quantize", kLlama, "-q", "Q4_K_M", "--imatrix", (dir / "absent.imatrix").string(), "-o", out.string()}, 10, "absent.imatrix",
                   out);
}

TEST(Cli, QuantizeWithImatrixRecordsItInMetadata) {
    const auto dir = test::temp_dir("imat-ok");
    const auto model = header_of(kLlama);
    ImatrixSums data;
    data.chunk_count = 3;
    data.chunk_size = 256;
    data.datasets = {"tinystories_train.txt"};
    for (const auto& t : model.tensors) {
        if (t.name.rfind("blk.", 0) != 0 || t.n_dims != 2) continue;
        std::vector<float> v(static_cast<size_t>(t.ne[0]));
        for (size_t i = 0; i < v.size(); ++i) v[i] = 0.05f + static_cast<float>((i * 2654435761u) % 1000) / 250.0f;
        data.entries[t.name] = {v, {1}};
    }
    MemorySink sink;
    write_imatrix_gguf(sink, data);
    sink.finish();
    test::write_file(dir / "m.imatrix", sink.bytes());
    const auto with = dir / "with.gguf";
    const auto without = dir / "without.gguf";
    ASSERT_EQ(test::run_llmq({"quantize", kLlama, "-q", "Q4_K_M", "--imatrix", (dir / "m.imatrix").string(), "-o", with.string()}).exit_code, 0);
    ASSERT_EQ(test::run_llmq({"quantize", kLlama, "-q", "Q4_K_M", "-o", without.string()}).exit_code, 0);
    const auto h = header_of(with);
    ASSERT_NE(h.find("quantize.imatrix.file"), nullptr);
    EXPECT_EQ(h.find("quantize.imatrix.entries_count")->as_uint(), data.entries.size());
    EXPECT_EQ(h.find("quantize.imatrix.chunks_count")->as_uint(), 3u);
    EXPECT_EQ(*h.find("quantize.imatrix.dataset")->as_string(), "tinystories_train.txt");
    // The imatrix changes the quantized bytes of the weighted tensors.
    EXPECT_NE(test::read_file(with).size(), 0u);
    EXPECT_NE(test::read_file(with), test::read_file(without));
}

}  // namespace
}  // namespace llmq

namespace llmq {
namespace {

TEST(Cli, RequantizeNeedsTheFlagAndWarns) {
    const auto dir = test::temp_dir("requant");
    const auto q8 = dir / "q8.gguf";
    ASSERT_EQ(test::run_llmq({"quantize", kLlama, "-q", "Q8_0", "-o", q8.string()}).exit_code, 0);
    const auto out = dir / "q4.gguf";
    auto refused = test::run_llmq({"quantize", q8.string(), "-q", "Q4_K_M", "-o", out.string()});
    EXPECT_EQ(refused.exit_code, 2) << refused.err;
    EXPECT_NE(refused.err.find("--allow-requantize"), std::string::npos) << refused.err;
    EXPECT_FALSE(fs::exists(out));
    auto ok = test::run_llmq({"quantize", q8.string(), "-q", "Q4_K_M", "-o", out.string(), "--allow-requantize", "--format", "json"});
    ASSERT_EQ(ok.exit_code, 0) << ok.err;
    const json j = parse_json(ok);
    EXPECT_FALSE(j["warnings"].empty());
    EXPECT_EQ(types_by_name(j)["blk.0.attn_q.weight"], "q4_K");
}

TEST(Cli, PureAndLeaveOutputTensor) {
    const auto dir = test::temp_dir("pure");
    auto pure = test::run_llmq({"quantize", kLlama, "-q", "Q4_K_M", "--pure", "-o", (dir / "p.gguf").string(), "--format", "json"});
    ASSERT_EQ(pure.exit_code, 0) << pure.err;
    for (const auto& [name, type] : types_by_name(parse_json(pure))) {
        if (name.find("norm") == std::string::npos) {
            EXPECT_EQ(type, "q4_K") << name;
        }
    }
    auto keep = test::run_llmq({"quantize", kLlama, "-q", "Q4_K_M", "--leave-output-tensor", "--output-tensor-type", "q8_0", "-o",
                                (dir / "k.gguf").string(), "--format", "json"});
    ASSERT_EQ(keep.exit_code, 0) << keep.err;
    EXPECT_EQ(types_by_name(parse_json(keep))["output.weight"], "bf16");
    auto forced = test::run_llmq({"quantize", kLlama, "-q", "Q4_K_M", "--tensor-type", "blk\\.0\\.attn_v=q8_0", "--tensor-type",
                                  "blk\\.0\\.ffn_down=q8_0", "-o", (dir / "f.gguf").string(), "--format", "json"});
    ASSERT_EQ(forced.exit_code, 0) << forced.err;
    auto types = types_by_name(parse_json(forced));
    EXPECT_EQ(types["blk.0.attn_v.weight"], "q8_0");
    EXPECT_EQ(types["blk.3.attn_v.weight"], "q6_K");  // the positional rule moved (llama.cpp quirk)
    EXPECT_EQ(types["blk.2.attn_v.weight"], "q4_K");
}

TEST(Cli, DefaultOutputNameInTheCurrentDirectory) {
    const auto dir = test::temp_dir("default-name");
    const auto cwd = fs::current_path();
    fs::current_path(dir);
    auto r = test::run_llmq({"quantize", kLlama, "-q", "q8_0", "--quiet"});
    fs::current_path(cwd);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(fs::exists(dir / "tinyllama-spm.bf16-Q8_0.gguf"));
}

}  // namespace
}  // namespace llmq
