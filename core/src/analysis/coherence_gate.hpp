// The coherence check as a step of quantize: when it runs, and what a low score does (a warning,
// or exit 12 with --coherence-check; the written file is kept either way).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "llmq/format/model.hpp"
#include "llmq/jobs/host.hpp"
#include "llmq/quant/types.hpp"

namespace llmq {

// Levels whose output is checked even without --coherence-check (warning only): the 1-bit
// codebooks and the ternary types, where collapse is common.
bool coherence_automatic(GgmlType preset_default_type);

// Checks the finished output against the original (the quantize input). Below the threshold:
// with `requested`, Failure(CoherenceFailed) whose message carries the score and threshold;
// otherwise a warning appended to `warnings` (and logged). A check that cannot run (e.g. a
// model without vocabulary) fails with `requested`, else becomes a warning and null.
// Returns CoherenceReport::to_json().
nlohmann::json run_coherence_gate(const ModelView& original, const std::string& output_path, const std::string& level, bool requested,
                                  double threshold, Host& host, std::vector<std::string>& warnings);

}  // namespace llmq
