// Native implementations of the core's byte interfaces over POSIX files.
#pragma once

#include <filesystem>

#include "llmq/io/io.hpp"

namespace llmq::native {

// pread-based random access; the file stays open for the object's lifetime.
class FileSource final : public ByteSource {
public:
    explicit FileSource(const std::filesystem::path& path);  // Failure(ModelNotFound) if absent
    ~FileSource() override;
    FileSource(const FileSource&) = delete;
    FileSource& operator=(const FileSource&) = delete;
    uint64_t size() const override { return size_; }
    void read(uint64_t offset, std::span<uint8_t> out) const override;
    std::string name() const override { return path_.string(); }

private:
    std::filesystem::path path_;
    int fd_ = -1;
    uint64_t size_ = 0;
    int64_t mtime_ns_ = 0;  // reads fail (CorruptInput) once size or modification time change
};

// Writes to "<path>.part" and renames it to path on finish(); abort() or destruction without
// finish() removes the partial file, so the output path never holds a half-written file. A
// "<path>.part" left by a killed run is replaced; one another process is writing (it holds an
// flock on it) is not touched: the constructor fails with OutputIo.
class FileSink final : public ByteSink {
public:
    explicit FileSink(std::filesystem::path path);  // Failure(OutputIo) if it cannot be created
    ~FileSink() override;
    FileSink(const FileSink&) = delete;
    FileSink& operator=(const FileSink&) = delete;
    void write(std::span<const uint8_t> bytes) override;
    uint64_t bytes_written() const override { return written_; }
    void finish() override;
    void abort() noexcept override;
    std::string name() const override { return path_.string(); }
    // True when "<path>.part" existed before: the partial file of an interrupted run.
    bool replaced_partial() const { return replaced_partial_; }

private:
    void flush_buffer();
    std::filesystem::path path_;
    std::filesystem::path part_;
    int fd_ = -1;
    uint64_t written_ = 0;
    bool replaced_partial_ = false;
    std::vector<uint8_t> buffer_;
};

// A model on disk: a single file (the set holds just its name) or a directory.
class DiskFileSet final : public FileSet {
public:
    explicit DiskFileSet(std::filesystem::path root);
    std::string name() const override { return root_.string(); }
    bool exists(std::string_view relative) const override;
    std::unique_ptr<ByteSource> open(std::string_view relative) const override;
    std::vector<std::string> list() const override;
    bool is_directory() const override { return is_directory_; }

private:
    std::filesystem::path resolve(std::string_view relative) const;
    std::filesystem::path root_;
    bool is_directory_ = false;
};

}  // namespace llmq::native
