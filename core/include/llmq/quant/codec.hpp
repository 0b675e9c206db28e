// Entry points of the codecs; dispatch through the traits table.
#pragma once

#include "llmq/quant/types.hpp"

namespace llmq {

// Throws Failure(Unsupported) when llmq has no quantizer for the type or n_per_row is not a
// multiple of its block size.
void quantize_rows(GgmlType type, std::span<const float> src, std::span<uint8_t> dst, int64_t n_per_row, std::span<const float> imatrix = {});

// Decodes src (a whole number of blocks of type) into dst (block_size floats per block).
void dequantize(GgmlType type, std::span<const uint8_t> src, std::span<float> dst);

}  // namespace llmq
