// The runtime against an independent double-precision forward pass on small random models of
// every supported architecture and feature: GQA and MHA, q/k/v biases (qwen2), Q/K norms and a
// head width unrelated to n_embd (qwen3), tied output, linear RoPE scaling, quantized weights.
#include <gtest/gtest.h>

#include "llmq/runtime/resident.hpp"
#include "llmq/runtime/streamer.hpp"
#include "runtime/synthetic_model.hpp"
#include "thread_pool.hpp"

namespace llmq {
namespace {

struct Case {
    const char* name;
    test::SyntheticSpec spec;
    double tolerance;  // max |diff| / logit range
};

std::vector<Case> cases() {
    std::vector<Case> c;
    test::SyntheticSpec llama;
    c.push_back({"LlamaGqaF32", llama, 1e-5});
    test::SyntheticSpec mha = llama;
    mha.n_head_kv = mha.n_head;
    mha.tied = true;
    mha.rope_scale = 4.0;
    mha.type = GgmlType::F16;
    // fp16 weights meet activations rounded to fp16 (docs/runtime.md; the reference rounds too),
    // and a value the float32 runtime and the double reference place on opposite sides of an
    // fp16 rounding boundary differs by an fp16 step: 1e-4 of the range, not 1e-5. The rounding
    // itself is checked bit for bit in matmul_levels_test.cpp.
    c.push_back({"LlamaMhaTiedF16LinearRope", mha, 2e-4});
    test::SyntheticSpec qwen2 = llama;
    qwen2.arch = "qwen2";
    qwen2.biases = true;
    qwen2.tied = true;
    qwen2.theta = 1e6;
    qwen2.eps = 1e-6f;
    qwen2.type = GgmlType::Q8_0;
    c.push_back({"Qwen2BiasesQ8_0", qwen2, 1e-5});
    test::SyntheticSpec qwen3 = llama;
    qwen3.arch = "qwen3";
    qwen3.qk_norm = true;
    qwen3.head_dim = 32;  // q width 128 != n_embd 64
    qwen3.n_head_kv = 1;
    qwen3.theta = 1e6;
    qwen3.type = GgmlType::BF16;
    c.push_back({"Qwen3QkNormWideHeadsBf16", qwen3, 1e-5});
    test::SyntheticSpec kq = llama;
    kq.n_embd = 256;
    kq.n_ff = 512;
    kq.head_dim = 64;
    kq.n_head = 4;
    kq.n_head_kv = 2;
    kq.type = GgmlType::Q4_K;
    c.push_back({"LlamaQ4_K", kq, 1e-5});
    return c;
}

class SyntheticForwardTest : public ::testing::TestWithParam<Case> {};

TEST_P(SyntheticForwardTest, BothExecutorsMatchTheDoubleReference) {
    const Case& k = GetParam();
    const ModelView model = test::make_synthetic_model(k.spec);
    const std::vector<int32_t> ids = {5, 17, 3, 99, 42, 42, 7, 120, 0, 64, 31, 8};
    const auto ref = test::reference_forward(model, k.spec, ids);

    native::ThreadPool pool(2);
    LayerStreamer streamer(model, pool);
    std::vector<std::vector<float>> streamed(ids.size());
    streamer.run(std::vector<std::vector<int32_t>>{ids}, {},
                 [&](size_t, int64_t pos, std::span<const float> l) { streamed[static_cast<size_t>(pos)].assign(l.begin(), l.end()); });
    const ResidentModel resident(model, pool);
    Session session(resident, 16);
    const auto all = session.eval(ids, /*all_logits=*/true);
    for (size_t t = 0; t < ids.size(); ++t) {
        const auto [lo, hi] = std::minmax_element(ref[t].begin(), ref[t].end());
        double worst = 0.0;
        for (size_t i = 0; i < ref[t].size(); ++i) {
            worst = std::max(worst, std::abs(streamed[t][i] - ref[t][i]));
            EXPECT_EQ(all[t * ref[t].size() + i], streamed[t][i]);
        }
        EXPECT_LT(worst / (*hi - *lo), k.tolerance) << "position " << t;
    }
}

INSTANTIATE_TEST_SUITE_P(Architectures, SyntheticForwardTest, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace llmq
