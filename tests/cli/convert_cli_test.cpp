// End-to-end: `llmq convert` and `llmq quantize`/`inspect` on HuggingFace directories, checked
// against the GGUFs llama.cpp's convert_hf_to_gguf.py wrote for the fixture models, on
// synthetic models of the other architectures, and on broken directories.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "llmq/format/gguf.hpp"
#include "llmq/format/model.hpp"
#include "posix_io.hpp"
#include "support/cli_json.hpp"
#include "support/hf_builder.hpp"
#include "support/run_cli.hpp"

namespace llmq {
namespace {

using nlohmann::json;
using test::parse_json;
namespace fs = std::filesystem;

std::string model_dir(const std::string& name) {
    return test::fixture("models/" + name).string();
}
std::string reference_gguf(const std::string& name) {
    return test::fixture("models/" + name + ".bf16.gguf").string();
}

ModelView open_file(const fs::path& p) {
    return open_gguf_model(std::make_shared<native::FileSource>(p));
}

std::vector<uint8_t> tensor_bytes(const ModelTensor& t) {
    std::vector<uint8_t> out(t.nbytes());
    t.read_rows(0, t.n_rows(), out);
    return out;
}

bool is_naming_key(const std::string& key) {
    return key == "general.name" || key == "general.size_label" || key == "general.basename" || key == "general.finetune" ||
           key == "general.version" || key == "general.type";
}

// The acceptance comparison: tensors identical (names, shapes, types, bytes, order), and
// every hyperparameter and tokenizer key present in both with the same type and value.
void expect_same_model(const fs::path& ours_path, const fs::path& ref_path) {
    const ModelView ours = open_file(ours_path);
    const ModelView ref = open_file(ref_path);
    ASSERT_EQ(ours.tensors.size(), ref.tensors.size());
    for (size_t i = 0; i < ref.tensors.size(); ++i) {
        const auto& a = ours.tensors[i];
        const auto& b = ref.tensors[i];
        ASSERT_EQ(a.name, b.name) << i;
        EXPECT_EQ(a.n_dims, b.n_dims) << a.name;
        EXPECT_EQ(a.ne, b.ne) << a.name;
        EXPECT_EQ(a.type, b.type) << a.name;
        EXPECT_TRUE(tensor_bytes(a) == tensor_bytes(b)) << a.name;
    }
    size_t compared = 0;
    for (const auto& kv : ref.metadata) {
        if (is_naming_key(kv.key)) continue;
        const gguf::Value* mine = ours.find(kv.key);
        ASSERT_NE(mine, nullptr) << "missing " << kv.key;
        EXPECT_TRUE(*mine == kv.value) << kv.key;
        ++compared;
    }
    for (const auto& kv : ours.metadata) {
        if (!is_naming_key(kv.key)) {
            EXPECT_NE(ref.find(kv.key), nullptr) << "extra key " << kv.key;
        }
    }
    EXPECT_GE(compared, 15u);
}

class ConvertFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(ConvertFixture, Bf16EqualsTheLlamaCppConversion) {
    const auto dir = test::temp_dir("convert-" + GetParam());
    const auto out = dir / "a.gguf";
    auto r = test::run_llmq({"convert", model_dir(GetParam()), "-o", out.string(), "--outtype", "bf16", "--format", "json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = parse_json(r);
    EXPECT_EQ(j["status"], "success");
    EXPECT_EQ(j["output_path"], out.string());
    EXPECT_EQ(j["format"], "gguf");
    EXPECT_EQ(j["outtype"], "bf16");
    EXPECT_EQ(j["file_size"].get<uint64_t>(), fs::file_size(out));
    EXPECT_GT(j["input_size"].get<uint64_t>(), 0u);
    EXPECT_GT(j["peak_memory_bytes"].get<uint64_t>(), 0u);
    EXPECT_TRUE(j["duration_seconds"].is_number());
    EXPECT_TRUE(j["warnings"].empty()) << j["warnings"].dump();
    EXPECT_EQ(j["tensors"].size(), open_file(reference_gguf(GetParam())).tensors.size());
    EXPECT_FALSE(fs::exists(out.string() + ".part"));
    expect_same_model(out, reference_gguf(GetParam()));
    // Naming keys included, the whole file equals llama.cpp's.
    EXPECT_TRUE(test::read_file(out) == test::read_file(reference_gguf(GetParam()))) << "not byte-identical to the reference";
}

// quantize DIR streams straight from the directory and equals quantizing the converted GGUF
// (and, since the conversion is identical, quantizing llama.cpp's own conversion).
TEST_P(ConvertFixture, QuantizeFromTheDirectoryEqualsQuantizingTheConversion) {
    const auto dir = test::temp_dir("qdir-" + GetParam());
    const auto direct = dir / "direct.gguf", converted = dir / "c.gguf", via = dir / "via.gguf", ref = dir / "ref.gguf";
    auto d = test::run_llmq({"quantize", model_dir(GetParam()), "-q", "Q4_K_M", "-o", direct.string(), "--format", "json"});
    ASSERT_EQ(d.exit_code, 0) << d.err;
    const json j = parse_json(d);
    EXPECT_EQ(j["level"], "Q4_K_M");
    ASSERT_EQ(test::run_llmq({"convert", model_dir(GetParam()), "-o", converted.string()}).exit_code, 0);
    ASSERT_EQ(test::run_llmq({"quantize", converted.string(), "-q", "Q4_K_M", "-o", via.string()}).exit_code, 0);
    ASSERT_EQ(test::run_llmq({"quantize", reference_gguf(GetParam()), "-q", "Q4_K_M", "-o", ref.string()}).exit_code, 0);
    const auto direct_bytes = test::read_file(direct);
    EXPECT_TRUE(direct_bytes == test::read_file(via)) << "quantize DIR differs from quantize(convert DIR)";
    EXPECT_TRUE(direct_bytes == test::read_file(ref)) << "quantize DIR differs from quantize(reference .bf16.gguf)";
}

TEST_P(ConvertFixture, InspectReadsTheDirectory) {
    auto r = test::run_llmq({"inspect", model_dir(GetParam()), "--format", "json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = parse_json(r);
    const json ref = parse_json(test::run_llmq({"inspect", reference_gguf(GetParam()), "--format", "json"}));
    EXPECT_EQ(j["format"], "huggingface");
    EXPECT_EQ(j["architecture"], ref["architecture"]);
    EXPECT_EQ(j["parameter_count"], ref["parameter_count"]);
    EXPECT_EQ(j["metadata"], ref["metadata"]);
    EXPECT_EQ(j["tensors"], ref["tensors"]);
}

INSTANTIATE_TEST_SUITE_P(Hf, ConvertFixture, ::testing::Values("tinyllama-spm", "tinyqwen-bpe"));

TEST(ConvertCli, OtherOuttypesAndChunkSizes) {
    const auto dir = test::temp_dir("convert-outtypes");
    const auto f32 = dir / "f32.gguf", f16 = dir / "f16.gguf", small = dir / "small.gguf";
    ASSERT_EQ(test::run_llmq({"convert", model_dir("tinyllama-spm"), "-o", f32.string(), "--outtype", "F32"}).exit_code, 0);
    ASSERT_EQ(test::run_llmq({"convert", model_dir("tinyllama-spm"), "-o", f16.string(), "--outtype", "f16", "-t", "1"}).exit_code, 0);
    const ModelView a = open_file(f32), b = open_file(f16);
    EXPECT_EQ(a.find("general.file_type")->as_uint(), 0u);
    EXPECT_EQ(b.find("general.file_type")->as_uint(), 1u);
    EXPECT_EQ(a.find_tensor("blk.0.attn_q.weight")->type, GgmlType::F32);
    EXPECT_EQ(b.find_tensor("blk.0.attn_q.weight")->type, GgmlType::F16);
    EXPECT_EQ(b.find_tensor("blk.0.attn_norm.weight")->type, GgmlType::F32);
    // Chunks of one MiB (heads split across chunks) write the same file.
    ASSERT_EQ(test::run_llmq({"convert", model_dir("tinyllama-spm"), "-o", small.string(), "--outtype", "f16", "--chunk-mb", "1"}).exit_code, 0);
    EXPECT_TRUE(test::read_file(small) == test::read_file(f16));
    // A float GGUF converts between float types too, giving the same file as from the directory.
    const auto from_gguf = dir / "from-gguf.gguf";
    auto g = test::run_llmq({"convert", reference_gguf("tinyllama-spm"), "-o", from_gguf.string(), "--outtype", "f16"});
    ASSERT_EQ(g.exit_code, 0) << g.err;
    const ModelView c = open_file(from_gguf);
    for (size_t i = 0; i < b.tensors.size(); ++i) EXPECT_TRUE(tensor_bytes(c.tensors[i]) == tensor_bytes(b.tensors[i])) << b.tensors[i].name;
}

// ---- models we have no reference for: other architectures, F16, odd widths ----

struct Synthetic {
    std::string name;
    test::SyntheticModel model;
};

test::SyntheticModel mistral_f16() {
    test::SyntheticModel s;
    s.architecture = "MistralForCausalLM";
    s.model_type = "mistral";
    s.dtype = "F16";
    s.shards = 2;
    return s;
}

test::SyntheticModel qwen3_bf16() {
    test::SyntheticModel s;
    s.architecture = "Qwen3ForCausalLM";
    s.model_type = "qwen3";
    s.dtype = "BF16";
    s.hidden = 80;  // not a multiple of 32 either: quantize falls back for these rows
    s.heads = 4;
    s.kv_heads = 2;
    s.head_dim = 32;
    s.qk_norm = true;
    s.tied = true;
    s.tokenizer = test::SyntheticModel::Bpe;
    return s;
}

test::SyntheticModel qwen2_f32() {
    test::SyntheticModel s;
    s.architecture = "Qwen2ForCausalLM";
    s.model_type = "qwen2";
    s.dtype = "F32";
    s.qkv_bias = true;
    s.tokenizer = test::SyntheticModel::Bpe;
    return s;
}

class ConvertSynthetic : public ::testing::TestWithParam<int> {
protected:
    static test::SyntheticModel model(int i) { return i == 0 ? mistral_f16() : i == 1 ? qwen3_bf16() : qwen2_f32(); }
};

TEST_P(ConvertSynthetic, ConvertsAndQuantizesStraightFromTheDirectory) {
    const auto s = model(GetParam());
    const auto dir = s.write("synthetic-" + std::to_string(GetParam()));
    const auto out = test::temp_dir("synthetic-out-" + std::to_string(GetParam()));
    auto r = test::run_llmq({"convert", dir.string(), "-o", (out / "c.gguf").string(), "--format", "json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = parse_json(r);
    EXPECT_TRUE(j["warnings"].empty()) << j["warnings"].dump();
    const std::string expected_outtype = s.dtype == "BF16" ? "bf16" : "f16";  // auto
    EXPECT_EQ(j["outtype"], expected_outtype);
    const ModelView c = open_file(out / "c.gguf");
    EXPECT_EQ(c.architecture(), s.model_type == "mistral" ? "llama" : s.model_type);
    for (const auto& t : c.tensors) {
        EXPECT_EQ(std::string(type_name(t.type)), t.n_dims == 1 ? "f32" : expected_outtype) << t.name;
    }
    EXPECT_EQ(c.find_tensor("output.weight") != nullptr, !s.tied);
    EXPECT_EQ(c.find_tensor("blk.0.attn_q_norm.weight") != nullptr, s.qk_norm);
    EXPECT_EQ(c.find_tensor("blk.1.attn_v.bias") != nullptr, s.qkv_bias);

    const auto direct = out / "direct.gguf", via = out / "via.gguf";
    auto q = test::run_llmq({"quantize", dir.string(), "-q", "Q4_K_M", "-o", direct.string(), "--format", "json"});
    ASSERT_EQ(q.exit_code, 0) << q.err;
    ASSERT_EQ(test::run_llmq({"quantize", (out / "c.gguf").string(), "-q", "Q4_K_M", "-o", via.string()}).exit_code, 0);
    if (s.dtype == "F32") {
        // auto narrows F32 weights to F16 before quantizing; from the directory they stay F32.
        const auto f32 = out / "c32.gguf", via32 = out / "via32.gguf";
        ASSERT_EQ(test::run_llmq({"convert", dir.string(), "-o", f32.string(), "--outtype", "f32"}).exit_code, 0);
        ASSERT_EQ(test::run_llmq({"quantize", f32.string(), "-q", "Q4_K_M", "-o", via32.string()}).exit_code, 0);
        EXPECT_TRUE(test::read_file(direct) == test::read_file(via32));
    } else {
        EXPECT_TRUE(test::read_file(direct) == test::read_file(via));
    }
    EXPECT_GT(parse_json(q)["fallback_tensors"].get<int>(), 0);  // widths are not multiples of 256
}

INSTANTIATE_TEST_SUITE_P(Hf, ConvertSynthetic, ::testing::Values(0, 1, 2));

TEST(ConvertCli, MistralKeysAndPermutedRows) {
    const auto s = mistral_f16();
    const auto dir = s.write("mistral-keys");
    const auto out = test::temp_dir("mistral-keys-out") / "m.gguf";
    ASSERT_EQ(test::run_llmq({"convert", dir.string(), "-o", out.string(), "--outtype", "f16"}).exit_code, 0);
    const ModelView m = open_file(out);
    EXPECT_EQ(m.find("llama.rope.dimension_count")->as_uint(), 32u);
    EXPECT_EQ(m.find("llama.vocab_size")->as_uint(), 300u);
    EXPECT_EQ(m.find("llama.attention.head_count_kv")->as_uint(), 1u);
    EXPECT_EQ(*m.find("tokenizer.ggml.model")->as_string(), "llama");
    EXPECT_EQ(m.find("tokenizer.ggml.tokens")->array_size(), 300u);
    // Row 1 of a head holds stored row d/2 (the first element of the second rotary half).
    const auto hf = s.tensors();
    const test::StTensor* q = nullptr;
    for (const auto& t : hf)
        if (t.name == "model.layers.0.self_attn.q_proj.weight") q = &t;
    ASSERT_NE(q, nullptr);
    const auto bytes = tensor_bytes(*m.find_tensor("blk.0.attn_q.weight"));
    const size_t row = 96 * 2;
    EXPECT_TRUE(std::equal(bytes.begin() + row, bytes.begin() + 2 * row, q->bytes.begin() + 16 * row));
    EXPECT_TRUE(std::equal(bytes.begin(), bytes.begin() + row, q->bytes.begin()));
}

// ---- bad input: CLI.md exit codes, one-line messages, nothing at the output path ----

void expect_failure(const std::vector<std::string>& args, int code, const std::string& needle, const fs::path& out) {
    auto r = test::run_llmq(args);
    EXPECT_EQ(r.exit_code, code) << r.err;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(out)) << out;
    EXPECT_FALSE(fs::exists(out.string() + ".part")) << out;
}

// A broken copy of a synthetic model: `edit` changes its files before they are written.
fs::path broken(const std::string& name, const std::function<void(std::map<std::string, std::vector<uint8_t>>&)>& edit,
                test::SyntheticModel s = mistral_f16()) {
    auto files = s.files();
    edit(files);
    const auto dir = test::temp_dir("broken-" + name);
    for (const auto& [file, bytes] : files) test::write_file(dir / file, bytes);
    return dir;
}

// Both commands that read a directory fail the same way.
void expect_both_fail(const fs::path& dir, int code, const std::string& needle) {
    const auto out = test::temp_dir("broken-out") / "o.gguf";
    expect_failure({"convert", dir.string(), "-o", out.string()}, code, needle, out);
    expect_failure({"quantize", dir.string(), "-q", "Q4_K_M", "-o", out.string()}, code, needle, out);
}

std::vector<uint8_t> text(const std::string& s) {
    return {s.begin(), s.end()};
}

TEST(ConvertBadInput, MissingConfig) {
    expect_both_fail(broken("noconfig", [](auto& f) { f.erase("config.json"); }), 3, "config.json");
}

TEST(ConvertBadInput, IndexNamesAnAbsentShard) {
    expect_both_fail(broken("absent", [](auto& f) { f.erase("model-00002-of-00002.safetensors"); }), 3, "model-00002-of-00002.safetensors");
}

TEST(ConvertBadInput, IndexPathsEscapingTheDirectory) {
    for (const std::string bad : {"../model-00001-of-00002.safetensors", "/etc/passwd"}) {
        const auto dir = broken("escape", [&](auto& f) {
            auto index = json::parse(f["model.safetensors.index.json"]);
            index["weight_map"]["model.norm.weight"] = bad;
            f["model.safetensors.index.json"] = text(index.dump());
        });
        expect_both_fail(dir, 8, bad);
    }
}

TEST(ConvertBadInput, ShardHeaderLiesAboutSizes) {
    const auto dir = broken("lies", [](auto& f) {
        auto& shard = f["model-00001-of-00002.safetensors"];
        // Grow the first tensor's shape in the header text, keeping its length.
        std::string header(shard.begin() + 8, shard.begin() + 8 + static_cast<long>(shard[0] | (shard[1] << 8)));
        const auto at = header.find("[300,96]");
        ASSERT_NE(at, std::string::npos) << header.substr(0, 200);
        header.replace(at, 8, "[301,96]");
        std::copy(header.begin(), header.end(), shard.begin() + 8);
    });
    expect_both_fail(dir, 8, "claims");
}

TEST(ConvertBadInput, TruncatedShard) {
    const auto dir =
        broken("trunc", [](auto& f) { f["model-00002-of-00002.safetensors"].resize(f["model-00002-of-00002.safetensors"].size() - 100); });
    expect_both_fail(dir, 8, "truncated");
    const auto tiny = broken("trunc-header", [](auto& f) { f["model-00001-of-00002.safetensors"].resize(40); });
    expect_both_fail(tiny, 8, "truncated");
}

TEST(ConvertBadInput, UnsupportedDtype) {
    const auto dir = broken("dtype", [](auto& f) {
        auto tensors = mistral_f16().tensors();
        std::vector<test::StTensor> first;
        for (auto& t : tensors) {
            if (t.name == "model.embed_tokens.weight") {
                t.dtype = "I64";
                t.bytes.resize(t.bytes.size() * 4);
            }
            first.push_back(t);
        }
        f.erase("model.safetensors.index.json");
        f.erase("model-00001-of-00002.safetensors");
        f.erase("model-00002-of-00002.safetensors");
        f["model.safetensors"] = test::safetensors_bytes(first);
    });
    expect_both_fail(dir, 6, "I64");
}

TEST(ConvertBadInput, UnsupportedArchitecture) {
    const auto dir = broken("arch", [](auto& f) {
        auto c = json::parse(f["config.json"]);
        c["architectures"] = {"PhiForCausalLM"};
        f["config.json"] = text(c.dump());
    });
    expect_both_fail(dir, 6, "PhiForCausalLM");
}

TEST(ConvertBadInput, CorruptTokenizer) {
    const auto dir = broken("tok", [](auto& f) { f["tokenizer.model"].resize(f["tokenizer.model"].size() / 2); });
    expect_both_fail(dir, 8, "tokenizer.model");
}

TEST(ConvertBadInput, UsageErrors) {
    const auto out = test::temp_dir("convert-usage") / "o.gguf";
    expect_failure({"convert", model_dir("tinyqwen-bpe"), "-o", out.string(), "--outtype", "q4_0"}, 2, "q4_0", out);
    expect_failure({"convert", model_dir("tinyqwen-bpe"), "-o", out.string(), "--bogus"}, 2, "--bogus", out);
    expect_failure({"convert", "-o", out.string()}, 2, "MODEL", out);
    expect_failure({"convert", model_dir("tinyqwen-bpe"), "extra", "-o", out.string()}, 2, "extra", out);
    expect_failure({"convert", "/nonexistent/model-dir", "-o", out.string()}, 3, "/nonexistent/model-dir", out);
    expect_failure({"convert", model_dir("tinyqwen-bpe"), "-o", "/nonexistent-dir/o.gguf"}, 7, "o.gguf", "/nonexistent-dir/o.gguf");
    auto h = test::run_llmq({"convert", "--help"});
    EXPECT_EQ(h.exit_code, 0);
    EXPECT_NE(h.out.find("--outtype"), std::string::npos);
    EXPECT_NE(test::run_llmq({"--help"}).out.find("convert MODEL_DIR"), std::string::npos);
}

// Without a tokenizer the conversion still works and warns; --no-vocab omits it on purpose.
TEST(ConvertCli, TokenizerAbsentOrNotWanted) {
    const auto dir = broken("notok", [](auto& f) {
        f.erase("tokenizer.model");
        f.erase("tokenizer_config.json");
    });
    const auto out = test::temp_dir("notok-out");
    auto r = test::run_llmq({"convert", dir.string(), "-o", (out / "a.gguf").string(), "--format", "json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("warning: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("no tokenizer.model or tokenizer.json"), std::string::npos) << r.err;
    ASSERT_EQ(parse_json(r)["warnings"].size(), 1u);
    const ModelView a = open_file(out / "a.gguf");
    EXPECT_EQ(*a.find("tokenizer.ggml.model")->as_string(), "none");
    EXPECT_EQ(a.find("tokenizer.ggml.tokens"), nullptr);

    auto n = test::run_llmq({"convert", model_dir("tinyllama-spm"), "-o", (out / "b.gguf").string(), "--no-vocab"});
    ASSERT_EQ(n.exit_code, 0) << n.err;
    EXPECT_EQ(n.err.find("warning"), std::string::npos) << n.err;
    const ModelView b = open_file(out / "b.gguf");
    EXPECT_EQ(*b.find("tokenizer.ggml.model")->as_string(), "none");
    EXPECT_EQ(b.find("tokenizer.ggml.scores"), nullptr);
    EXPECT_EQ(b.tensors.size(), 57u);
}

}  // namespace
}  // namespace llmq
