// Inputs the fuzz targets of tests/fuzz found (tests/fixtures/regressions/fuzz/<target>-*), each
// run through its target's own function (tests/fuzz/<target>_target.hpp, the code libFuzzer runs):
// each must end in llmq's own Failure with the exit code a user of the CLI would get, never
// another exception, a crash or a sanitizer report (the debug-asan preset runs this with
// AddressSanitizer and UndefinedBehaviorSanitizer).
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "fuzz/calibration_target.hpp"
#include "fuzz/checkpoint_target.hpp"
#include "fuzz/dqprofile_target.hpp"
#include "fuzz/fuzz_files.hpp"
#include "fuzz/gguf_header_target.hpp"
#include "fuzz/hf_config_target.hpp"
#include "fuzz/hf_tokenizer_json_target.hpp"
#include "fuzz/hf_tokenizer_model_target.hpp"
#include "fuzz/imatrix_target.hpp"
#include "fuzz/safetensors_header_target.hpp"
#include "fuzz/safetensors_index_target.hpp"
#include "fuzz/super_weight_mask_target.hpp"
#include "fuzz/tokenizer_bpe_target.hpp"
#include "fuzz/tokenizer_spm_target.hpp"
#include "llmq/analysis/checkpoint.hpp"
#include "llmq/analysis/imatrix_accumulator.hpp"
#include "llmq/analysis/layer_importance.hpp"
#include "llmq/analysis/super_weights.hpp"
#include "llmq/error.hpp"
#include "llmq/format/huggingface.hpp"
#include "llmq/format/safetensors.hpp"
#include "llmq/io/memory.hpp"
#include "support/fixtures.hpp"

