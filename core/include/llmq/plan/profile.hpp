// Dynamic-quantization profiles: `.dqprofile` documents (JSON, schema in docs/profiles.md) that
// say which types the solver may choose, per-tensor-class constraints by regex, how much each
// class's loss counts, and the default size target. Three are built in (attention-high,
// balanced, compression-max); users write their own.
#pragma once

#include <cstdint>
#include <optional>
#include <regex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llmq/quant/types.hpp"

namespace llmq::plan {

struct ProfileRule {
    std::string match;  // ECMAScript regex, searched in the tensor name
    std::regex regex;
    std::vector<GgmlType> types;  // empty: every candidate of the profile
    double min_bpw = 0.0;         // bits per weight of the type (its block's), inclusive
    double max_bpw = 1e9;
    double loss_weight = 1.0;  // the solver multiplies this class's estimated loss by it
    std::string note;
};

struct ProfileTarget {
    std::optional<double> bpw;     // bits per weight over all tensors
    std::optional<double> ratio;   // fraction of the model's 16-bit size
    std::optional<uint64_t> size;  // bytes of the whole file
};

struct Profile {
    std::string name;
    std::string description;
    std::string source;  // "built-in" or the file's path
    std::vector<GgmlType> candidates;
    std::vector<ProfileRule> rules;
    ProfileTarget default_target;
    std::vector<std::string> notes;
    std::string text;  // the document as read

    // The types a tensor may take: the candidates every matching rule allows, in candidate
    // order (block-size fit is the caller's business). Empty when the rules exclude all.
    std::vector<GgmlType> allowed(const std::string& tensor_name) const;
    // Product of the loss weights of the matching rules.
    double loss_weight(const std::string& tensor_name) const;
};

// Parses and validates a document. Failure(Profile) naming `source`, the field and what is
// wrong (unknown fields are errors: a typo must not pass silently).
Profile parse_profile(std::string_view text, const std::string& source);

struct BuiltinProfile {
    std::string_view name;
    std::string_view text;
};
// The profiles compiled into llmq (data/profiles/*.dqprofile), by name.
std::span<const BuiltinProfile> builtin_profiles();
const BuiltinProfile* find_builtin_profile(std::string_view name);

}  // namespace llmq::plan
