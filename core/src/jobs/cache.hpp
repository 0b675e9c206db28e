// What the jobs that keep measurements (importance matrices, dynamic-quantization cost tables)
// share: a model's identity and the cache directory.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "llmq/format/model.hpp"
#include "llmq/jobs/host.hpp"

namespace llmq::jobs {

// Identity of a model for checkpoints and caches: its header (metadata and tensor list) and
// size, cheap to compute whatever the model size.
std::string model_fingerprint(const ModelView& model);

// The cache directory: $LLM_QUANTIZE_IMATRIX_CACHE, else $HOME/.cache/llmq/imatrix; none when the
// host has no environment. An empty value is an error (CLI.md: invalid values are not ignored).
std::optional<std::string> cache_directory(Host& host);

// The whole small file at path (at most 1 GiB), and writing one through a sink that appears
// only when complete.
std::vector<uint8_t> read_whole(const std::string& path, Host& host);
void write_whole(const std::string& path, std::span<const uint8_t> bytes, Host& host);

}  // namespace llmq::jobs
