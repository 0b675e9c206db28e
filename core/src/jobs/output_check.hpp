// Validation of a finished GGUF output, shared by the jobs that write one.
#pragma once

#include <string>
#include <vector>

#include "llmq/format/gguf.hpp"
#include "llmq/jobs/host.hpp"

namespace llmq::jobs {

// Re-reads the written file's header and checks size and tensors against what was declared;
// removes the file and throws Failure(OutputIo) if they differ.
void validate_output(const std::string& path, const std::vector<gguf::TensorDecl>& decls, uint64_t expected_size, Host& host);

}  // namespace llmq::jobs
