// Streamed rows of a safetensors tensor in the GGUF type of the conversion. Each call reads
// only what it returns (plus, for permuted Q/K weights, the rest of the heads it touches), so
// a job's memory is bounded by its chunk size, never by the tensor or the model.
#include <algorithm>
#include <cstring>

#include "format/hf_internal.hpp"
#include "llmq/error.hpp"
#include "llmq/quant/codec.hpp"

namespace llmq::hf {
namespace {

// Converts n elements between F32, F16 and BF16 (widening is exact; narrowing rounds to
// nearest even, as the reference converter's numpy casts do). Goes through f32 in small
// blocks so the scratch stays a few hundred KiB whatever the chunk.
void convert(GgmlType from, std::span<const uint8_t> in, GgmlType to, std::span<uint8_t> out, int64_t n) {
    if (from == to) {
        std::memcpy(out.data(), in.data(), out.size());
        return;
    }
    constexpr int64_t kBlock = 64 * 1024;
    const size_t in_size = row_size(from, 1), out_size = row_size(to, 1);
    std::vector<float> f32(static_cast<size_t>(std::min(n, kBlock)));
    for (int64_t i = 0; i < n; i += kBlock) {
        const auto m = static_cast<size_t>(std::min(kBlock, n - i));
        const auto src = in.subspan(static_cast<size_t>(i) * in_size, m * in_size);
        const auto dst = out.subspan(static_cast<size_t>(i) * out_size, m * out_size);
        std::span<float> values(f32.data(), m);
        if (from == GgmlType::F32) {
            std::memcpy(values.data(), src.data(), src.size());
        } else {
            dequantize(from, src, values);
        }
        if (to == GgmlType::F32) {
            std::memcpy(dst.data(), values.data(), dst.size());
        } else {
            quantize_rows(to, values, dst, static_cast<int64_t>(m));
        }
    }
}

// Index of the stored row (or element) that lands at position p of a permuted group of d.
int64_t stored_index(int64_t p, int64_t d) {
    const int64_t head = p / d, local = p % d;
    return head * d + (local % 2) * (d / 2) + local / 2;
}

}  // namespace

void read_rows(const RowSource& src, int64_t row0, int64_t nrows, std::span<uint8_t> out) {
    const uint64_t in_row = row_size(src.stored, src.row_length);
    const uint64_t out_row = row_size(src.target, src.row_length);
    if (row0 < 0 || nrows < 0 || row0 > src.rows || nrows > src.rows - row0 || out.size() != static_cast<uint64_t>(nrows) * out_row) {
        fail(ExitCode::General, "internal: read of rows [" + std::to_string(row0) + ", +" + std::to_string(nrows) + ") of tensor '" + src.name +
                                    "' (" + std::to_string(src.rows) + " rows) into " + std::to_string(out.size()) + " bytes");
    }
    if (nrows == 0) return;

    if (src.permute_heads <= 0) {
        if (src.stored == src.target) {  // straight into the caller's buffer
            src.file->read(src.offset + static_cast<uint64_t>(row0) * in_row, out);
            return;
        }
        std::vector<uint8_t> raw(static_cast<size_t>(nrows) * in_row);
        src.file->read(src.offset + static_cast<uint64_t>(row0) * in_row, raw);
        convert(src.stored, raw, src.target, out, nrows * src.row_length);
        return;
    }

    if (src.rows == 1) {
        // A 1-D bias: its elements are the "rows" of the permutation.
        const int64_t d = src.row_length / src.permute_heads;
        std::vector<uint8_t> raw(in_row);
        src.file->read(src.offset, raw);
        std::vector<uint8_t> converted(out_row);
        convert(src.stored, raw, src.target, converted, src.row_length);  // small: copies are fine
        const size_t esize = out_row / static_cast<uint64_t>(src.row_length);
        for (int64_t p = 0; p < src.row_length; ++p) {
            std::memcpy(out.data() + static_cast<size_t>(p) * esize, converted.data() + static_cast<size_t>(stored_index(p, d)) * esize, esize);
        }
        return;
    }

    // Whole heads covering the requested rows: one contiguous read, then a gather.
    const int64_t d = src.rows / src.permute_heads;
    const int64_t first = (row0 / d) * d;
    const int64_t last = ((row0 + nrows - 1) / d + 1) * d;
    const int64_t span_rows = last - first;
    std::vector<uint8_t> raw(static_cast<size_t>(span_rows) * in_row);
    src.file->read(src.offset + static_cast<uint64_t>(first) * in_row, raw);
    std::vector<uint8_t> converted;
    std::span<const uint8_t> rows = raw;
    if (src.stored != src.target) {
        converted.resize(static_cast<size_t>(span_rows) * out_row);
        convert(src.stored, raw, src.target, converted, span_rows * src.row_length);
        rows = converted;
    }
    for (int64_t r = 0; r < nrows; ++r) {
        const int64_t from = stored_index(row0 + r, d) - first;
        std::memcpy(out.data() + static_cast<size_t>(r) * out_row, rows.data() + static_cast<size_t>(from) * out_row, out_row);
    }
}

}  // namespace llmq::hf
