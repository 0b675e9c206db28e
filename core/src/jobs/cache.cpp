#include "jobs/cache.hpp"

#include <filesystem>

#include "llmq/error.hpp"
#include "llmq/format/gguf.hpp"
#include "llmq/io/sha256.hpp"

namespace llmq::jobs {
namespace {

constexpr const char* kCacheEnv = "LLM_QUANTIZE_IMATRIX_CACHE";
constexpr uint64_t kMaxWholeFileBytes = 1ull << 30;

}  // namespace

std::string model_fingerprint(const ModelView& model) {
    std::vector<gguf::TensorDecl> decls;
    decls.reserve(model.tensors.size());
    for (const auto& t : model.tensors) decls.push_back({t.name, t.n_dims, t.ne, t.type});
    Sha256 h;
    h.update(gguf::encode_header(model.metadata, decls));
    h.update("\nsize " + std::to_string(model.source_bytes));
    return h.hex();
}

std::optional<std::string> cache_directory(Host& host) {
    if (!host.env) return std::nullopt;
    if (auto v = host.env(kCacheEnv)) {
        if (v->empty()) {
            fail(ExitCode::Usage, std::string(kCacheEnv) + " is set but empty",
                 "set it to a directory for cached importance matrices, or unset it for the default ~/.cache/llmq/imatrix");
        }
        return *v;
    }
    auto home = host.env("HOME");
    if (!home || home->empty()) return std::nullopt;
    return (std::filesystem::path(*home) / ".cache" / "llmq" / "imatrix").string();
}

std::vector<uint8_t> read_whole(const std::string& path, Host& host) {
    const auto source = host.open_file(path);
    return read_all(*source, kMaxWholeFileBytes);
}

void write_whole(const std::string& path, std::span<const uint8_t> bytes, Host& host) {
    auto sink = host.create_file(path);
    try {
        sink->write(bytes);
        sink->finish();
    } catch (...) {
        sink->abort();
        throw;
    }
}

}  // namespace llmq::jobs
