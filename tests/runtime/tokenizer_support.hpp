// Loading the fixture vocabularies for the tokenizer tests.
#pragma once

#include <memory>
#include <string>

#include "llmq/format/model.hpp"
#include "llmq/io/memory.hpp"
#include "llmq/runtime/tokenizer.hpp"
#include "support/fixtures.hpp"

namespace llmq::test {

// Metadata of a fixture GGUF (relative to the fixtures directory).
inline ModelView fixture_model(const std::string& relative) {
    auto source = std::make_shared<MemorySource>(read_file(fixture(relative)), relative);
    return open_gguf_model(source);
}

inline Tokenizer fixture_tokenizer(const std::string& relative) {
    return Tokenizer::from_metadata(fixture_model(relative));
}

inline std::string read_text(const std::string& relative) {
    const auto bytes = read_file(fixture(relative));
    return std::string(bytes.begin(), bytes.end());
}

}  // namespace llmq::test
