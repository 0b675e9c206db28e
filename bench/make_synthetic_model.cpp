// Writes a synthetic llama-architecture GGUF with real shapes (default: TinyLlama-1.1B's —
// hidden 2048, ffn 5632, 22 layers, 32 heads / 4 KV heads, vocab 32000) in F16, filled with
// deterministic pseudo-normal weights. Input for the quantization benchmarks.
//
//   make_synthetic_model OUT.gguf [--layers N] [--hidden N] [--ffn N] [--vocab N] [--type f16|bf16|f32] [--vocab-from MODEL.gguf]
// --vocab-from copies the tokenizer.* keys of another GGUF (and its vocabulary size), so jobs that
// tokenize text (analyze, dynamic quantization) run on the synthetic model.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "llmq/error.hpp"
#include "llmq/format/gguf.hpp"
#include "llmq/quant/codec.hpp"
#include "posix_io.hpp"

namespace {

using llmq::GgmlType;
using llmq::gguf::KeyValue;
using llmq::gguf::TensorDecl;
using llmq::gguf::Value;

// xorshift64*, and a sum of four uniforms as a cheap bell curve (Irwin-Hall).
struct Rng {
    uint64_t s;
    float uniform() {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        return static_cast<float>((s * 2685821657736338717ull) >> 40) / 16777216.0f;
    }
    float normal() { return (uniform() + uniform() + uniform() + uniform() - 2.0f) * 1.7320508f; }
};

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s OUT.gguf [--layers N] [--hidden N] [--ffn N] [--vocab N] [--type f16|bf16|f32] [--vocab-from MODEL.gguf]\n",
                     argv[0]);
        return 2;
    }
    int64_t layers = 22, hidden = 2048, ffn = 5632, vocab = 32000, heads = 32, kv_heads = 4;
    GgmlType type = GgmlType::F16;
    std::vector<KeyValue> tokenizer;
    for (int i = 2; i + 1 < argc; i += 2) {
        const std::string k = argv[i];
        const std::string v = argv[i + 1];
        if (k == "--layers")
            layers = std::stoll(v);
        else if (k == "--hidden")
            hidden = std::stoll(v);
        else if (k == "--ffn")
            ffn = std::stoll(v);
        else if (k == "--vocab")
            vocab = std::stoll(v);
        else if (k == "--type")
            type = *llmq::type_from_name(v);
        else if (k == "--vocab-from") {
            const llmq::native::FileSource source(v);
            for (const auto& e : llmq::gguf::read_header(source).kv) {
                if (e.key.rfind("tokenizer.", 0) != 0) continue;
                tokenizer.push_back(e);
                if (e.key == "tokenizer.ggml.tokens") vocab = static_cast<int64_t>(e.value.array_size());
            }
        }
    }
    const int64_t head_dim = hidden / heads;
    const int64_t kv_dim = head_dim * kv_heads;

    std::vector<KeyValue> kv = {
        {"general.architecture", Value::string("llama")},
        {"general.name", Value::string("synthetic-llama")},
        {"general.file_type", Value::u32(type == GgmlType::F16    ? 1u
                                         : type == GgmlType::BF16 ? 32u
                                                                  : 0u)},
        {"llama.block_count", Value::u32(static_cast<uint32_t>(layers))},
        {"llama.context_length", Value::u32(2048)},
        {"llama.embedding_length", Value::u32(static_cast<uint32_t>(hidden))},
        {"llama.feed_forward_length", Value::u32(static_cast<uint32_t>(ffn))},
        {"llama.attention.head_count", Value::u32(static_cast<uint32_t>(heads))},
        {"llama.attention.head_count_kv", Value::u32(static_cast<uint32_t>(kv_heads))},
        {"llama.rope.dimension_count", Value::u32(static_cast<uint32_t>(head_dim))},
        {"llama.attention.layer_norm_rms_epsilon", Value::f32(1e-5f)},
    };
    kv.insert(kv.end(), tokenizer.begin(), tokenizer.end());
    std::vector<TensorDecl> tensors;
    auto add = [&](std::string name, int64_t ne0, int64_t ne1) {
        const bool norm = ne1 == 1;
        tensors.push_back({std::move(name), norm ? 1u : 2u, {ne0, ne1, 1, 1}, norm ? GgmlType::F32 : type});
    };
    add("token_embd.weight", hidden, vocab);
    add("output_norm.weight", hidden, 1);
    add("output.weight", hidden, vocab);
    for (int64_t l = 0; l < layers; ++l) {
        const std::string b = "blk." + std::to_string(l) + ".";
        add(b + "attn_norm.weight", hidden, 1);
        add(b + "attn_q.weight", hidden, hidden);
        add(b + "attn_k.weight", hidden, kv_dim);
        add(b + "attn_v.weight", hidden, kv_dim);
        add(b + "attn_output.weight", hidden, hidden);
        add(b + "ffn_norm.weight", hidden, 1);
        add(b + "ffn_gate.weight", hidden, ffn);
        add(b + "ffn_up.weight", hidden, ffn);
        add(b + "ffn_down.weight", ffn, hidden);
    }
    try {
        llmq::native::FileSink sink(argv[1]);
        llmq::gguf::Writer writer(sink, kv, tensors);
        Rng rng{0x9E3779B97F4A7C15ull};
        std::vector<float> row;
        std::vector<uint8_t> bytes;
        for (const auto& t : tensors) {
            row.resize(static_cast<size_t>(t.ne[0]));
            bytes.resize(llmq::row_size(t.type, t.ne[0]));
            for (int64_t r = 0; r < t.ne[1]; ++r) {
                if (t.n_dims == 1) {
                    for (auto& x : row) x = 1.0f + 0.1f * rng.normal();
                } else {
                    for (auto& x : row) x = 0.02f * rng.normal();
                    // a few outliers, as real weights have
                    row[static_cast<size_t>(rng.uniform() * static_cast<float>(row.size() - 1))] *= 8.0f;
                }
                llmq::quantize_rows(t.type, row, bytes, t.ne[0]);
                writer.write_data(bytes);
            }
        }
        writer.finish();
        sink.finish();
        std::printf("%s: %zu tensors, %.2f GB\n", argv[1], tensors.size(), static_cast<double>(writer.total_size()) / 1e9);
    } catch (const llmq::Failure& f) {
        std::fprintf(stderr, "error: %s\n", f.what());
        return 1;
    }
    return 0;
}
