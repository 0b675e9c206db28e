// The per-tensor mixture rules of llama-quantize (llama.cpp 80fb11ac, reference §5.4):
// evaluated top-down, the first matching branch decides.
#include "llmq/error.hpp"
#include "plan/internal.hpp"

namespace llmq::plan::detail {
namespace {

using T = GgmlType;
namespace F = ftype;

// The presets whose own rule block replaces all others (the 1–2 bit i-quants).
bool is_low_iq(uint32_t ft) {
    return ft == F::IQ2_XXS || ft == F::IQ2_XS || ft == F::IQ1_S || ft == F::IQ2_S || ft == F::IQ2_M || ft == F::IQ1_M;
}

class Rules {
public:
    Rules(const RuleContext& ctx, Counters& counters, const ModelTensor& tensor, Category category)
        : ctx_(ctx),
          c_(counters),
          t_(tensor),
          cat_(category),
          ft_(ctx.preset.ftype),
          def_(ctx.preset.default_type),
          falcon_(ctx.facts.arch == "falcon") {}

    Choice decide() {
        if (cat_ == Category::Output || (ctx_.tied && cat_ == Category::TokenEmbd)) return output_rule();
        if (ft_ == F::MXFP4_MOE) return mxfp4_moe();
        if (cat_ == Category::TokenEmbd) return token_embd();
        if (is_low_iq(ft_)) return low_iq();
        if (is_attn_v_like(cat_)) return attn_v();
        switch (cat_) {
            case Category::AttnK:
                return attn_k();
            case Category::AttnQ:
                return attn_q();
            case Category::FfnDown:
                return ffn_down();
            case Category::AttnOutput:
                return attn_output();
            case Category::FfnGate:
                return ffn_gate_up(c_.i_ffn_gate, c_.n_ffn_gate);
            case Category::FfnUp:
                return ffn_gate_up(c_.i_ffn_up, c_.n_ffn_up);
            default:
                return keep();
        }
    }

private:
    const RuleContext& ctx_;
    Counters& c_;
    const ModelTensor& t_;
    Category cat_;
    uint32_t ft_;
    GgmlType def_;
    bool falcon_;

    std::string prefix() const { return "preset " + std::string(ctx_.preset.name) + ": "; }
    Choice pick(GgmlType type, const std::string& why) const { return {type, prefix() + why + " → " + display_name(type)}; }
    Choice keep() const { return {def_, prefix() + "default " + display_name(def_)}; }
    std::string label() const { return std::string(category_label(cat_)); }
    std::string position(int64_t i, int64_t n) const { return "layer " + std::to_string(i) + " of " + std::to_string(n); }
    int64_t n_gqa() const { return ctx_.facts.n_gqa(); }
    int64_t n_expert() const { return ctx_.facts.n_expert; }

    // Layer index of the ffn rules: the tensor's position for dense models, its blk number for
    // MoE models (where several ffn tensors share a layer).
    std::pair<int64_t, int64_t> layer_info(int64_t counter, int64_t n) const {
        if (n_expert() > 1) {
            const auto layer = block_index(t_.name);
            if (!layer || *layer >= n) {
                fail(ExitCode::Unsupported,
                     std::string(ctx_.model_path) + ": cannot determine the layer of tensor " + t_.name + " (block_count " + std::to_string(n) + ")");
            }
            return {*layer, n};
        }
        return {counter, n};
    }

    Choice output_rule() const {
        const std::string who = cat_ == Category::Output ? "output rule" : "output rule (tied token_embd)";
        if (ctx_.output_tensor_type) {
            return {*ctx_.output_tensor_type, "--output-tensor-type " + std::string(type_name(*ctx_.output_tensor_type)) + " (" + who + ")"};
        }
        if (ft_ == F::MXFP4_MOE) return pick(T::Q8_0, who);
        if (falcon_) return pick(T::Q8_0, who + ", falcon");
        const int64_t block = traits(def_).block_size;
        if (t_.ne[0] % block != 0) {
            return pick(T::Q8_0, who + ", " + std::to_string(t_.ne[0]) + " not a multiple of " + std::to_string(block));
        }
        if (ft_ == F::IQ2_XXS || ft_ == F::IQ2_XS || ft_ == F::IQ3_XXS || ft_ == F::IQ1_S || ft_ == F::IQ2_S || ft_ == F::IQ2_M || ft_ == F::IQ1_M) {
            return pick(T::Q5_K, who);
        }
        if (def_ != T::Q8_0) return pick(T::Q6_K, who);
        return pick(def_, who);
    }

    Choice mxfp4_moe() const {
        const bool ffn = cat_ == Category::FfnUp || cat_ == Category::FfnGate || cat_ == Category::FfnDown;
        const bool experts = t_.ne[2] > 1 && (ctx_.facts.arch != "bailingmoe3" || ffn);
        return experts ? pick(T::MXFP4, "merged experts") : pick(T::Q8_0, "not an expert tensor");
    }

