// A host over in-memory files for the analysis tests (calibration text, checkpoints).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "llmq/error.hpp"
#include "llmq/io/memory.hpp"
#include "llmq/jobs/host.hpp"

namespace llmq::test {

struct MemoryHost {
    std::map<std::string, std::vector<uint8_t>> files;
    Host host;

    MemoryHost() {
        host.exists = [this](const std::string& p) { return files.count(p) != 0; };
        host.open_file = [this](const std::string& p) -> std::unique_ptr<ByteSource> {
            auto it = files.find(p);
            if (it == files.end()) fail(ExitCode::ModelNotFound, p + ": no such file");
            return std::make_unique<MemorySource>(it->second, p);
        };
    }
    void add(const std::string& path, const std::string& text) { files[path] = std::vector<uint8_t>(text.begin(), text.end()); }
};

}  // namespace llmq::test
