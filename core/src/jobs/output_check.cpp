#include "jobs/output_check.hpp"

#include "llmq/error.hpp"

namespace llmq::jobs {

void validate_output(const std::string& path, const std::vector<gguf::TensorDecl>& decls, uint64_t expected_size, Host& host) {
    const auto source = host.open_file(path);
    const gguf::Header header = gguf::read_header(*source);
    auto bad = [&](const std::string& why) {
        if (host.remove_file) host.remove_file(path);
        fail(ExitCode::OutputIo, path + ": validation of the written file failed: " + why);
    };
    if (source->size() != expected_size) bad("size " + std::to_string(source->size()) + " instead of " + std::to_string(expected_size));
    if (header.tensors.size() != decls.size()) bad("tensor count differs");
    for (size_t i = 0; i < decls.size(); ++i) {
        const auto& a = header.tensors[i];
        const auto& b = decls[i];
        if (a.name != b.name || a.type != b.type || a.ne != b.ne) bad("tensor " + b.name + " differs");
    }
}

}  // namespace llmq::jobs
