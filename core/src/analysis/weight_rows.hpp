// Helpers shared by the weight-reading analyses (coverage set, quantization sensitivity): which
// tensors are block weight matrices with importance data, and their rows in bounded chunks.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "llmq/format/imatrix.hpp"
#include "llmq/format/model.hpp"

namespace llmq::analysis {

// L of "blk.L.<anything>", nullopt for any other name.
std::optional<int64_t> block_index(std::string_view tensor_name);

// A block weight matrix ("blk.*", at least 2-D) together with its importance vector(s).
struct WeightedMatrix {
    const ModelTensor* tensor = nullptr;
    std::span<const float> imatrix;  // n_mat * ne[0] values (n_mat = 1 for a plain matrix)
    int64_t layer = 0;

    // The importance weights of the columns of row r (rows of matrix m use vector m).
    std::span<const float> importance(int64_t row) const;
};

// Every block matrix that has an imatrix entry, sorted by tensor name. Throws
// Failure(Imatrix) when an entry's size fits neither one vector per tensor nor one per expert.
std::vector<WeightedMatrix> weighted_matrices(const ModelView& model, const ImatrixData& imatrix);

// Reads tensor rows in chunks of at most max_bytes (at least one row) and hands each chunk over
// decoded to floats: fn(row0, nrows, values of nrows * ne[0] floats). Failure(Unsupported) for a
// type llmq cannot decode.
void for_each_row_chunk(const ModelTensor& tensor, uint64_t max_bytes,
                        const std::function<void(int64_t row0, int64_t nrows, std::span<const float> values)>& fn);

inline constexpr uint64_t kRowChunkBytes = 8ull << 20;

}  // namespace llmq::analysis
