#include "jobs/output_check.hpp"

#include <filesystem>

#include "llmq/error.hpp"

namespace llmq::jobs {
namespace {

bool same_path(const std::string& a, const std::string& b, Host& host) {
    if (std::filesystem::path(a).lexically_normal() == std::filesystem::path(b).lexically_normal()) return true;
    return host.same_file && host.same_file(a, b);
}

}  // namespace

void refuse_output_over_inputs(const std::string& output, const std::vector<std::string>& models, const std::vector<std::string>& files, Host& host) {
    std::vector<std::string> inputs;
    for (const std::string& path : files)
        if (!path.empty()) inputs.push_back(path);
    for (const std::string& model : models) {
        if (model.empty() || (host.exists && !host.exists(model))) continue;
        inputs.push_back(model);
        if (!host.open_files) continue;
        const auto set = host.open_files(model);
        if (!set->is_directory()) continue;
        for (const std::string& name : set->list()) inputs.push_back((std::filesystem::path(model) / name).string());
    }
    const std::string part = output + ".part";
    for (const std::string& file : inputs) {
        if (same_path(output, file, host)) {
            fail(ExitCode::Usage, "the output " + output + " is the input " + file + (output == file ? "" : " (the same file)"),
                 "choose another path with -o");
        }
        if (same_path(part, file, host)) {
            fail(ExitCode::Usage, "the output " + output + " would be written through " + part + ", which is the input " + file,
                 "choose another path with -o");
        }
    }
}

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
