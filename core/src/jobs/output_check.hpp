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

// Refuses (Failure(Usage)) an output that would replace one of the job's inputs: the same path,
// the same file through a symbolic or hard link (Host::same_file), or an input that is the
// output's partial file "<output>.part". models are paths the job opens with Host::open_files (a
// directory, a HuggingFace model, counts with each of its files); files are other inputs (text,
// imatrix). Empty or absent paths are skipped. Call before anything is written.
void refuse_output_over_inputs(const std::string& output, const std::vector<std::string>& models, const std::vector<std::string>& files, Host& host);

}  // namespace llmq::jobs
