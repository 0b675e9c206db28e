// Importance matrices as llama.cpp writes and reads them: the GGUF imatrix (general.type
// "imatrix", <weight>.in_sum2 / <weight>.counts tensors) and the legacy binary .dat.
// Facts: reference/ggml-formats.md §4.2, §4.3.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "llmq/io/io.hpp"

namespace llmq {

// What a quantizer consumes, normalised as llama-quantize does.
struct ImatrixData {
    // weight name -> per-column mean of squared activations (n_mat * ne[0] values, matrix-major;
    // already divided by the counts; a matrix that saw no tokens has all values 1.0).
    std::map<std::string, std::vector<float>> entries;
    std::vector<std::string> datasets;
    uint32_t chunk_count = 0;
    uint32_t chunk_size = 0;  // 0 when the file does not record it (.dat)
    std::string format;       // "gguf" or "dat"
};

// Reads a GGUF imatrix, or a legacy .dat when the file does not start with the GGUF magic
// (llama.cpp tries GGUF first and falls back to legacy; the extension does not matter).
// Throws Failure(Imatrix) naming the file and the problem; a GGUF imatrix must carry
// imatrix.datasets, imatrix.chunk_count and imatrix.chunk_size, as llama-quantize requires.
ImatrixData read_imatrix(const ByteSource& source);

// What llama-imatrix accumulates per weight: per-column sums of squared activations of n_mat
// matrices (n_mat * ne[0] values, matrix-major) and how many activation rows each matrix saw.
struct ImatrixStats {
    std::vector<float> sums;      // n_mat * ne[0]
    std::vector<int64_t> counts;  // n_mat (1 for a dense weight, n_expert for merged experts)
};

struct ImatrixSums {
    std::map<std::string, ImatrixStats> entries;
    std::vector<std::string> datasets;  // every input's datasets, the calibration file last
    uint32_t chunk_count = 0;
    uint32_t chunk_size = 0;  // tokens per chunk (n_ctx); required by the .dat writer
};

// Both writers emit the file sequentially and leave finishing the sink to the caller.
// GGUF: entries sorted by name, each as <name>.in_sum2 (F32, [ne0] or [ne0, n_mat]) then
// <name>.counts (F32, [1] or [1, n_mat]); KVs general.type, imatrix.datasets,
// imatrix.chunk_count, imatrix.chunk_size.
void write_imatrix_gguf(ByteSink& sink, const ImatrixSums& sums);
// Legacy .dat: entries whose counts are all zero are dropped; ncall = ceil(max count /
// chunk_size); values = mean * ncall (1 * ncall for a matrix that saw nothing); the trailer
// holds chunk_count and the last dataset.
void write_imatrix_dat(ByteSink& sink, const ImatrixSums& sums);

}  // namespace llmq
