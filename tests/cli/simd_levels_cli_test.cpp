// One binary for every x86-64 CPU: the SIMD level (util/simd_level) changes speed, never a byte or
// a perplexity digit. Each level is forced with LLMQ_SIMD; and the binary runs on a CPU without
// AVX at all (QEMU's user-mode emulator with a Nehalem model, where an AVX instruction is an
// illegal one), giving the same bytes. CI installs QEMU (scripts/install-deps.sh); without it
// that test is skipped and says so.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "support/run_cli.hpp"

namespace llmq {
namespace {

namespace fs = std::filesystem;

const std::string kModel = test::fixture("models/tinyllama-spm.bf16.gguf").string();
const std::string kText = test::fixture("text/tinystories_heldout.txt").string();

// What one run of the CLI produces: the quantized files' bytes and the perplexity report.
struct Outputs {
    std::vector<std::vector<uint8_t>> files;
    std::string perplexity;
};

// LLMQ_SIMD for the run, and optionally a command prefix (the emulator).
Outputs run_all(const std::string& tag, const std::string& level, const std::string& prefix) {
    Outputs o;
    const fs::path dir = fs::temp_directory_path() / ("llmq-simd-" + tag + "-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const std::vector<std::pair<std::string, std::string>> env = {{"LLMQ_SIMD", level}};
    // Q4_K_M: k-quant searches; Q4_0: the legacy kernels; IQ4_XS: the I-quant searches.
    for (const char* type : {"Q4_K_M", "Q4_0", "IQ4_XS"}) {
        const std::string out = (dir / (std::string(type) + ".gguf")).string();
        const std::vector<std::string> args = {"quantize", kModel, "-q", type, "-o", out, "--quiet"};
        const test::CliResult r = prefix.empty() ? test::run_llmq(args, "simd", env) : test::run_llmq_with_prefix(prefix, args, "simd", env);
        EXPECT_EQ(r.exit_code, 0) << tag << " " << type << ": " << r.err;
        o.files.push_back(test::read_file(out));
    }
    const std::vector<std::string> ppl = {"perplexity", (dir / "Q4_K_M.gguf").string(), "-f", kText, "--ctx", "128", "--chunks", "4", "--format",
                                          "json"};
    const test::CliResult r = prefix.empty() ? test::run_llmq(ppl, "simd", env) : test::run_llmq_with_prefix(prefix, ppl, "simd", env);
    EXPECT_EQ(r.exit_code, 0) << tag << ": " << r.err;
    o.perplexity = r.out.substr(0, r.out.find("\"duration_seconds\""));  // all but the timing
    fs::remove_all(dir);
    return o;
}

TEST(SimdLevelsCli, EveryLevelWritesTheSameBytesAndPerplexity) {
    const Outputs best = run_all("best", "avx512", "");
    ASSERT_FALSE(best.perplexity.empty());
    for (const char* level : {"avx2", "sse4.2"}) {
        const Outputs other = run_all(level, level, "");
        ASSERT_EQ(other.files.size(), best.files.size());
        for (size_t i = 0; i < best.files.size(); ++i) EXPECT_TRUE(other.files[i] == best.files[i]) << level << " file " << i;
        EXPECT_EQ(other.perplexity, best.perplexity) << level;
    }
}

TEST(SimdLevelsCli, RunsOnACpuWithoutAvx) {
    if (std::system("command -v qemu-x86_64 >/dev/null 2>&1") != 0) GTEST_SKIP() << "qemu-x86_64 is not installed (apt-get install qemu-user)";
    const Outputs native = run_all("native", "avx512", "");
    const Outputs old = run_all("nehalem", "avx512", "qemu-x86_64 -cpu Nehalem");
    ASSERT_EQ(old.files.size(), native.files.size());
    for (size_t i = 0; i < native.files.size(); ++i) EXPECT_TRUE(old.files[i] == native.files[i]) << "file " << i;
    EXPECT_EQ(old.perplexity, native.perplexity);
}

}  // namespace
}  // namespace llmq