    Choice token_embd() const {
        if (ft_ == F::IQ2_XXS || ft_ == F::IQ2_XS || ft_ == F::IQ1_S || ft_ == F::IQ1_M) return pick(T::Q2_K, "token_embd rule");
        if (ft_ == F::IQ2_S || ft_ == F::IQ2_M || ft_ == F::IQ3_XXS) return pick(T::IQ3_S, "token_embd rule");
        if (ft_ == F::TQ1_0 || ft_ == F::TQ2_0 || ft_ == F::Q2_0) return pick(T::Q4_K, "token_embd rule");
        return keep();
    }

    Choice low_iq() {
        const bool s_or_m = ft_ == F::IQ2_S || ft_ == F::IQ2_M;
        if (is_attn_v_like(cat_)) {
            ++c_.i_attention_wv;
            if (n_gqa() >= 4 || n_expert() >= 4) {
                return pick(T::Q4_K, label() + ", n_gqa " + std::to_string(n_gqa()) + " / " + std::to_string(n_expert()) + " experts");
            }
            return pick(s_or_m ? T::IQ3_S : T::Q2_K, label());
        }
        if (cat_ == Category::AttnK && n_expert() == 8) return pick(T::Q4_K, "attn_k, 8 experts");
        if (cat_ == Category::FfnDown) {
            const int64_t i = c_.i_ffn_down++;
            if (i < c_.n_ffn_down / 8) {
                return pick(s_or_m ? T::IQ3_S : T::Q2_K, "ffn_down " + position(i, c_.n_ffn_down) + " in first eighth");
            }
            return keep();
        }
        if (cat_ == Category::AttnOutput) {
            if (n_expert() == 8) return pick(T::Q5_K, "attn_output, 8 experts");
            if (ft_ == F::IQ1_S || ft_ == F::IQ1_M) return pick(T::IQ2_XXS, "attn_output");
            if (s_or_m) return pick(T::IQ3_S, "attn_output");
        }
        return keep();
    }

    Choice attn_v() {
        const int64_t i = c_.i_attention_wv++;
        const int64_t n = c_.n_attention_wv;
        const std::string gqa = label() + ", n_gqa " + std::to_string(n_gqa());
        std::optional<Choice> r;
        if (ft_ == F::Q2_K) {
            r = pick(n_gqa() >= 4 ? T::Q4_K : T::Q3_K, gqa);
        } else if (ft_ == F::Q2_K_S && n_gqa() >= 4) {
            r = pick(T::Q4_K, gqa);
        } else if (ft_ == F::IQ3_XXS) {
            if (n_gqa() >= 4)
                r = pick(T::Q4_K, gqa);
            else if (!ctx_.has_imatrix)
                r = pick(T::IQ3_S, label() + " without imatrix");
            else
                r = pick(T::IQ3_XXS, label() + " with imatrix");
        } else if ((ft_ == F::IQ3_XS || ft_ == F::IQ3_S) && n_gqa() >= 4) {
            r = pick(T::Q4_K, gqa);
        } else if (ft_ == F::IQ3_M) {
            r = pick(T::Q4_K, label());
        } else if (ft_ == F::Q3_K_M) {
            r = pick(i < 2 ? T::Q5_K : T::Q4_K, label() + " " + position(i, n) + (i < 2 ? " < 2" : " >= 2"));
        } else if (ft_ == F::Q3_K_L) {
            r = pick(T::Q5_K, label());
        } else if ((ft_ == F::IQ4_NL || ft_ == F::IQ4_XS) && n_gqa() >= 4) {
            r = pick(T::Q5_K, gqa);
        } else if ((ft_ == F::Q4_K_M || ft_ == F::Q5_K_M) && use_more_bits(i, n)) {
            r = pick(T::Q6_K, "use_more_bits(" + position(i, n) + ") for " + label());
        } else if (ft_ == F::Q4_K_S && i < 4) {
            r = pick(T::Q5_K, label() + " " + position(i, n) + " < 4");
        }
        Choice out = r ? *r : keep();
        if (ctx_.facts.is_70b && (out.type == T::Q3_K || out.type == T::Q4_K)) out = pick(T::Q5_K, label() + ", 70B model");
        if (n_expert() == 8) out = pick(T::Q8_0, label() + ", 8 experts");
        return out;
    }

    Choice attn_k() const {
        if (n_expert() == 8) return pick(T::Q8_0, "attn_k, 8 experts");
        if (ft_ == F::IQ3_XS) return pick(T::IQ3_XXS, "attn_k");
        if (ft_ == F::IQ3_XXS) return pick(T::IQ2_S, "attn_k");
        return keep();
    }

