// HuggingFace directories as ModelViews: the fixture models against the GGUFs llama.cpp's
// converter wrote for them (every key, every tensor byte), streamed reads in any chunking, the
// other outtypes, synthetic Mistral/Qwen3/F16 models, and broken directories.
#include <gtest/gtest.h>

#include <cstring>

#include "format/hf_internal.hpp"
#include "llmq/error.hpp"
#include "llmq/format/huggingface.hpp"
#include "llmq/io/memory.hpp"
#include "posix_io.hpp"
#include "quant/scalar.hpp"
#include "support/fixtures.hpp"
#include "support/hf_builder.hpp"

namespace llmq {
namespace {

using nlohmann::json;

std::shared_ptr<const FileSet> fixture_dir(const std::string& name) {
    return std::make_shared<native::DiskFileSet>(test::fixture("models/" + name));
}

ModelView reference(const std::string& name) {
    return open_gguf_model(std::make_shared<native::FileSource>(test::fixture("models/" + name + ".bf16.gguf")));
}

std::vector<uint8_t> all_rows(const ModelTensor& t) {
    std::vector<uint8_t> out(t.nbytes());
    t.read_rows(0, t.n_rows(), out);
    return out;
}

std::vector<uint8_t> rows_in_chunks(const ModelTensor& t, int64_t chunk) {
    std::vector<uint8_t> out;
    const uint64_t row = row_size(t.type, t.ne[0]);
    for (int64_t r = 0; r < t.n_rows(); r += chunk) {
        const int64_t n = std::min(chunk, t.n_rows() - r);
        std::vector<uint8_t> part(static_cast<size_t>(n) * row);
        t.read_rows(r, n, part);
        out.insert(out.end(), part.begin(), part.end());
    }
    return out;
}

const gguf::Value* find(const ModelView& m, const std::string& key) {
    return m.find(key);
}

class FixtureModels : public ::testing::TestWithParam<std::string> {};

// The acceptance check at the ModelView level: identical keys (in order), tensors and bytes.
TEST_P(FixtureModels, EqualsTheLlamaCppConversion) {
    std::vector<std::string> warnings;
    const ModelView ours = open_hf_model(fixture_dir(GetParam()), {HfOuttype::BF16}, &warnings);
    const ModelView ref = reference(GetParam());
    EXPECT_TRUE(warnings.empty());
    EXPECT_EQ(ours.format, "huggingface");
    ASSERT_EQ(ours.metadata.size(), ref.metadata.size());
    for (size_t i = 0; i < ref.metadata.size(); ++i) {
        EXPECT_EQ(ours.metadata[i].key, ref.metadata[i].key) << i;
        EXPECT_TRUE(ours.metadata[i].value == ref.metadata[i].value) << ref.metadata[i].key;
    }
    ASSERT_EQ(ours.tensors.size(), ref.tensors.size());
    for (size_t i = 0; i < ref.tensors.size(); ++i) {
        const auto& a = ours.tensors[i];
        const auto& b = ref.tensors[i];
        ASSERT_EQ(a.name, b.name);
        EXPECT_EQ(a.n_dims, b.n_dims) << a.name;
        EXPECT_EQ(a.ne, b.ne) << a.name;
        EXPECT_EQ(a.type, b.type) << a.name;
        EXPECT_TRUE(all_rows(a) == all_rows(b)) << a.name;
    }
}

// Row chunks of any size give the same bytes, including chunks that split a head.
TEST_P(FixtureModels, ChunkedReadsEqualWholeReads) {
    const ModelView m = open_hf_model(fixture_dir(GetParam()));
    for (const auto& t : m.tensors) {
        if (t.name.find("blk.1.") != 0 && t.name != "token_embd.weight") continue;
        const auto whole = all_rows(t);
        for (int64_t chunk : {1, 7, 64, 1000}) EXPECT_TRUE(rows_in_chunks(t, chunk) == whole) << t.name << " chunk " << chunk;
    }
}

// The default (source) view and auto both keep BF16 for these BF16 models.
TEST_P(FixtureModels, SourceAndAutoKeepBf16) {
    const ModelView src = open_hf_model(fixture_dir(GetParam()));
    const ModelView autom = open_hf_model(fixture_dir(GetParam()), {HfOuttype::Auto});
    for (size_t i = 0; i < src.tensors.size(); ++i) {
        EXPECT_EQ(src.tensors[i].type, src.tensors[i].n_dims == 1 ? GgmlType::F32 : GgmlType::BF16);
        EXPECT_EQ(autom.tensors[i].type, src.tensors[i].type);
    }
    EXPECT_EQ(find(src, "general.file_type")->as_uint(), 32u);
}

INSTANTIATE_TEST_SUITE_P(Hf, FixtureModels, ::testing::Values("tinyllama-spm", "tinyqwen-bpe"));

// F32 and F16 outtypes: exact widening of the BF16 values, and round-to-nearest-even to F16.
TEST(HfModel, OuttypesConvertEveryValue) {
    const ModelView ref = reference("tinyllama-spm");
    const ModelView f32 = open_hf_model(fixture_dir("tinyllama-spm"), {HfOuttype::F32});
    const ModelView f16 = open_hf_model(fixture_dir("tinyllama-spm"), {HfOuttype::F16});
    EXPECT_EQ(find(f32, "general.file_type")->as_uint(), 0u);
    EXPECT_EQ(find(f16, "general.file_type")->as_uint(), 1u);
    for (const std::string name : {"blk.2.attn_q.weight", "blk.2.attn_k.weight", "output.weight", "blk.2.ffn_norm.weight"}) {
        const auto* r = ref.find_tensor(name);
        const auto* a = f32.find_tensor(name);
        const auto* b = f16.find_tensor(name);
        ASSERT_TRUE(r && a && b);
        const bool one_d = r->n_dims == 1;
        EXPECT_EQ(a->type, GgmlType::F32);
        EXPECT_EQ(b->type, one_d ? GgmlType::F32 : GgmlType::F16);
        const auto rb = all_rows(*r), ab = all_rows(*a), bb = all_rows(*b);
        for (int64_t i = 0; i < r->n_elements(); ++i) {
            const float x =
                one_d ? std::bit_cast<float>(quant::load_u32(rb.data() + 4 * i)) : quant::bf16_to_fp32(quant::load_u16(rb.data() + 2 * i));
            ASSERT_EQ(std::bit_cast<uint32_t>(x), quant::load_u32(ab.data() + 4 * i)) << name << " " << i;
            if (!one_d) {
                ASSERT_EQ(quant::fp32_to_fp16(x), quant::load_u16(bb.data() + 2 * i)) << name << " " << i;
            }
        }
    }
}

// ---- synthetic models: other architectures, F16 weights, widths not multiples of 256 ----

// Expected GGUF rows of a Q or K projection: HF keeps each head's rotary halves apart
// ([h][j][i], j = half, i < d/2); GGUF interleaves them ([h][i][j]).
std::vector<uint8_t> permuted(const std::vector<uint8_t>& hf, int64_t heads, int64_t rows, size_t row_bytes) {
    std::vector<uint8_t> out(hf.size());
    const int64_t d = rows / heads;
    for (int64_t h = 0; h < heads; ++h)
        for (int64_t j = 0; j < 2; ++j)
            for (int64_t i = 0; i < d / 2; ++i) {
                const int64_t from = h * d + j * (d / 2) + i;
                const int64_t to = h * d + i * 2 + j;
                std::memcpy(out.data() + to * row_bytes, hf.data() + from * row_bytes, row_bytes);
            }
    return out;
}

const test::StTensor& hf_tensor(const std::vector<test::StTensor>& all, const std::string& name) {
    for (const auto& t : all)
        if (t.name == name) return t;
    throw std::runtime_error("no tensor " + name);
}

std::vector<uint8_t> f16_to_f32_bytes(const std::vector<uint8_t>& f16) {
    std::vector<uint8_t> out(f16.size() * 2);
    for (size_t i = 0; i < f16.size() / 2; ++i) {
        const uint32_t bits = std::bit_cast<uint32_t>(quant::fp16_to_fp32(quant::load_u16(f16.data() + 2 * i)));
        std::memcpy(out.data() + 4 * i, &bits, 4);
    }
    return out;
}

TEST(HfModel, MistralF16WithOddWidths) {
    test::SyntheticModel s;
    s.architecture = "MistralForCausalLM";
    s.model_type = "mistral";
    s.dtype = "F16";
    s.shards = 3;
    std::vector<std::string> warnings;
    const ModelView m = open_hf_model(s.memory("mistral-odd"), {HfOuttype::Auto}, &warnings);
    EXPECT_TRUE(warnings.empty()) << warnings.front();
    EXPECT_EQ(m.architecture(), "llama");
    EXPECT_EQ(*find(m, "general.name")->as_string(), "Mistral Odd");
    EXPECT_EQ(find(m, "general.file_type")->as_uint(), 1u);
    EXPECT_EQ(find(m, "llama.embedding_length")->as_uint(), 96u);
    EXPECT_EQ(find(m, "llama.attention.head_count_kv")->as_uint(), 1u);
    EXPECT_EQ(find(m, "llama.rope.dimension_count")->as_uint(), 32u);
    EXPECT_EQ(find(m, "llama.vocab_size")->as_uint(), 300u);
    EXPECT_FLOAT_EQ(static_cast<float>(*find(m, "llama.rope.freq_base")->as_float()), 500000.0f);
    EXPECT_EQ(find(m, "llama.attention.key_length"), nullptr);  // config.json states no head_dim
    EXPECT_EQ(*find(m, "tokenizer.ggml.model")->as_string(), "llama");
    EXPECT_TRUE(find(m, "tokenizer.ggml.add_bos_token")->as_bool().value());

    const auto hf = s.tensors();
    const size_t f16_row = 2 * static_cast<size_t>(s.hidden);
    const auto* q = m.find_tensor("blk.1.attn_q.weight");
    const auto* k = m.find_tensor("blk.1.attn_k.weight");
    const auto* v = m.find_tensor("blk.1.attn_v.weight");
    ASSERT_TRUE(q && k && v);
    EXPECT_EQ(q->type, GgmlType::F16);
    EXPECT_EQ(q->ne, (std::array<int64_t, 4>{96, 96, 1, 1}));
    EXPECT_EQ(all_rows(*q), permuted(hf_tensor(hf, "model.layers.1.self_attn.q_proj.weight").bytes, 3, 96, f16_row));
    EXPECT_EQ(all_rows(*k), permuted(hf_tensor(hf, "model.layers.1.self_attn.k_proj.weight").bytes, 1, 32, f16_row));
    EXPECT_EQ(all_rows(*v), hf_tensor(hf, "model.layers.1.self_attn.v_proj.weight").bytes);
    for (int64_t chunk : {1, 5, 31, 33}) EXPECT_EQ(rows_in_chunks(*q, chunk), all_rows(*q)) << chunk;
    // Norms become F32, exactly.
    const auto* norm = m.find_tensor("blk.0.attn_norm.weight");
    EXPECT_EQ(norm->type, GgmlType::F32);
    EXPECT_EQ(all_rows(*norm), f16_to_f32_bytes(hf_tensor(hf, "model.layers.0.input_layernorm.weight").bytes));
    EXPECT_NE(m.find_tensor("output.weight"), nullptr);
}

TEST(HfModel, LlamaBiasesArePermutedElementWise) {
    test::SyntheticModel s;
    s.dtype = "BF16";
    s.qkv_bias = true;
    const ModelView m = open_hf_model(s.memory(), {HfOuttype::BF16});
    const auto hf = s.tensors();
    const auto* qb = m.find_tensor("blk.0.attn_q.bias");
    ASSERT_NE(qb, nullptr);
    EXPECT_EQ(qb->type, GgmlType::F32);
    const auto expected = permuted(hf_tensor(hf, "model.layers.0.self_attn.q_proj.bias").bytes, 3, 96, 2);
    std::vector<uint8_t> f32(96 * 4);
    for (size_t i = 0; i < 96; ++i) {
        const uint32_t bits = std::bit_cast<uint32_t>(quant::bf16_to_fp32(quant::load_u16(expected.data() + 2 * i)));
        std::memcpy(f32.data() + 4 * i, &bits, 4);
    }
    EXPECT_EQ(all_rows(*qb), f32);
}

TEST(HfModel, Qwen3WithQkNormsAndHeadDim) {
    test::SyntheticModel s;
    s.architecture = "Qwen3ForCausalLM";
    s.model_type = "qwen3";
    s.dtype = "BF16";
    s.hidden = 80;
    s.heads = 4;
    s.kv_heads = 2;
    s.head_dim = 48;  // head_dim * heads != hidden, as in real Qwen3
    s.qk_norm = true;
    s.tied = true;
    s.tokenizer = test::SyntheticModel::Bpe;
    std::vector<std::string> warnings;
    const ModelView m = open_hf_model(s.memory("Qwen3-Tiny"), {HfOuttype::Auto}, &warnings);
    EXPECT_TRUE(warnings.empty()) << warnings.front();
    EXPECT_EQ(m.architecture(), "qwen3");
    EXPECT_EQ(find(m, "qwen3.attention.key_length")->as_uint(), 48u);
    EXPECT_EQ(find(m, "qwen3.attention.value_length")->as_uint(), 48u);
    EXPECT_EQ(find(m, "qwen3.rope.dimension_count"), nullptr);
    EXPECT_EQ(find(m, "qwen3.vocab_size"), nullptr);
    EXPECT_EQ(*find(m, "tokenizer.ggml.model")->as_string(), "gpt2");
    EXPECT_EQ(*find(m, "tokenizer.ggml.pre")->as_string(), "qwen2");
    EXPECT_EQ(find(m, "tokenizer.ggml.eos_token_id")->as_uint(), 0u);
    EXPECT_EQ(find(m, "tokenizer.ggml.bos_token_id")->as_uint(), 1u);
    EXPECT_EQ(m.find_tensor("output.weight"), nullptr);  // tied
    const auto hf = s.tensors();
    const auto* qn = m.find_tensor("blk.1.attn_q_norm.weight");
    const auto* kn = m.find_tensor("blk.1.attn_k_norm.weight");
    ASSERT_TRUE(qn && kn);
    EXPECT_EQ(qn->type, GgmlType::F32);
    EXPECT_EQ(qn->ne[0], 48);
    const auto* q = m.find_tensor("blk.1.attn_q.weight");
    EXPECT_EQ(q->ne, (std::array<int64_t, 4>{80, 192, 1, 1}));
    EXPECT_EQ(all_rows(*q), hf_tensor(hf, "model.layers.1.self_attn.q_proj.weight").bytes);  // qwen: no permutation
}

TEST(HfModel, TiedModelsDropAStoredLmHead) {
    test::SyntheticModel s;
    s.architecture = "Qwen2ForCausalLM";
    s.model_type = "qwen2";
    s.tokenizer = test::SyntheticModel::Bpe;
    auto files = s.memory();
    // Tied in config.json, but an lm_head tensor is stored anyway.
    s.tied = true;
    const auto config = s.config().dump();
    files->add("config.json", {config.begin(), config.end()});
    const ModelView m = open_hf_model(files);
    EXPECT_EQ(m.find_tensor("output.weight"), nullptr);
    EXPECT_NE(m.find_tensor("token_embd.weight"), nullptr);
}

TEST(HfModel, SizeLabelAndName) {
    test::SyntheticModel s;
    s.vocab = 4000;
    s.hidden = 256;
    s.heads = 4;
    s.kv_heads = 4;
    s.tokenizer = test::SyntheticModel::None;
    std::vector<std::string> warnings;
    const ModelView m = open_hf_model(s.memory("/models/my_model-v2/"), {}, &warnings);
    EXPECT_EQ(*find(m, "general.name")->as_string(), "My Model V2");
    uint64_t params = 0;
    for (const auto& t : m.tensors) params += static_cast<uint64_t>(t.n_elements());
    char expected[32];
    std::snprintf(expected, sizeof expected, "%.1fM", static_cast<double>(params) / 1e6);
    EXPECT_EQ(*find(m, "general.size_label")->as_string(), expected);
    // No tokenizer: a warning and an explicit "none" vocabulary.
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("no tokenizer.model or tokenizer.json"), std::string::npos);
    EXPECT_EQ(*find(m, "tokenizer.ggml.model")->as_string(), "none");
    EXPECT_EQ(find(m, "tokenizer.ggml.tokens"), nullptr);
}

TEST(HfModel, NoVocabOmitsTheVocabulary) {
    std::vector<std::string> warnings;
    HfOptions o;
    o.vocab = false;
    const ModelView m = open_hf_model(fixture_dir("tinyqwen-bpe"), o, &warnings);
    EXPECT_TRUE(warnings.empty());
    EXPECT_EQ(*find(m, "tokenizer.ggml.model")->as_string(), "none");
    EXPECT_EQ(find(m, "tokenizer.ggml.tokens"), nullptr);
    EXPECT_EQ(find(m, "tokenizer.ggml.eos_token_id"), nullptr);
}

TEST(HfModel, RopeScalingKeys) {
    test::SyntheticModel s;
    auto files = s.memory();
    json c = s.config();
    c["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 512}};
    const auto text = c.dump();
    files->add("config.json", {text.begin(), text.end()});
    const ModelView m = open_hf_model(files);
    EXPECT_EQ(*find(m, "llama.rope.scaling.type")->as_string(), "yarn");
    EXPECT_EQ(find(m, "llama.rope.scaling.factor")->as_float(), 4.0);
    EXPECT_EQ(find(m, "llama.rope.scaling.original_context_length")->as_uint(), 512u);
}

// Llama 3.1-style RoPE: a generated rope_freqs.weight tensor, first, and no scaling keys.
TEST(HfModel, Llama3RopeFactors) {
    test::SyntheticModel s;
    s.hidden = 256;
    s.heads = 2;  // head_dim 128, as in Llama 3
    s.kv_heads = 1;
    auto files = s.memory();
    json c = s.config();
    c["rope_scaling"] = {
        {"rope_type", "llama3"}, {"factor", 32.0}, {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
    const auto text = c.dump();
    files->add("config.json", {text.begin(), text.end()});
    const ModelView m = open_hf_model(files);
    ASSERT_EQ(m.tensors.front().name, "rope_freqs.weight");
    const auto& t = m.tensors.front();
    EXPECT_EQ(t.type, GgmlType::F32);
    ASSERT_EQ(t.ne[0], 64);
    EXPECT_EQ(find(m, "llama.rope.scaling.type"), nullptr);
    const auto bytes = all_rows(t);
    int ones = 0, full = 0, between = 0;
    for (int i = 0; i < 64; ++i) {
        const float f = std::bit_cast<float>(quant::load_u32(bytes.data() + 4 * i));
        const double freq = 1.0 / std::pow(500000.0, 2.0 * i / 128.0);
        const double wavelen = 2 * 3.141592653589793 / freq;
        double expected = 32.0;
        if (wavelen < 2048.0) {
            expected = 1.0;
            ++ones;
        } else if (wavelen > 8192.0) {
            ++full;
        } else {
            const double smooth = (8192.0 / wavelen - 1.0) / 3.0;
            expected = 1.0 / ((1 - smooth) / 32.0 + smooth);
            ++between;
        }
        EXPECT_NEAR(f, expected, 1e-5 * expected) << i;
    }
    EXPECT_GT(ones, 0);
    EXPECT_GT(full, 0);
    EXPECT_GT(between, 0);
    // Not for Qwen2, whose converter has no such tensor.
    test::SyntheticModel q;
    q.architecture = "Qwen2ForCausalLM";
    q.model_type = "qwen2";
    auto qfiles = q.memory();
    json qc = q.config();
    qc["rope_scaling"] = c["rope_scaling"];
    const auto qtext = qc.dump();
    qfiles->add("config.json", {qtext.begin(), qtext.end()});
    EXPECT_THROW(open_hf_model(qfiles), Failure);
}

// ---- broken directories ----

void expect_open_fails(const std::shared_ptr<const FileSet>& files, ExitCode code, std::initializer_list<std::string> fragments) {
    try {
        open_hf_model(files);
        ADD_FAILURE() << "opened a broken model";
    } catch (const Failure& f) {
        EXPECT_EQ(f.error().code, code) << f.error().message;
        for (const auto& frag : fragments)
            EXPECT_NE(f.error().message.find(frag), std::string::npos) << "'" << frag << "' not in: " << f.error().message;
    }
}

std::shared_ptr<MemoryFileSet> with_config(const test::SyntheticModel& s, const json& config) {
    auto files = s.memory("broken");
    const auto text = config.dump();
    files->add("config.json", {text.begin(), text.end()});
    return files;
}

TEST(HfModelRejects, MissingConfig) {
    auto files = std::make_shared<MemoryFileSet>("dir");
    files->add("model.safetensors", test::safetensors_bytes({{"w", "F32", {1}, std::vector<uint8_t>(4)}}));
    files->add("x", {});
    expect_open_fails(files, ExitCode::ModelNotFound, {"dir", "config.json"});
}

TEST(HfModelRejects, UnsupportedArchitecturesAndCheckpoints) {
    test::SyntheticModel s;
    json c = s.config();
    c["architectures"] = {"GPT2LMHeadModel"};
    expect_open_fails(with_config(s, c), ExitCode::Unsupported,
                      {"GPT2LMHeadModel", "LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM"});
    c = s.config();
    c.erase("architectures");
    c["model_type"] = "gemma";
    expect_open_fails(with_config(s, c), ExitCode::Unsupported, {"gemma"});
    c = s.config();
    c["quantization_config"] = {{"quant_method", "gptq"}};
    expect_open_fails(with_config(s, c), ExitCode::Unsupported, {"gptq"});
    c = s.config();
    c["rope_scaling"] = {{"rope_type", "longrope"}, {"factor", 2.0}};
    expect_open_fails(with_config(s, c), ExitCode::Unsupported, {"longrope"});
}

TEST(HfModelRejects, BadHyperparameters) {
    test::SyntheticModel s;
    json c = s.config();
    c.erase("hidden_size");
    expect_open_fails(with_config(s, c), ExitCode::CorruptInput, {"hidden_size", "missing"});
    c = s.config();
    c["num_attention_heads"] = "four";
    expect_open_fails(with_config(s, c), ExitCode::CorruptInput, {"num_attention_heads"});
    c = s.config();
    c["num_attention_heads"] = 5;  // 96 q rows do not split into 5 heads
    expect_open_fails(with_config(s, c), ExitCode::Unsupported, {"q_proj", "5 heads"});
    auto files = s.memory("broken");
    files->add("config.json", test::SyntheticModel::text("{\"architectures\": ["));
    expect_open_fails(files, ExitCode::CorruptInput, {"config.json", "JSON"});
}

TEST(HfModelRejects, UnknownTensorsAndDtypes) {
    test::SyntheticModel s;
    auto tensors = s.tensors();
    tensors.push_back({"model.layers.0.mlp.experts.0.w1.weight", "F16", {2, 2}, std::vector<uint8_t>(8)});
    auto files = s.memory("broken");
    files->add("model.safetensors", test::safetensors_bytes(tensors));
    expect_open_fails(files, ExitCode::Unsupported, {"experts.0.w1", "LlamaForCausalLM"});

    tensors = s.tensors();
    tensors[0].dtype = "I32";  // same byte count as... no: I32 is 4 bytes, so give it F32 bytes
    tensors[0].bytes.resize(tensors[0].bytes.size() * 2);
    files = s.memory("broken");
    files->add("model.safetensors", test::safetensors_bytes(tensors));
    expect_open_fails(files, ExitCode::Unsupported, {tensors[0].name, "I32"});

    tensors = s.tensors();
    tensors.push_back({"model.layers.7.input_layernorm.weight", "F16", {96}, std::vector<uint8_t>(192)});  // 2 layers only
    files = s.memory("broken");
    files->add("model.safetensors", test::safetensors_bytes(tensors));
    expect_open_fails(files, ExitCode::Unsupported, {"layers.7"});
}

}  // namespace
}  // namespace llmq
