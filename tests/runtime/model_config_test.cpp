// ModelConfig from GGUF metadata: the fixture models' values, and clear failures for what the
// runtime cannot run.
#include <gtest/gtest.h>

#include "llmq/error.hpp"
#include "llmq/runtime/config.hpp"
#include "runtime/runtime_fixtures.hpp"
#include "runtime/synthetic_model.hpp"

namespace llmq {
namespace {

TEST(ModelConfig, TinyLlama) {
    const ModelConfig c = model_config(test::open_fixture_model("tinyllama-spm"));
    EXPECT_EQ(c.arch, "llama");
    EXPECT_EQ(c.n_embd, 256);
    EXPECT_EQ(c.n_layer, 6);
    EXPECT_EQ(c.n_head, 4);
    EXPECT_EQ(c.n_head_kv, 2);
    EXPECT_EQ(c.head_dim, 64);
    EXPECT_EQ(c.n_rot, 64);
    EXPECT_EQ(c.n_ff, 768);
    EXPECT_EQ(c.n_vocab, 2048);
    EXPECT_EQ(c.rope, RopeStyle::Normal);
    EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
    EXPECT_FLOAT_EQ(c.rms_eps, 1e-5f);
    EXPECT_FALSE(c.tied_output);
    EXPECT_FALSE(c.qk_norm);
}

TEST(ModelConfig, TinyQwenDefaultsMissingKeys) {
    // tinyqwen's GGUF has no vocab_size, key_length or rope.dimension_count: they follow from
    // the tensors and the head count.
    const ModelConfig c = model_config(test::open_fixture_model("tinyqwen-bpe"));
    EXPECT_EQ(c.arch, "qwen2");
    EXPECT_EQ(c.n_layer, 4);
    EXPECT_EQ(c.head_dim, 64);
    EXPECT_EQ(c.n_rot, 64);
    EXPECT_EQ(c.n_vocab, 4096);
    EXPECT_EQ(c.rope, RopeStyle::NeoX);
    EXPECT_DOUBLE_EQ(c.rope_theta, 1e6);
    EXPECT_FLOAT_EQ(c.rms_eps, 1e-6f);
    EXPECT_TRUE(c.tied_output);
}

TEST(ModelConfig, Qwen3HasQkNormAndLinearScaling) {
    test::SyntheticSpec s;
    s.arch = "qwen3";
    s.qk_norm = true;
    s.head_dim = 32;
    s.rope_scale = 2.0;
    const ModelConfig c = model_config(test::make_synthetic_model(s));
    EXPECT_TRUE(c.qk_norm);
    EXPECT_EQ(c.q_dim(), 128);
    EXPECT_EQ(c.rope, RopeStyle::NeoX);
    EXPECT_DOUBLE_EQ(c.rope_freq_scale, 0.5);
}

ExitCode failure_of(const ModelView& m) {
    try {
        model_config(m);
    } catch (const Failure& f) {
        return f.error().code;
    }
    return ExitCode::Success;
}

ModelView edited(const test::SyntheticSpec& s, const std::function<void(ModelView&)>& edit) {
    ModelView m = test::make_synthetic_model(s);
    edit(m);
    return m;
}

void set_key(ModelView& m, const std::string& key, gguf::Value v) {
    for (auto& kv : m.metadata)
        if (kv.key == key) {
            kv.value = std::move(v);
            return;
        }
    m.metadata.push_back({key, std::move(v)});
}

TEST(ModelConfig, Rejections) {
    const test::SyntheticSpec s;
    EXPECT_EQ(failure_of(edited(s, [](ModelView& m) { set_key(m, "general.architecture", gguf::Value::string("gemma2")); })), ExitCode::Unsupported);
    EXPECT_EQ(failure_of(edited(s, [](ModelView& m) { set_key(m, "llama.expert_count", gguf::Value::u32(8)); })), ExitCode::Unsupported);
    EXPECT_EQ(failure_of(edited(s, [](ModelView& m) { set_key(m, "llama.rope.scaling.type", gguf::Value::string("yarn")); })), ExitCode::Unsupported);
    EXPECT_EQ(failure_of(edited(
                  s, [](ModelView& m) { std::erase_if(m.metadata, [](const gguf::KeyValue& kv) { return kv.key == "llama.embedding_length"; }); })),
              ExitCode::CorruptInput);
    // Heads that do not divide, and tensors that disagree with the metadata.
    EXPECT_EQ(failure_of(edited(s, [](ModelView& m) { set_key(m, "llama.attention.head_count_kv", gguf::Value::u32(3)); })), ExitCode::CorruptInput);
    EXPECT_EQ(failure_of(edited(s, [](ModelView& m) { set_key(m, "llama.attention.key_length", gguf::Value::u32(8)); })), ExitCode::CorruptInput);
    EXPECT_EQ(
        failure_of(edited(s, [](ModelView& m) { std::erase_if(m.tensors, [](const ModelTensor& t) { return t.name == "blk.1.ffn_up.weight"; }); })),
        ExitCode::CorruptInput);
    EXPECT_EQ(failure_of(test::make_synthetic_model(s)), ExitCode::Success);
}

}  // namespace
}  // namespace llmq
