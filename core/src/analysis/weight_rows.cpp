// Block weight matrices with importance data, read in bounded row chunks.
#include "analysis/weight_rows.hpp"

#include <algorithm>
#include <charconv>

#include "llmq/error.hpp"
#include "llmq/quant/codec.hpp"

namespace llmq::analysis {

std::optional<int64_t> block_index(std::string_view name) {
    constexpr std::string_view prefix = "blk.";
    if (!name.starts_with(prefix)) return std::nullopt;
    const char* begin = name.data() + prefix.size();
    const char* end = name.data() + name.size();
    int64_t layer = -1;
    const auto [ptr, ec] = std::from_chars(begin, end, layer);
    if (ec != std::errc() || ptr == begin || ptr == end || *ptr != '.' || layer < 0) return std::nullopt;
    return layer;
}

std::span<const float> WeightedMatrix::importance(int64_t row) const {
    const auto n = static_cast<size_t>(tensor->ne[0]);
    const auto m = static_cast<size_t>(row / tensor->ne[1]);
    return imatrix.subspan(imatrix.size() == n ? 0 : m * n, n);
}

std::vector<WeightedMatrix> weighted_matrices(const ModelView& model, const ImatrixData& imatrix) {
    std::vector<WeightedMatrix> out;
    for (const ModelTensor& t : model.tensors) {
        const auto layer = block_index(t.name);
        if (!layer || t.n_dims < 2) continue;
        const auto it = imatrix.entries.find(t.name);
        if (it == imatrix.entries.end()) continue;
        const auto n = static_cast<size_t>(t.ne[0]);
        const auto n_mat = static_cast<size_t>(t.ne[2] * t.ne[3]);
        if (it->second.size() != n && it->second.size() != n * n_mat) {
            fail(ExitCode::Imatrix,
                 "importance matrix entry " + t.name + " has " + std::to_string(it->second.size()) + " values, the model's tensor has rows of " +
                     std::to_string(n) + " (" + std::to_string(n_mat) + " matrices)",
                 "use an importance matrix computed for this model");
        }
        out.push_back({&t, it->second, *layer});
    }
    std::sort(out.begin(), out.end(), [](const WeightedMatrix& a, const WeightedMatrix& b) { return a.tensor->name < b.tensor->name; });
    return out;
}

void for_each_row_chunk(const ModelTensor& tensor, uint64_t max_bytes, const std::function<void(int64_t, int64_t, std::span<const float>)>& fn) {
    if (!traits(tensor.type).dequantize) {
        fail(ExitCode::Unsupported, "tensor " + tensor.name + " has type " + std::string(type_name(tensor.type)) + ", which llmq cannot decode yet");
    }
    const uint64_t row_bytes = row_size(tensor.type, tensor.ne[0]);
    const uint64_t row_floats_bytes = static_cast<uint64_t>(tensor.ne[0]) * sizeof(float);
    const auto rows_per_chunk = static_cast<int64_t>(std::max<uint64_t>(1, max_bytes / std::max<uint64_t>(1, row_bytes + row_floats_bytes)));
    const int64_t total = tensor.n_rows();
    std::vector<uint8_t> raw;
    std::vector<float> values;
    for (int64_t r = 0; r < total; r += rows_per_chunk) {
        const int64_t n = std::min(rows_per_chunk, total - r);
        raw.resize(static_cast<size_t>(n) * row_bytes);
        values.resize(static_cast<size_t>(n * tensor.ne[0]));
        tensor.read_rows(r, n, raw);
        dequantize(tensor.type, raw, values);
        fn(r, n, values);
    }
}

}  // namespace llmq::analysis
