// In-memory sources and sinks: tests, and small buffers handed over by a host.
#pragma once

#include <map>

#include "llmq/io/io.hpp"

namespace llmq {

class MemorySource final : public ByteSource {
public:
    explicit MemorySource(std::vector<uint8_t> bytes, std::string name = "memory") : bytes_(std::move(bytes)), name_(std::move(name)) {}
    uint64_t size() const override { return bytes_.size(); }
    void read(uint64_t offset, std::span<uint8_t> out) const override;
    std::string name() const override { return name_; }

private:
    std::vector<uint8_t> bytes_;
    std::string name_;
};

class MemorySink final : public ByteSink {
public:
    explicit MemorySink(std::string name = "memory") : name_(std::move(name)) {}
    void write(std::span<const uint8_t> bytes) override;
    uint64_t bytes_written() const override { return pending_.size(); }
    void finish() override;
    void abort() noexcept override { pending_.clear(); }
    std::string name() const override { return name_; }
    bool finished() const { return finished_; }
    // The bytes, available after finish().
    const std::vector<uint8_t>& bytes() const { return finished_bytes_; }

private:
    std::vector<uint8_t> pending_;
    std::vector<uint8_t> finished_bytes_;
    bool finished_ = false;
    std::string name_;
};

class MemoryFileSet final : public FileSet {
public:
    explicit MemoryFileSet(std::string name = "memory") : name_(std::move(name)) {}
    void add(std::string relative, std::vector<uint8_t> bytes) { files_[std::move(relative)] = std::move(bytes); }
    std::string name() const override { return name_; }
    bool is_directory() const override { return files_.size() != 1; }
    bool exists(std::string_view relative) const override;
    std::unique_ptr<ByteSource> open(std::string_view relative) const override;
    std::vector<std::string> list() const override;

private:
    std::string name_;
    std::map<std::string, std::vector<uint8_t>, std::less<>> files_;
};

}  // namespace llmq