namespace llmq {
namespace {

using Input = std::span<const uint8_t>;

// Each fuzz target by the name its findings start with: the very function libFuzzer runs
// (tests/fuzz/<name>_target.hpp).
const std::map<std::string, void (*)(Input)>& targets() {
    static const std::map<std::string, void (*)(Input)> t = {
        {"calibration", fuzz::calibration_target},
        {"checkpoint", fuzz::checkpoint_target},
        {"dqprofile", fuzz::dqprofile_target},
        {"gguf_header", fuzz::gguf_header_target},
        {"hf_config", fuzz::hf_config_target},
        {"hf_tokenizer_json", fuzz::hf_tokenizer_json_target},
        {"hf_tokenizer_model", fuzz::hf_tokenizer_model_target},
        {"imatrix", fuzz::imatrix_target},
        {"safetensors_header", fuzz::safetensors_header_target},
        {"safetensors_index", fuzz::safetensors_index_target},
        {"super_weight_mask", fuzz::super_weight_mask_target},
        {"tokenizer_bpe", fuzz::tokenizer_bpe_target},
        {"tokenizer_spm", fuzz::tokenizer_spm_target},
    };
    return t;
}

std::vector<uint8_t> finding(const std::string& name) {
    return test::read_file(test::fixture("regressions/fuzz/" + name));
}

// Runs one finding through its target: the exit code of the Failure, or Success when the input
// is accepted.
ExitCode outcome(const std::string& name) {
    const std::string target = name.substr(0, name.find('-'));
    const auto bytes = finding(name);
    try {
        targets().at(target)(bytes);
    } catch (const Failure& f) {
        EXPECT_FALSE(f.error().message.empty());
        return f.error().code;
    }
    return ExitCode::Success;
}

// Every checked-in finding ends in a Failure (or is accepted): no other exception, no crash. A
// finding whose name starts with no target's name would never run: that is a failure too.
TEST(FuzzFindings, EveryFindingIsAnLlmqError) {
    int files = 0;
    for (const auto& e : std::filesystem::directory_iterator(test::fixture("regressions/fuzz"))) {
        const std::string name = e.path().filename().string();
        ASSERT_TRUE(targets().contains(name.substr(0, name.find('-')))) << name << ": no fuzz target of that name";
        ++files;
        SCOPED_TRACE(name);
        EXPECT_NO_THROW((void)outcome(name));
    }
    EXPECT_GE(files, 1);
}

// An imatrix entry with no sums in a checkpoint: restoring it copied zero bytes into a null
// pointer (undefined behaviour that UBSan reports: this test fails under the debug-asan preset
// without the fix); it now restores as an empty entry and saves back byte for byte.
TEST(FuzzFindings, CheckpointImatrixEntryWithoutSums) {
    EXPECT_EQ(outcome("checkpoint-imatrix-empty-sums.ckpt"), ExitCode::Success);
    const auto bytes = finding("checkpoint-imatrix-empty-sums.ckpt");
    const AnalyzeCheckpoint c = read_checkpoint(MemorySource(bytes, "ckpt"));
    const ImatrixAccumulator acc = ImatrixAccumulator::restore(c.imatrix);
    ASSERT_EQ(acc.entries().size(), 1u);
    EXPECT_TRUE(acc.entries().begin()->second.sums.empty());
    EXPECT_EQ(acc.save(), c.imatrix);
}

// Sequence lengths of INT64_MAX and 2: each positive, so accepted, and their sum overflowed
// (StreamState::n_tokens(), which analyze --resume computes). The lengths must now add up to
// whole rows of the hidden states.
TEST(FuzzFindings, CheckpointLengthsBeyondTheHiddenStatesAreCorruptInput) {
    EXPECT_EQ(outcome("checkpoint-lengths-overflow.ckpt"), ExitCode::CorruptInput);
}

// A finding's file without its first byte (the target's mode), as the file the target stands for.
fuzz::Bytes file_part(const std::string& name) {
    const auto bytes = finding(name);
    return std::make_shared<const std::vector<uint8_t>>(bytes.begin() + 1, bytes.end());
}

ExitCode open_code(std::shared_ptr<const FileSet> files, std::string* message = nullptr) {
    try {
        (void)open_hf_model(std::move(files));
    } catch (const Failure& f) {
        if (message) *message = f.error().message;
        return f.error().code;
    }
    return ExitCode::Success;
}

// config.json counts far beyond any model became allocations of that size (a vocabulary of 2^40
// tokens; 2^39 Llama 3 RoPE factors for a head_dim of 2^40): now corrupt input naming the key.
TEST(FuzzFindings, ConfigCountsBeyondAnyModelAreCorruptInput) {
    for (const char* name : {"hf_config-vocab-size-2e40.json", "hf_config-llama3-head-dim-2e40.json"}) {
        SCOPED_TRACE(name);
        EXPECT_EQ(outcome(name), ExitCode::CorruptInput);
    }
    auto files = std::make_shared<fuzz::SharedFileSet>(fuzz::tinyqwen_bpe());
    files->add("config.json", file_part("hf_config-vocab-size-2e40.json"));
    std::string message;
    EXPECT_EQ(open_code(files, &message), ExitCode::CorruptInput);
    EXPECT_NE(message.find("\"vocab_size\""), std::string::npos) << message;
}

// yarn's original_max_position_embeddings = 1e300 was converted to int64 (undefined behaviour;
// on x86 a negative context length): now corrupt input.
TEST(FuzzFindings, YarnOriginalContextOutOfRangeIsCorruptInput) {
    EXPECT_EQ(outcome("hf_config-yarn-original-context-1e300.json"), ExitCode::CorruptInput);
}

// A "type" (or a named chat template's "name") that is not a string threw nlohmann's
// type_error out of the converter (an internal error, not exit 8). Such entries are now simply
// not the kind looked for: the conversion goes on as for an unknown pre-tokenizer/post-processor.
TEST(FuzzFindings, NonStringTypesInTokenizerFilesAreNotCrashes) {
    {
        auto files = std::make_shared<fuzz::SharedFileSet>(fuzz::tinyqwen_bpe());
        files->add("tokenizer.json", file_part("hf_tokenizer_json-pre-tokenizer-type-array.json"));
        std::vector<std::string> warnings;
        const ModelView view = open_hf_model(files, {}, &warnings);
        ASSERT_NE(view.find("tokenizer.ggml.pre"), nullptr);
        EXPECT_EQ(*view.find("tokenizer.ggml.pre")->as_string(), "default");
        EXPECT_FALSE(warnings.empty());
    }
    {
        auto files = std::make_shared<fuzz::SharedFileSet>(fuzz::tinyqwen_bpe());
        files->add("tokenizer.json", file_part("hf_tokenizer_json-post-processor-type-number.json"));
        EXPECT_EQ(open_code(files), ExitCode::Success);
    }
    {
        auto files = std::make_shared<fuzz::SharedFileSet>(fuzz::tinyqwen_bpe());
        files->add("tokenizer_config.json", file_part("hf_tokenizer_json-chat-template-name-number.json"));
        std::vector<std::string> warnings;
        const ModelView view = open_hf_model(files, {}, &warnings);
        EXPECT_EQ(view.find("tokenizer.chat_template"), nullptr);
    }
    for (const char* name : {"hf_tokenizer_json-pre-tokenizer-type-array.json", "hf_tokenizer_json-post-processor-type-number.json",
                             "hf_tokenizer_json-chat-template-name-number.json"}) {
        SCOPED_TRACE(name);
        EXPECT_NO_THROW((void)outcome(name));
    }
}

}  // namespace
}  // namespace llmq
