// `llmq profile`: the dynamic-quantization profiles — list the known ones, show one, create one
// tuned from a model's importance matrix, and check whether one can be met on a model.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "llmq/jobs/host.hpp"

namespace llmq {

// Built-in profiles and those in LLM_QUANTIZE_PROFILE_DIR: name, description, source, target.
nlohmann::json run_profile_list(Host& host);

// One profile (name or file) as parsed, with its document text.
nlohmann::json run_profile_show(const std::string& spec, Host& host);

struct ProfileCreateOptions {
    std::string imatrix_path;
    std::string name;
    std::optional<double> target_bpw;
    std::optional<uint64_t> target_size;  // stored as the profile's default target
    std::string output_path;              // empty: NAME.dqprofile in the current directory
};

// Writes a profile whose rules keep the tensors with the most concentrated importance (outlier
// input columns, where low-bit types lose most) at 4.5 bits or more.
nlohmann::json run_profile_create(const ProfileCreateOptions& options, Host& host);

// Whether a profile can be met on a model: which tensors it can type, the smallest and largest
// file it allows, and the size its default target gives. Failure(Profile) when it cannot.
nlohmann::json run_profile_validate(const std::string& spec, const std::string& model_path, Host& host);

}  // namespace llmq
