// Inputs the fuzz targets of tests/fuzz found (tests/fixtures/regressions/fuzz/<target>-*), run
// the way their target runs them: each must end in llmq's own Failure with the exit code a user
// of the CLI would get, never another exception, a crash or a sanitizer report (the debug-asan
// preset runs this with AddressSanitizer and UndefinedBehaviorSanitizer).
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include "fuzz/fuzz_files.hpp"
#include "fuzz/tokenizer_fuzz.hpp"
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

// What each target does with its input (tests/fuzz/<target>_fuzz.cpp).
void checkpoint_target(Input input) {
    const MemorySource source(std::vector<uint8_t>(input.begin(), input.end()), "fuzz.ckpt");
    const AnalyzeCheckpoint c = read_checkpoint(source);
    (void)checkpoint_mismatch(c.header, c.header);
    (void)c.state.n_tokens();
    (void)ImatrixAccumulator::restore(c.imatrix).data();
    if (!c.super_weights.empty()) (void)SuperWeightObserver::restore(c.super_weights);
    (void)BlockInfluence::restore(c.block_influence).scores();
}

void safetensors_header_target(Input input) {
    if (input.empty()) return;
    std::vector<uint8_t> file;
    uint64_t size = 0;
    if (input[0] == 0) {
        file.assign(input.begin() + 1, input.end());
        size = file.size();
    } else {
        const uint64_t length = input.size() - 1;
        file.resize(8);
        std::memcpy(file.data(), &length, 8);
        file.insert(file.end(), input.begin() + 1, input.end());
        size = file.size() + (64ull << 20);
    }
    const fuzz::SharedSource source(std::make_shared<const std::vector<uint8_t>>(std::move(file)), size, "fuzz.safetensors");
    (void)safetensors::read_header(source, "fuzz.safetensors");
}

void safetensors_index_target(Input input) {
    fuzz::SharedFileSet files = fuzz::tinyllama_spm();
    files.add(safetensors::kIndexName, fuzz::bytes_of(input));
    (void)safetensors::open_checkpoint(files);
}

void hf_config_target(Input input) {
    if (input.empty()) return;
    auto files = std::make_shared<fuzz::SharedFileSet>(input[0] & 1 ? fuzz::tinyqwen_bpe() : fuzz::tinyllama_spm());
    files->add("config.json", fuzz::bytes_of(input.subspan(1)));
    HfOptions options;
    options.vocab = (input[0] & 2) == 0;
    fuzz::use_model(open_hf_model(files, options));
}

void hf_tokenizer_json_target(Input input) {
    if (input.empty()) return;
    const char* names[] = {"tokenizer.json", "tokenizer_config.json", "tokenizer_config.json", "added_tokens.json"};
    const int which = input[0] % 4;
    auto files = std::make_shared<fuzz::SharedFileSet>(which < 2 ? fuzz::tinyqwen_bpe() : fuzz::tinyllama_spm());
    files->add(names[which], fuzz::bytes_of(input.subspan(1)));
    fuzz::use_model(open_hf_model(files));
}

void hf_tokenizer_model_target(Input input) {
    auto files = std::make_shared<fuzz::SharedFileSet>(fuzz::tinyllama_spm());
    files->add("tokenizer.model", fuzz::bytes_of(input));
    fuzz::use_model(open_hf_model(files));
}

void tokenizer_spm_target(Input input) {
    static const Tokenizer tok = fuzz::vocabulary("tests/fixtures/vocab/ggml-vocab-llama-spm.gguf");
    fuzz::tokenize(tok, input);
}

void tokenizer_bpe_target(Input input) {
    static const Tokenizer gpt2 = fuzz::vocabulary("tests/fixtures/vocab/ggml-vocab-gpt-2.gguf");
    static const Tokenizer qwen2 = fuzz::vocabulary("tests/fixtures/models/tinyqwen-bpe.bf16.gguf");
    if (input.empty()) return;
    fuzz::tokenize(input[0] & 128 ? qwen2 : gpt2, input);
}

const std::map<std::string, std::function<void(Input)>>& targets() {
    static const std::map<std::string, std::function<void(Input)>> t = {
        {"checkpoint", checkpoint_target},       {"safetensors_header", safetensors_header_target}, {"safetensors_index", safetensors_index_target},
        {"hf_config", hf_config_target},         {"hf_tokenizer_json", hf_tokenizer_json_target},   {"hf_tokenizer_model", hf_tokenizer_model_target},
        {"tokenizer_spm", tokenizer_spm_target}, {"tokenizer_bpe", tokenizer_bpe_target},
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

// Every checked-in finding of these targets ends in a Failure (or is accepted): no other
// exception, no crash.
TEST(FuzzFindings, EveryFindingIsAnLlmqError) {
    int files = 0;
    for (const auto& e : std::filesystem::directory_iterator(test::fixture("regressions/fuzz"))) {
        const std::string name = e.path().filename().string();
        if (!targets().contains(name.substr(0, name.find('-')))) continue;
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
