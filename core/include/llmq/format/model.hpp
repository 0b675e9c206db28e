// ModelView: what every job sees of an input model, whatever its format: metadata as GGUF
// key/values and a list of tensors that can be read in row chunks. Opening reads headers only.
#pragma once

#include <functional>
#include <memory>

#include "llmq/format/gguf.hpp"
#include "llmq/io/io.hpp"

namespace llmq {

struct ModelTensor {
    std::string name;
    uint32_t n_dims = 0;
    std::array<int64_t, 4> ne{1, 1, 1, 1};
    GgmlType type = GgmlType::F32;  // type of the bytes read_rows delivers

    // Reads rows [row0, row0 + nrows) (a row = ne[0] elements, rows counted over ne[1..3]) as
    // raw bytes of `type` into out (exactly nrows * row_size(type, ne[0]) bytes).
    std::function<void(int64_t row0, int64_t nrows, std::span<uint8_t> out)> read_rows;

    int64_t n_rows() const { return ne[1] * ne[2] * ne[3]; }
    int64_t n_elements() const { return ne[0] * n_rows(); }
    uint64_t nbytes() const { return row_size(type, ne[0]) * static_cast<uint64_t>(n_rows()); }
};

struct ModelView {
    std::string path;           // what the user named
    std::string format;         // "gguf" or "huggingface"
    uint64_t source_bytes = 0;  // size of the input files
    std::vector<gguf::KeyValue> metadata;
    std::vector<ModelTensor> tensors;

    const gguf::Value* find(std::string_view key) const;
    const ModelTensor* find_tensor(std::string_view name) const;
    std::string architecture() const;  // general.architecture, or "" if absent
};

// Opens a GGUF file (header only). The source is kept alive by the tensors' readers.
ModelView open_gguf_model(std::shared_ptr<const ByteSource> source);

}  // namespace llmq
