// End-to-end: `llmq analyze` on a fixture model — outputs llmq quantize accepts, determinism,
// kill/resume and Ctrl-C/resume identity, the cache, and the error exit codes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "llmq/format/gguf.hpp"
#include "llmq/format/imatrix.hpp"
#include "llmq/io/memory.hpp"
#include "llmq/jobs/analyze.hpp"
#include "support/cli_json.hpp"
#include "support/run_cli.hpp"

namespace llmq {
namespace {

using nlohmann::json;
using test::parse_json;
namespace fs = std::filesystem;

const std::string kLlama = test::fixture("models/tinyllama-spm.bf16.gguf").string();
const std::string kHeldOut = test::fixture("text/tinystories_heldout.txt").string();
// Small enough to stay fast: 128 samples of 32 tokens from the held-out stories.
const std::vector<std::string> kSmall = {"--calibration-data", kHeldOut, "--calibration-samples", "128", "--ctx", "32"};

std::vector<std::string> cat(std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

ImatrixData read_imatrix_file(const fs::path& p) {
    return read_imatrix(MemorySource(test::read_file(p), p.string()));
}

const fs::path& work_dir() {
    static const fs::path dir = test::temp_dir("analyze-cli");
    return dir;
}

// One uninterrupted run, shared by the tests that compare against it (it fills a fresh cache).
struct Reference {
    fs::path imatrix;
    fs::path cache;
    json result;
};
const Reference& reference() {
    static const Reference ref = [] {
        Reference r;
        r.imatrix = work_dir() / "ref.imatrix";
        r.cache = work_dir() / "cache";
        const auto run = test::run_llmq(cat({"analyze", kLlama, "-o", r.imatrix.string(), "--format", "json", "-t", "2"}, kSmall), "analyze",
                                        {{"LLM_QUANTIZE_IMATRIX_CACHE", r.cache.string()}});
        EXPECT_EQ(run.exit_code, 0) << run.err;
        r.result = parse_json(run);
        return r;
    }();
    return ref;
}

// Starts llmq in the background (for the interruption tests).
pid_t spawn_llmq(const std::vector<std::string>& args, const fs::path& err) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        const int null = ::open("/dev/null", O_RDWR);
        const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ::dup2(null, 0);
        ::dup2(null, 1);
        ::dup2(e, 2);
        std::vector<std::string> all = cat({LLMQ_CLI_PATH}, args);
        std::vector<char*> argv;
        for (auto& a : all) argv.push_back(a.data());
        argv.push_back(nullptr);
        ::execv(LLMQ_CLI_PATH, argv.data());
        ::_exit(127);
    }
    return pid;
}

// Waits until path exists while the process runs; false if it ended first.
bool wait_for_file(pid_t pid, const fs::path& path) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
    while (std::chrono::steady_clock::now() < deadline) {
        if (fs::exists(path)) return true;
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return false;
}

int wait_exit(pid_t pid) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : (WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1);
}

size_t checkpoint_files(const fs::path& dir) {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(dir)) n += e.path().extension() == ".ckpt";
    return n;
}

std::string slurp(const fs::path& p) {
    const auto b = test::read_file(p);
    return {b.begin(), b.end()};
}

TEST(AnalyzeCli, WritesTheImatrixLlamaImatrixWould) {
    const Reference& ref = reference();
    const json& r = ref.result;
    EXPECT_EQ(r["status"], "success");
    EXPECT_EQ(r["output_path"], ref.imatrix.string());
    EXPECT_EQ(r["method"], "activation");
    EXPECT_EQ(r["num_layers"], 6);
    EXPECT_EQ(r["calibration_samples"], 128);
    EXPECT_EQ(r["calibration"]["source"], kHeldOut);
    EXPECT_EQ(r["calibration"]["tokens"], 128 * 32);
    EXPECT_EQ(r["calibration"]["sha256"].get<std::string>().size(), 64u);
    EXPECT_FALSE(r["cached"].get<bool>());
    EXPECT_GT(r["tokens_per_second"].get<double>(), 0.0);
    EXPECT_GT(r["peak_memory_bytes"].get<double>(), 0.0);
    EXPECT_TRUE(r["super_weights"].is_null());
    const json& g = r["global_statistics"];
    EXPECT_GT(g["max"].get<double>(), g["mean"].get<double>());
    EXPECT_GE(g["min"].get<double>(), 0.0);

    const ImatrixData d = read_imatrix_file(ref.imatrix);
    EXPECT_EQ(d.format, "gguf");
    EXPECT_EQ(d.entries.size(), 6u * 7u);
    EXPECT_FALSE(d.entries.count("output.weight"));
    EXPECT_EQ(d.datasets, std::vector<std::string>{kHeldOut});
    EXPECT_EQ(d.chunk_count, 128u);
    EXPECT_EQ(d.chunk_size, 32u);
    EXPECT_EQ(d.entries.at("blk.2.ffn_down.weight").size(), 768u);
}

