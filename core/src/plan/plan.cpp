// make_plan: walks the tensors in output order and applies the decision steps of llama-quantize
// 80fb11ac (reference §5.4): not quantizable → keep; --token-embedding-type; --output-tensor-type;
// unquantized preset → its type; --tensor-type, --pure or the mixture rules, then the shape
// fallback. Errors the preliminary pass would raise (missing imatrix, requantization) are
// raised here, before any byte is written.
#include <algorithm>
#include <set>

#include "llmq/error.hpp"
#include "plan/internal.hpp"

namespace llmq::plan {
namespace {

using detail::Category;

std::string model_name(const ModelView& model) {
    return model.path.empty() ? std::string("model") : model.path;
}

// An explicit --output-tensor-type / --token-embedding-type skips the shape fallback, so a
// type that cannot hold the rows is the user's error (llama.cpp fails later while writing).
void check_fits(GgmlType type, const ModelTensor& t, std::string_view option) {
    const int64_t block = traits(type).block_size;
    if (t.ne[0] % block != 0) {
        fail(ExitCode::Usage,
             std::string(option) + " " + std::string(type_name(type)) + " cannot hold " + t.name + ": rows of " + std::to_string(t.ne[0]) +
                 " elements are not a multiple of its block size " + std::to_string(block),
             "choose a type whose block size divides " + std::to_string(t.ne[0]) + " (e.g. q8_0 or f16)");
    }
}

bool is_plain_float(GgmlType t) {
    return t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16;
}

}  // namespace

QuantPlan make_plan(const ModelView& model, const PlanOptions& options) {
    if (!options.preset) fail(ExitCode::Usage, "no quantization preset given", "choose one of " + preset_names());
    const Preset& preset = *options.preset;
    const std::string path = model_name(model);
    if (options.output_tensor_type) detail::check_storage_type(*options.output_tensor_type, "--output-tensor-type");
    if (options.token_embedding_type) detail::check_storage_type(*options.token_embedding_type, "--token-embedding-type");
    const auto overrides = detail::compile_overrides(options.tensor_types);
    const ModelFacts facts = model_facts(model);

    const auto order = detail::processing_order(model.tensors);
    const bool tied = std::none_of(model.tensors.begin(), model.tensors.end(), [](const ModelTensor& t) { return t.name == "output.weight"; });
    detail::Counters counters;
    for (const auto& t : model.tensors)
        if (detail::is_attn_v_like(detail::categorize(t.name))) ++counters.n_attention_wv;
    counters.n_ffn_down = counters.n_ffn_gate = counters.n_ffn_up = facts.n_layer;

    // F16/BF16/F32 presets convert every quantizable tensor and ignore --tensor-type.
    const bool default_quantized = traits(preset.default_type).quantized;
    const detail::RuleContext ctx{preset, facts, tied, options.has_imatrix, options.output_tensor_type, path};

    QuantPlan plan;
    plan.ftype = preset.ftype;
    plan.tensors.reserve(order.size());
    std::optional<Error> requantize_error;
    std::set<GgmlType> requantize_warned;
    std::vector<bool> override_used(overrides.size(), false);

    for (const size_t index : order) {
        const ModelTensor& t = model.tensors[index];
        TensorPlan tp;
        tp.name = t.name;
        tp.source_index = index;
        tp.source_type = tp.target_type = t.type;
        if (const auto why = detail::not_quantizable_reason(t, options.leave_output_tensor)) {
            tp.reason = "not quantizable: " + *why;
            plan.tensors.push_back(std::move(tp));
            continue;
        }

        const Category category = detail::categorize(t.name);
        const detail::TypeOverride* match = detail::match_override(overrides, t.name);
        GgmlType type = preset.default_type;
        if (const auto it = options.assigned.find(t.name); it != options.assigned.end()) {
            type = it->second.first;
            check_fits(type, t, "the dynamic plan");
            tp.reason = it->second.second;
        } else if (options.token_embedding_type && category == Category::TokenEmbd && !(t.name == "per_layer_token_embd.weight" && match)) {
            type = *options.token_embedding_type;
            check_fits(type, t, "--token-embedding-type");
            tp.reason = "--token-embedding-type " + std::string(type_name(type));
        } else if (options.output_tensor_type && category == Category::Output) {
            type = *options.output_tensor_type;
            check_fits(type, t, "--output-tensor-type");
            tp.reason = "--output-tensor-type " + std::string(type_name(type));
        } else if (!default_quantized) {
            tp.reason = "preset " + std::string(preset.name) + ": " + display_name(type) + " for every weight";
        } else {
            if (match) {
                type = match->type;
                override_used[static_cast<size_t>(match - overrides.data())] = true;
                tp.reason = "--tensor-type " + match->pattern + "=" + std::string(type_name(type));
            } else if (options.pure) {
                tp.reason = "--pure: preset " + std::string(preset.name) + " default " + display_name(type);
            } else {
                auto choice = detail::mixture_type(ctx, counters, t, category);
                type = choice.type;
                tp.reason = std::move(choice.reason);
            }
            if (auto fb = detail::shape_fallback(type, t.ne[0], t.name, path)) {
                type = fb->type;
                tp.fallback = true;
                tp.reason += "; " + fb->reason;
                ++plan.n_fallback;
            }
        }

        tp.target_type = type;
        tp.needs_imatrix = detail::requires_imatrix(t.name, type, preset.ftype);
        if (type == t.type) {
            tp.reason += "; already " + display_name(type) + ", copied";
        } else {
            tp.quantize = true;
            const TypeTraits& src = traits(t.type);
            if (src.quantized) {
                const std::string src_name(src.name);
                if (!options.allow_requantize) {
                    if (!requantize_error) {
                        requantize_error = Error{ExitCode::Usage,
                                                 path + ": tensor " + t.name + " is already quantized (" + src_name + "); requantizing from type " +
                                                     src_name + " is disabled",
                                                 "pass --allow-requantize to quantize it again through f32 (loses "
                                                 "quality)"};
                    }
                } else if (requantize_warned.insert(t.type).second) {
                    plan.warnings.push_back("input already quantized (" + src_name + "): requantizing through f32 loses quality");
                }
            } else if (!is_plain_float(t.type)) {
                fail(ExitCode::Unsupported,
                     path + ": tensor " + t.name + " has type " + std::string(src.name) + ", which cannot be converted to " +
                         std::string(type_name(type)),
                     "exclude it with --tensor-type or --leave-output-tensor");
            }
        }
        plan.tensors.push_back(std::move(tp));
    }

    // The preliminary pass of llama-quantize: fail before anything is written.
    if (!options.has_imatrix) {
        for (const auto& tp : plan.tensors) {
            if (!tp.needs_imatrix) continue;
            const std::string model_arg = model.path.empty() ? std::string("MODEL") : model.path;
            fail(ExitCode::Imatrix,
                 path + ": tensor " + tp.name + " needs an importance matrix for type " + display_name(tp.target_type) + " (preset " +
                     std::string(preset.name) + ")",
                 "run `llmq analyze " + model_arg + " -o model.imatrix` and pass --imatrix");
        }
    }
    if (requantize_error) throw Failure(std::move(*requantize_error));

    if (!default_quantized && !overrides.empty()) {
        plan.warnings.push_back("--tensor-type is ignored with preset " + std::string(preset.name) + " (it does not quantize)");
    } else {
        for (size_t i = 0; i < overrides.size(); ++i)
            if (!override_used[i]) plan.warnings.push_back("--tensor-type pattern '" + overrides[i].pattern + "' did not apply to any tensor");
    }
    if (plan.n_fallback > 0) {
        plan.warnings.push_back(std::to_string(plan.n_fallback) + " of " + std::to_string(plan.tensors.size()) +
                                " tensor(s) required fallback quantization");
    }
    return plan;
}

}  // namespace llmq::plan
