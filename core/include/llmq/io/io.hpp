// The byte interfaces every host implements. The core reads models only through ByteSource
// (random access, chunked reads) and writes only through ByteSink (sequential), so the same
// code runs over POSIX files, browser Blobs, Node file handles and OPFS.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace llmq {

class ByteSource {
public:
    virtual ~ByteSource() = default;
    virtual uint64_t size() const = 0;
    // Reads exactly out.size() bytes at offset. Throws Failure(CorruptInput) when the range is
    // past the end, Failure(General) on an I/O error.
    virtual void read(uint64_t offset, std::span<uint8_t> out) const = 0;
    // Name for messages (usually the path).
    virtual std::string name() const = 0;
};

class ByteSink {
public:
    virtual ~ByteSink() = default;
    virtual void write(std::span<const uint8_t> bytes) = 0;
    virtual uint64_t bytes_written() const = 0;
    // Makes the output visible at its final name. Nothing is there before finish().
    virtual void finish() = 0;
    // Drops everything written; the final name is left untouched. Safe to call twice.
    virtual void abort() noexcept = 0;
    virtual std::string name() const = 0;
};

// The files of a model: one file (GGUF) or a directory (HuggingFace). Names are relative
// paths inside the set; a name that escapes it ("..", absolute) is rejected by implementations.
class FileSet {
public:
    virtual ~FileSet() = default;
    virtual std::string name() const = 0;
    // A directory of files (HuggingFace) rather than one file (GGUF).
    virtual bool is_directory() const = 0;
    virtual bool exists(std::string_view relative) const = 0;
    virtual std::unique_ptr<ByteSource> open(std::string_view relative) const = 0;
    virtual std::vector<std::string> list() const = 0;
};

// Reads a whole small file (headers, JSON); refuses anything above max_bytes.
std::vector<uint8_t> read_all(const ByteSource& source, uint64_t max_bytes);

}  // namespace llmq