TEST(AnalyzeCli, QuantizeAcceptsTheGgufAndDatOutputs) {
    const Reference& ref = reference();
    const fs::path out = work_dir() / "iq2.gguf";
    auto q = test::run_llmq({"quantize", kLlama, "-q", "IQ2_XXS", "--imatrix", ref.imatrix.string(), "-o", out.string()});
    EXPECT_EQ(q.exit_code, 0) << q.err;

    const fs::path dat = work_dir() / "ref.dat";
    const auto a = test::run_llmq(cat({"analyze", kLlama, "-o", dat.string(), "--imatrix-format", "dat", "--no-cache"}, kSmall));
    ASSERT_EQ(a.exit_code, 0) << a.err;
    const ImatrixData d = read_imatrix_file(dat), g = read_imatrix_file(ref.imatrix);
    EXPECT_EQ(d.format, "dat");
    EXPECT_EQ(d.chunk_count, 128u);
    ASSERT_EQ(d.entries.size(), g.entries.size());
    for (const auto& [name, values] : g.entries) {
        for (size_t j = 0; j < values.size(); ++j) ASSERT_NEAR(d.entries.at(name)[j], values[j], 1e-5f * values[j] + 1e-12f) << name;
    }
    // Q4_0 reads and checks the matrix as IQ2_XXS does, in a fraction of the time.
    q = test::run_llmq({"quantize", kLlama, "-q", "Q4_0", "--imatrix", dat.string(), "-o", out.string(), "--format", "json"});
    EXPECT_EQ(q.exit_code, 0) << q.err;
    EXPECT_EQ(parse_json(q)["imatrix"], dat.string());
}

TEST(AnalyzeCli, SameBytesForAnyThreadCount) {
    const fs::path one = work_dir() / "t1.imatrix";
    const auto r = test::run_llmq(cat({"analyze", kLlama, "-o", one.string(), "-t", "1", "--no-cache"}, kSmall));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("layer importance"), std::string::npos) << r.err;  // the human report
    EXPECT_EQ(test::read_file(one), test::read_file(reference().imatrix));
}

TEST(AnalyzeCli, ASecondRunIsServedFromTheCache) {
    const Reference& ref = reference();
    const fs::path out = work_dir() / "cached.imatrix";
    auto r = test::run_llmq(cat({"analyze", kLlama, "-o", out.string(), "--format", "json"}, kSmall), "analyze",
                            {{"LLM_QUANTIZE_IMATRIX_CACHE", ref.cache.string()}});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = parse_json(r);
    EXPECT_TRUE(j["cached"].get<bool>());
    EXPECT_EQ(j["global_statistics"], ref.result["global_statistics"]);
    EXPECT_EQ(test::read_file(out), test::read_file(ref.imatrix));
    // Another context is another key.
    fs::remove(out);
    r = test::run_llmq(
        {"analyze", kLlama, "-o", out.string(), "--format", "json", "--calibration-data", kHeldOut, "--calibration-samples", "128", "--ctx", "16"},
        "analyze", {{"LLM_QUANTIZE_IMATRIX_CACHE", ref.cache.string()}});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_FALSE(parse_json(r)["cached"].get<bool>());
    EXPECT_EQ(read_imatrix_file(out).chunk_size, 16u);
}

