// The small JSON files of a HuggingFace directory (config, tokenizer, index), read whole.
#include "format/hf_internal.hpp"
#include "llmq/error.hpp"

namespace llmq::hf {

std::optional<json> read_json(const FileSet& files, std::string_view name, uint64_t max_bytes) {
    if (!files.exists(name)) return std::nullopt;
    const auto source = files.open(name);
    const auto bytes = read_all(*source, max_bytes);
    try {
        return json::parse(bytes.begin(), bytes.end());
    } catch (const json::exception& e) {
        fail(ExitCode::CorruptInput, source->name() + ": not valid JSON (" + std::string(e.what()) + ")", "the file is damaged; download it again");
    }
}

}  // namespace llmq::hf
