// safetensors checkpoints: a validating header reader for one file and the sharded sets that
// model.safetensors.index.json describes. Only headers are read; tensor bytes stay in the files
// and are reached through ByteSource ranges.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llmq/io/io.hpp"
#include "llmq/quant/types.hpp"

namespace llmq::safetensors {

// Every dtype the format defines with a whole number of bytes per element. Files holding
// other names are rejected as unsupported when the header is read.
enum class DType : uint8_t { BOOL, U8, I8, F8_E4M3, F8_E5M2, I16, U16, F16, BF16, I32, U32, F32, I64, U64, F64 };

std::string_view dtype_name(DType dtype);
uint64_t dtype_size(DType dtype);
// F32, F16 and BF16 map to the ggml type with the same bits; nullopt for the others.
std::optional<GgmlType> float_type(DType dtype);

// The safetensors library refuses larger headers; a bigger length prefix is a damaged file.
inline constexpr uint64_t kMaxHeaderBytes = 100'000'000;
inline constexpr char kIndexName[] = "model.safetensors.index.json";
inline constexpr char kSingleName[] = "model.safetensors";

struct TensorEntry {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;  // outermost first, as in PyTorch
    uint64_t begin = 0;          // byte range relative to the data section
    uint64_t end = 0;

    uint64_t nbytes() const { return end - begin; }
    int64_t n_elements() const;
};

struct FileHeader {
    std::string file;  // name inside the FileSet
    uint64_t file_size = 0;
    uint64_t data_offset = 0;                                   // absolute offset of the data section (8 + header length)
    std::vector<TensorEntry> tensors;                           // sorted by name
    std::vector<std::pair<std::string, std::string>> metadata;  // "__metadata__", string values only

    const TensorEntry* find(std::string_view name) const;
};

// Reads and validates the header of one file: the length prefix (at most kMaxHeaderBytes and
// inside the file), JSON syntax, one object whose keys are unique, per tensor a known dtype, a
// shape of non-negative integers, data_offsets [begin, end] with begin <= end inside the data
// section, end - begin == elements x dtype size, and no two tensors overlapping.
// Throws Failure(CorruptInput) naming the file and the problem; Failure(Unsupported) for a
// dtype name the format does not define (or sub-byte formats llmq cannot address).
FileHeader read_header(const ByteSource& source, std::string file_name);

// True for a shard name that stays inside the model directory: not empty, no '/' or '\',
// not "." or "..". HuggingFace writes shards next to their index.
bool is_plain_file_name(std::string_view name);

// One tensor of a checkpoint and where its bytes are.
struct TensorRef {
    size_t shard = 0;  // index into Checkpoint::shards
    size_t index = 0;  // index into that shard's header.tensors
};

// A whole checkpoint: model.safetensors.index.json and its shards, or model.safetensors, or
// (without either) every model*.safetensors file. Shards are in file-name order; tensors are
// listed shard by shard, by name inside a shard (the order llama.cpp's converter writes).
struct Checkpoint {
    struct Shard {
        std::string file;
        std::shared_ptr<const ByteSource> source;
        FileHeader header;
    };
    std::vector<Shard> shards;
    std::vector<TensorRef> tensors;
    uint64_t total_bytes = 0;  // sum of the shard file sizes

    const TensorRef* find(std::string_view name) const;  // linear: for tests and messages
    const TensorEntry& entry(const TensorRef& ref) const { return shards[ref.shard].header.tensors[ref.index]; }
    // Absolute offset of a tensor's first byte in its shard.
    uint64_t data_start(const TensorRef& ref) const { return shards[ref.shard].header.data_offset + entry(ref).begin; }
};

// Opens the checkpoint of a model directory. Failures: no weights or an absent shard
// (ModelNotFound), an index that is not valid JSON, names a path outside the directory, or
// disagrees with its shards (CorruptInput), only PyTorch .bin weights (Unsupported).
Checkpoint open_checkpoint(const FileSet& files);

}  // namespace llmq::safetensors