TEST(AnalyzeCli, KilledAndResumedGivesTheSameBytes) {
    const fs::path dir = work_dir() / "ckpt-kill", out = work_dir() / "killed.imatrix";
    const auto args = cat({"analyze", kLlama, "-o", out.string(), "-t", "1", "--no-cache"}, kSmall);
    const pid_t pid = spawn_llmq(cat(args, {"--checkpoint-dir", dir.string()}), work_dir() / "kill.err");
    ASSERT_TRUE(wait_for_file(pid, dir / "analyze-layer-0002.ckpt")) << slurp(work_dir() / "kill.err");
    ::kill(pid, SIGKILL);
    EXPECT_EQ(wait_exit(pid), 128 + SIGKILL);
    EXPECT_FALSE(fs::exists(out));
    EXPECT_GE(checkpoint_files(dir), 1u);

    const auto r = test::run_llmq(cat(args, {"--resume", dir.string()}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("resuming after layer"), std::string::npos) << r.err;
    EXPECT_EQ(test::read_file(out), test::read_file(reference().imatrix));
    EXPECT_EQ(checkpoint_files(dir), 0u);  // deleted after success
}

TEST(AnalyzeCli, CtrlCExits130KeepingTheCheckpointThenResumes) {
    const fs::path dir = work_dir() / "ckpt-int", out = work_dir() / "interrupted.imatrix";
    const auto args = cat({"analyze", kLlama, "-o", out.string(), "-t", "1", "--no-cache"}, kSmall);
    const pid_t pid = spawn_llmq(cat(args, {"--checkpoint-dir", dir.string()}), work_dir() / "int.err");
    ASSERT_TRUE(wait_for_file(pid, dir / "analyze-layer-0001.ckpt")) << slurp(work_dir() / "int.err");
    ::kill(pid, SIGINT);
    EXPECT_EQ(wait_exit(pid), 130);
    const std::string err = slurp(work_dir() / "int.err");
    EXPECT_NE(err.find("--resume " + dir.string()), std::string::npos) << err;
    EXPECT_GE(checkpoint_files(dir), 1u);
    EXPECT_FALSE(fs::exists(out));

    // A resume with other options is refused, naming the difference.
    auto r = test::run_llmq({"analyze", kLlama, "-o", out.string(), "--no-cache", "--calibration-data", kHeldOut, "--calibration-samples", "128",
                             "--ctx", "16", "--resume", dir.string()});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("ctx: checkpoint 32, now 16"), std::string::npos) << r.err;

    r = test::run_llmq(cat(args, {"--resume", dir.string()}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(test::read_file(out), test::read_file(reference().imatrix));
}

TEST(AnalyzeCli, ErrorsHaveTheContractExitCodes) {
    const std::string out = (work_dir() / "never.imatrix").string();
    auto r = test::run_llmq({"analyze", kLlama, "-o", out, "--method", "gradient"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("methods available: activation"), std::string::npos) << r.err;
    EXPECT_EQ(test::run_llmq({"analyze", kLlama, "-o", out, "--method", "fisher"}).exit_code, 2);
    EXPECT_EQ(test::run_llmq({"analyze", kLlama, "-o", out, "--method", "magic"}).exit_code, 2);
    EXPECT_EQ(test::run_llmq({"analyze", kLlama, "-o", out, "--calibration-samples", "127"}).exit_code, 15);
    EXPECT_EQ(test::run_llmq({"analyze", kLlama, "-o", out, "--calibration-samples", "1025"}).exit_code, 15);
    EXPECT_EQ(test::run_llmq({"analyze", kLlama, "-o", out, "--calibration-samples", "many"}).exit_code, 2);
    EXPECT_EQ(test::run_llmq({"analyze", kLlama, "-o", out, "--imatrix-format", "bin"}).exit_code, 2);
    EXPECT_EQ(test::run_llmq({"analyze", kLlama, "-o", out, "--ctx", "8"}).exit_code, 2);
    EXPECT_EQ(test::run_llmq({"analyze", kLlama, "-o", out, "--identify-super-weights", "--coverage", "0.02"}).exit_code, 2);
    EXPECT_EQ(test::run_llmq({"analyze", kLlama, "-o", out, "--identify-super-weights", "--coverage", "0"}).exit_code, 2);
    EXPECT_EQ(test::run_llmq({"analyze", kLlama, "-o", out, "--calibration-data", "/nonexistent/text.txt"}).exit_code, 15);
    EXPECT_EQ(test::run_llmq({"analyze", "/nonexistent/model.gguf", "-o", out}).exit_code, 3);

    // Too little text: the message says what the text gives and what was asked.
    r = test::run_llmq({"analyze", kLlama, "-o", out, "--calibration-data", kHeldOut, "--ctx", "512"});
    EXPECT_EQ(r.exit_code, 15);
    EXPECT_NE(r.err.find("12367 tokens = 24 samples of 512 tokens, but 512 samples"), std::string::npos) << r.err;

    const fs::path bad = work_dir() / "bad.jsonl";
    test::write_file(bad, {'{', '"', 'x', '"', ':', '1', '}', '\n'});
    r = test::run_llmq({"analyze", kLlama, "-o", out, "--calibration-data", bad.string(), "--format", "json"});
    EXPECT_EQ(r.exit_code, 15);
    EXPECT_EQ(parse_json(r)["error_code"], 15);

    r = test::run_llmq({"analyze", kLlama, "-o", out}, "analyze", {{"LLM_QUANTIZE_IMATRIX_CACHE", ""}});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("LLM_QUANTIZE_IMATRIX_CACHE"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(out));

    // Mistakes that would otherwise surface only after the whole computation fail at once:
    // a --resume directory that does not exist (nothing is created), an unwritable output.
    const fs::path missing = work_dir() / "no-such-checkpoints";
    r = test::run_llmq({"analyze", kLlama, "-o", out, "--resume", missing.string()});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("no such checkpoint directory"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(missing));
    r = test::run_llmq({"analyze", kLlama, "-o", (work_dir() / "no-dir" / "x.imatrix").string(), "--format", "json"});
    EXPECT_EQ(r.exit_code, 7);
    EXPECT_EQ(parse_json(r)["error_code"], 7);
    EXPECT_LT(parse_json(r).dump().size(), 2000u);
    r = test::run_llmq({"analyze", kLlama, "-o", out, "--identify-super-weights", "--coverage", "0.5"});
    EXPECT_NE(r.err.find("--coverage 0.5 is outside"), std::string::npos) << r.err;
}

float bf16_at(const std::vector<uint8_t>& b, uint64_t at) {
    const uint32_t bits = (uint32_t{b[at]} | (uint32_t{b[at + 1]} << 8)) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

TEST(AnalyzeCli, FindsAPlantedSuperWeightAndWritesTheMask) {
    // Plant: in blk.1.ffn_down, the input channel with the largest imatrix value and there the
    // largest weight, scaled ×100 (truncated to bf16); the acceptance case of the issue.
    const ImatrixData ref = read_imatrix_file(reference().imatrix);
    const auto& im = ref.entries.at("blk.1.ffn_down.weight");
    const int64_t col = std::max_element(im.begin(), im.end()) - im.begin();
    std::vector<uint8_t> bytes = test::read_file(kLlama);
    const gguf::Header h = gguf::read_header(MemorySource(bytes));
    const gguf::TensorInfo* t = h.find_tensor("blk.1.ffn_down.weight");
    ASSERT_TRUE(t && t->type == GgmlType::BF16);
    auto offset = [&](int64_t r) { return h.data_offset + t->offset + 2 * static_cast<uint64_t>(r * t->ne[0] + col); };
    int64_t row = 0;
    for (int64_t r = 1; r < t->ne[1]; ++r) {
        if (std::fabs(bf16_at(bytes, offset(r))) > std::fabs(bf16_at(bytes, offset(row)))) row = r;
    }
    uint32_t bits;
    const float planted = 100.0f * bf16_at(bytes, offset(row));
    std::memcpy(&bits, &planted, 4);
    bytes[offset(row)] = static_cast<uint8_t>(bits >> 16);
    bytes[offset(row) + 1] = static_cast<uint8_t>(bits >> 24);
    const fs::path model = work_dir() / "planted.gguf", out = work_dir() / "planted.imatrix", dir = work_dir() / "ckpt-sw";
    test::write_file(model, bytes);

    const auto r = test::run_llmq(cat({"analyze", model.string(), "-o", out.string(), "--identify-super-weights", "--checkpoint-dir", dir.string(),
                                       "--format", "json", "--no-cache"},
                                      kSmall));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = parse_json(r);
    const json& sw = j["super_weights"];
    ASSERT_TRUE(sw.is_object()) << j.dump();
    EXPECT_TRUE(sw["identified"].get<bool>());
    EXPECT_EQ(sw["coverage"], 0.0001);
    ASSERT_FALSE(sw["locations"].empty());
    EXPECT_EQ(sw["locations"][0]["tensor"], "blk.1.ffn_down.weight");
    EXPECT_EQ(sw["locations"][0]["row"], row);
    EXPECT_EQ(sw["locations"][0]["col"], col);
    EXPECT_GE(sw["total_protected"].get<int64_t>(), 1);
    ASSERT_TRUE(fs::exists(out.string() + ".superweights.json"));
    const json mask = json::parse(slurp(out.string() + ".superweights.json"));
    EXPECT_EQ(mask["super_weights"][0]["row"], row);
    ASSERT_EQ(j["layer_importance"].size(), 6u);
    for (const auto& l : j["layer_importance"]) {
        EXPECT_EQ(l["score"], l["block_influence"]);
        EXPECT_GT(l["score"].get<double>(), 0.0);
        EXPECT_GT(l["sensitivity"].get<double>(), 0.0);
    }
    EXPECT_FALSE(fs::exists(dir / "analyze-layer-0006.ckpt"));  // checkpoints go after success
    fs::remove(model);
}

TEST(AnalyzeCli, DefaultOutputIsNamedAfterTheModel) {
    EXPECT_EQ(default_imatrix_name("/models/tinyllama-spm.bf16.gguf"), "tinyllama-spm.bf16.imatrix");
    EXPECT_EQ(default_imatrix_name("./Qwen3-0.6B/"), "Qwen3-0.6B.imatrix");
}

}  // namespace
}  // namespace llmq
