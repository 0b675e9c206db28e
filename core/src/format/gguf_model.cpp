// ModelView over a GGUF file: the parsed header as metadata, and per tensor a reader of raw
// row ranges straight from the source (no copy of the model is ever held).
#include "llmq/error.hpp"
#include "llmq/format/model.hpp"

namespace llmq {

const gguf::Value* ModelView::find(std::string_view key) const {
    for (const auto& entry : metadata)
        if (entry.key == key) return &entry.value;
    return nullptr;
}

const ModelTensor* ModelView::find_tensor(std::string_view name) const {
    for (const auto& t : tensors)
        if (t.name == name) return &t;
    return nullptr;
}

std::string ModelView::architecture() const {
    const gguf::Value* v = find("general.architecture");
    const std::string* s = v ? v->as_string() : nullptr;
    return s ? *s : std::string();
}

ModelView open_gguf_model(std::shared_ptr<const ByteSource> source) {
    if (!source) fail(ExitCode::General, "internal: open_gguf_model without a source");
    gguf::Header header = gguf::read_header(*source);

    ModelView view;
    view.path = source->name();
    view.format = "gguf";
    view.source_bytes = source->size();
    view.tensors.reserve(header.tensors.size());
    for (const auto& info : header.tensors) {
        ModelTensor t;
        t.name = info.name;
        t.n_dims = info.n_dims;
        t.ne = info.ne;
        t.type = info.type;
        const uint64_t start = header.data_offset + info.offset;
        const uint64_t row_bytes = row_size(info.type, info.ne[0]);
        const int64_t rows = info.n_rows();
        // The reader validated that [start, start + nbytes) lies inside the file.
        t.read_rows = [source, start, row_bytes, rows, name = info.name](int64_t row0, int64_t nrows, std::span<uint8_t> out) {
            if (row0 < 0 || nrows < 0 || row0 > rows || nrows > rows - row0 || out.size() != static_cast<uint64_t>(nrows) * row_bytes) {
                fail(ExitCode::General, "internal: read of rows [" + std::to_string(row0) + ", +" + std::to_string(nrows) + ") of tensor '" + name +
                                            "' (" + std::to_string(rows) + " rows) into " + std::to_string(out.size()) + " bytes");
            }
            source->read(start + static_cast<uint64_t>(row0) * row_bytes, out);
        };
        view.tensors.push_back(std::move(t));
    }
    view.metadata = std::move(header.kv);
    return view;
}

}  // namespace llmq
