// Calibration data for importance analysis: a text file (plain, .json, .jsonl) tokenized as
// llama-imatrix does (reference/ggml-formats.md §4.1): the whole text once with the vocabulary's
// BOS rule, cut into consecutive chunks of ctx tokens, the first token of each chunk overwritten
// by BOS when the vocabulary adds one.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llmq/jobs/host.hpp"
#include "llmq/runtime/tokenizer.hpp"

namespace llmq {

inline constexpr int64_t kMinCalibrationSamples = 128;
inline constexpr int64_t kMaxCalibrationSamples = 1024;
inline constexpr uint64_t kMaxCalibrationBytes = 1ull << 30;

struct CalibrationRequest {
    std::string path;  // as the user gave it (recorded in the imatrix datasets)
    int64_t samples = 512;
    int64_t ctx = 512;
};

struct Calibration {
    std::string source;  // the path as given
    std::string sha256;  // of the file's bytes
    uint64_t bytes = 0;
    int64_t text_tokens = 0;  // tokens the whole text gave
    int64_t ctx = 0;
    std::vector<std::vector<int32_t>> sequences;  // samples of ctx tokens each
};

// The text of a calibration file. Plain text is taken as is; `.json` (an array of strings or of
// objects with a string "text") and `.jsonl` (one object with "text" per non-empty line) have
// their texts joined with "\n\n", so documents stay apart as paragraphs do in plain text.
// Failure(Calibration) naming the file (and line) for malformed JSON or a missing "text".
std::string calibration_text(std::string_view bytes, std::string_view path);

// The first `samples` chunks of ctx tokens; bos >= 0 overwrites each chunk's first token.
// Failure(Calibration) when samples is outside [128, 1024] or the tokens are too few, saying
// how many tokens and samples the text gives and what was asked.
std::vector<std::vector<int32_t>> calibration_sequences(std::span<const int32_t> tokens, int64_t samples, int64_t ctx, int32_t bos,
                                                        std::string_view source);

// Reads, hashes, parses and tokenizes request.path through the host.
Calibration load_calibration(const CalibrationRequest& request, const Tokenizer& tokenizer, Host& host);

}  // namespace llmq