    Choice attn_q() const {
        if (ft_ == F::IQ3_XS) return pick(T::IQ3_XXS, "attn_q");
        if (ft_ == F::IQ3_XXS) return pick(T::IQ2_S, "attn_q");
        return keep();
    }

    Choice ffn_down() {
        const auto [i, n] = layer_info(c_.i_ffn_down, c_.n_ffn_down);
        ++c_.i_ffn_down;
        const std::string at = "ffn_down " + position(i, n);
        const bool more = use_more_bits(i, n);
        if (ft_ == F::Q2_K) return pick(T::Q3_K, "ffn_down");
        if (ft_ == F::Q2_K_S) return i < n / 8 ? pick(T::Q4_K, at + " in first eighth") : keep();
        if (ft_ == F::IQ3_XXS && !ctx_.has_imatrix) {
            return i < n / 8 ? pick(T::Q4_K, at + " in first eighth, no imatrix") : pick(T::Q3_K, "ffn_down without imatrix");
        }
        if (ft_ == F::Q3_K_M) {
            if (i < n / 16) return pick(T::Q5_K, at + " in first sixteenth");
            if (!falcon_ || more) return pick(T::Q4_K, falcon_ ? "use_more_bits(" + position(i, n) + ") for ffn_down" : "ffn_down");
            return keep();
        }
        if (ft_ == F::IQ3_M && (i < n / 8 || (n_expert() == 8 && more))) return pick(T::Q4_K, at);
        if (ft_ == F::Q3_K_L) return pick(falcon_ ? T::Q4_K : T::Q5_K, "ffn_down");
        if (ft_ == F::Q4_K_M) {
            if (falcon_) {
                if (i < n / 16) return pick(T::Q6_K, at + " in first sixteenth, falcon");
                if (more) return pick(T::Q5_K, "use_more_bits(" + position(i, n) + ") for ffn_down, falcon");
                return pick(T::Q4_K, "ffn_down, falcon");
            }
            return more ? pick(T::Q6_K, "use_more_bits(" + position(i, n) + ") for ffn_down") : keep();
        }
        if (i < n / 8 && (ft_ == F::IQ4_NL || ft_ == F::IQ4_XS) && !ctx_.has_imatrix) return pick(T::Q5_K, at + " in first eighth, no imatrix");
        if (ft_ == F::Q5_K_M) return more ? pick(T::Q6_K, "use_more_bits(" + position(i, n) + ") for ffn_down") : keep();
        if (ft_ == F::Q4_K_S && !falcon_ && i < n / 8) return pick(T::Q5_K, at + " in first eighth");
        if ((ft_ == F::Q4_0 || ft_ == F::Q5_0) && ctx_.has_imatrix && i < n / 8)
            return pick(ft_ == F::Q4_0 ? T::Q4_1 : T::Q5_1, at + " in first eighth, with imatrix");
        return keep();
    }

    Choice attn_output() const {
        if (!falcon_) {
            if (n_expert() == 8) {
                const bool listed = ft_ == F::Q2_K || ft_ == F::IQ3_XS || ft_ == F::IQ3_XXS || ft_ == F::Q3_K_S || ft_ == F::Q3_K_M ||
                                    ft_ == F::IQ4_NL || ft_ == F::Q4_K_S || ft_ == F::Q4_K_M || ft_ == F::IQ3_S || ft_ == F::IQ3_M ||
                                    ft_ == F::IQ4_XS;
                return listed ? pick(T::Q5_K, "attn_output, 8 experts") : keep();
            }
            if (ft_ == F::Q2_K) return pick(T::Q3_K, "attn_output");
            if (ft_ == F::IQ3_XXS) return pick(T::IQ3_S, "attn_output");
            if (ft_ == F::Q3_K_M) return pick(T::Q4_K, "attn_output");
            if (ft_ == F::Q3_K_L) return pick(T::Q5_K, "attn_output");
            if (ft_ == F::IQ3_M) return pick(T::Q4_K, "attn_output");
            return keep();
        }
        return ft_ == F::Q3_K_L ? pick(T::Q4_K, "attn_output, falcon") : keep();
    }

    Choice ffn_gate_up(int64_t& counter, int64_t n_total) {
        const auto [i, n] = layer_info(counter, n_total);
        ++counter;
        if (ft_ == F::IQ3_XS && i >= n / 8 && i < 7 * n / 8) return pick(T::IQ3_XXS, label() + " " + position(i, n) + " in the middle");
        return keep();
    }
};

}  // namespace

Choice mixture_type(const RuleContext& ctx, Counters& counters, const ModelTensor& tensor, Category category) {
    return Rules(ctx, counters, tensor, category).decide();
}

}  // namespace llmq::plan::detail
