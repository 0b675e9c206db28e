#include "llmq/io/memory.hpp"

#include <algorithm>
#include <cstring>

#include "llmq/error.hpp"

namespace llmq {

std::vector<uint8_t> read_all(const ByteSource& source, uint64_t max_bytes) {
    const uint64_t n = source.size();
    if (n > max_bytes) {
        fail(ExitCode::CorruptInput, source.name() + ": file is " + std::to_string(n) + " bytes, more than the " + std::to_string(max_bytes) +
                                         " expected for this kind of file");
    }
    std::vector<uint8_t> bytes(n);
    source.read(0, bytes);
    return bytes;
}

void MemorySource::read(uint64_t offset, std::span<uint8_t> out) const {
    if (offset > bytes_.size() || out.size() > bytes_.size() - offset) {
        fail(ExitCode::CorruptInput, name_ + ": truncated (read of " + std::to_string(out.size()) + " bytes at offset " + std::to_string(offset) +
                                         " past the end, size " + std::to_string(bytes_.size()) + ")");
    }
    if (!out.empty()) std::memcpy(out.data(), bytes_.data() + offset, out.size());
}

void MemorySink::write(std::span<const uint8_t> bytes) {
    pending_.insert(pending_.end(), bytes.begin(), bytes.end());
}

void MemorySink::finish() {
    finished_bytes_ = std::move(pending_);
    pending_.clear();
    finished_ = true;
}

bool MemoryFileSet::exists(std::string_view relative) const {
    return files_.find(relative) != files_.end();
}

std::unique_ptr<ByteSource> MemoryFileSet::open(std::string_view relative) const {
    auto it = files_.find(relative);
    if (it == files_.end()) fail(ExitCode::ModelNotFound, name_ + "/" + std::string(relative) + ": no such file");
    return std::make_unique<MemorySource>(it->second, std::string(relative));
}

std::vector<std::string> MemoryFileSet::list() const {
    std::vector<std::string> names;
    for (const auto& [k, v] : files_) names.push_back(k);
    return names;
}

}  // namespace llmq
