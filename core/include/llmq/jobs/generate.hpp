// The generate job: a prompt's continuation from the resident executor (greedy at temperature 0).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "llmq/jobs/host.hpp"
#include "llmq/runtime/config.hpp"

namespace llmq {

struct GenerateOptions {
    std::string model_path;
    std::string prompt;
    int64_t max_tokens = 64;   // -n
    double temperature = 0.0;  // 0: greedy
    uint64_t seed = 0;
    bool ignore_eos = false;  // keep generating past the end-of-sequence token
    RopeFrequencies rope_frequencies = RopeFrequencies::Exact;
};

// Returns {"status","model_path","prompt","completion","text","prompt_tokens","tokens",
// "n_generated","stop_reason","temperature","seed","tokens_per_second","duration_seconds"}.
nlohmann::json run_generate(const GenerateOptions& options, Host& host);

}  // namespace llmq
