// Naming facts about tensors: category, quantizability (§5.3), block number, processing order.
#include <algorithm>
#include <array>
#include <numeric>

#include "plan/internal.hpp"

namespace llmq::plan::detail {
namespace {

bool contains(std::string_view s, std::string_view part) {
    return s.find(part) != std::string_view::npos;
}

// Substrings that mark tensors llama-quantize never quantizes: routers, convolutions, position
// tables, vision/audio helpers, RWKV mixing vectors.
constexpr std::array<std::string_view, 33> kNeverQuantized = {
    "ffn_gate_inp.weight",
    "ffn_gate_tid2eid.weight",
    "altup",
    "laurel",
    "per_layer_model_proj",
    "ssm_conv1d",
    "shortconv.conv.weight",
    "indexer.k_proj.weight",
    "indexer.q_proj.weight",
    "time_mix_first.weight",
    "time_mix_w0.weight",
    "time_mix_w1.weight",
    "time_mix_w2.weight",
    "time_mix_v0.weight",
    "time_mix_v1.weight",
    "time_mix_v2.weight",
    "time_mix_a0.weight",
    "time_mix_a1.weight",
    "time_mix_a2.weight",
    "time_mix_g1.weight",
    "time_mix_g2.weight",
    "time_mix_decay_w1.weight",
    "time_mix_decay_w2.weight",
    "time_mix_lerp_fused.weight",
    "attn_rel_b.weight",
    ".position_embd",
    "sam.pos_embd",
    "sam.neck.",
    "sam.net_",
    ".rel_pos",
    ".patch_embd",
    ".patch_merger",
    "a.rvq.codebook",
};
constexpr std::string_view kCodeEmbd = "mm.a.code_embd";

// ggml counts dimensions up to the last one larger than 1.
int effective_dims(const ModelTensor& t) {
    for (int i = 3; i >= 1; --i)
        if (t.ne[static_cast<size_t>(i)] > 1) return i + 1;
    return 1;
}

}  // namespace

Category categorize(std::string_view name) {
    if (name == "output.weight") return Category::Output;
    if (name == "token_embd.weight" || name == "per_layer_token_embd.weight") return Category::TokenEmbd;
    if (contains(name, "attn_qkv.weight")) return Category::AttnQkv;
    if (contains(name, "attn_kv_b.weight")) return Category::AttnKvB;
    if (contains(name, "attn_v.weight")) return Category::AttnV;
    if (contains(name, "attn_k.weight")) return Category::AttnK;
    if (contains(name, "attn_q.weight")) return Category::AttnQ;
    if (contains(name, "attn_output.weight")) return Category::AttnOutput;
    if (contains(name, "ffn_up")) return Category::FfnUp;
    if (contains(name, "ffn_gate")) return Category::FfnGate;
    if (contains(name, "ffn_down")) return Category::FfnDown;
    return Category::Other;
}

std::string_view category_label(Category c) {
    switch (c) {
        case Category::Output:
            return "output";
        case Category::TokenEmbd:
            return "token_embd";
        case Category::AttnQkv:
            return "attn_qkv";
        case Category::AttnKvB:
            return "attn_kv_b";
        case Category::AttnV:
            return "attn_v";
        case Category::AttnK:
            return "attn_k";
        case Category::AttnQ:
            return "attn_q";
        case Category::AttnOutput:
            return "attn_output";
        case Category::FfnUp:
            return "ffn_up";
        case Category::FfnGate:
            return "ffn_gate";
        case Category::FfnDown:
            return "ffn_down";
        case Category::Other:
            return "other";
    }
    return "other";
}

std::optional<std::string> not_quantizable_reason(const ModelTensor& tensor, bool leave_output_tensor) {
    const std::string_view name = tensor.name;
    // All conditions must hold; the most telling one is reported.
    if (contains(name, "_norm.weight")) return std::string("norm");
    if (!name.ends_with("weight")) return std::string("not a weight");
    if (leave_output_tensor && name == "output.weight") return std::string("--leave-output-tensor");
    for (std::string_view part : kNeverQuantized)
        if (contains(name, part)) return std::string(part);
    if (contains(name, kCodeEmbd)) return std::string(kCodeEmbd);
    if (name == "position_embd.weight") return std::string("position embedding");
    if (name == "token_types.weight") return std::string("token type embedding");
    if (effective_dims(tensor) < 2) return std::string("1-D");
    return std::nullopt;
}

std::optional<int64_t> block_index(std::string_view name) {
    constexpr std::string_view prefix = "blk.";
    if (!name.starts_with(prefix)) return std::nullopt;
    size_t pos = prefix.size();
    int64_t value = 0;
    const size_t digits_start = pos;
    while (pos < name.size() && name[pos] >= '0' && name[pos] <= '9' && pos - digits_start < 18) {
        value = value * 10 + (name[pos] - '0');
        ++pos;
    }
    if (pos == digits_start || pos >= name.size() || name[pos] != '.') return std::nullopt;
    return value;
}

std::vector<size_t> processing_order(std::span<const ModelTensor> tensors) {
    std::vector<size_t> order(tensors.size());
    std::iota(order.begin(), order.end(), size_t{0});
    auto key = [&](size_t i) { return block_index(tensors[i].name).value_or(-1); };
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        const int64_t la = key(a), lb = key(b);
        if (la != lb) return la < lb;
        return tensors[a].name < tensors[b].name;  // byte-wise, as strcmp
    });
    return order;
}

bool use_more_bits(int64_t i, int64_t n) {
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

}  // namespace llmq::plan::detail
