// Fault tests of the llmq executable: a full disk, kill -9 at exact points of quantize, convert
// and analyze, an input that changes while it is read, a second writer of the same output, and
// an output that would replace its input. The exact points come from tests/fault_inject (loaded
// with LD_PRELOAD: it kills llmq after a given number of bytes written or renames done, or changes
// a file after a given number of bytes read), so they do not depend on the machine's load.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <utility>

#include "support/run_cli.hpp"

extern char** environ;

namespace llmq {
namespace {

namespace fs = std::filesystem;
using Env = std::vector<std::pair<std::string, std::string>>;
using Bytes = std::vector<uint8_t>;

const std::string kLlama = test::fixture("models/tinyllama-spm.bf16.gguf").string();
const std::string kLlamaDir = test::fixture("models/tinyllama-spm").string();
const std::string kQwenDir = test::fixture("models/tinyqwen-bpe").string();
const std::string kHeldOut = test::fixture("text/tinystories_heldout.txt").string();

struct Outcome {
    int exit_code = -1;  // -1 when a signal ended the process
    int signal = 0;
    std::string out;
    std::string err;
};

// Starts llmq with extra environment variables and, if file_size_limit > 0, that RLIMIT_FSIZE
// (set in the child before exec, as `ulimit -f` would); stdout and stderr go to capture.*.
pid_t spawn(const std::vector<std::string>& args, const fs::path& capture, const Env& env, rlim_t file_size_limit) {
    std::vector<std::string> argv_strings{LLMQ_CLI_PATH};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e) {
        const std::string entry = *e;
        const bool replaced = std::any_of(env.begin(), env.end(), [&](const auto& kv) { return entry.rfind(kv.first + "=", 0) == 0; });
        if (!replaced) env_strings.push_back(entry);
    }
    for (const auto& [key, value] : env) env_strings.push_back(key + "=" + value);
    std::vector<char*> argv, envp;
    for (auto& a : argv_strings) argv.push_back(a.data());
    for (auto& e : env_strings) envp.push_back(e.data());
    argv.push_back(nullptr);
    envp.push_back(nullptr);
    const std::string out = capture.string() + ".out", err = capture.string() + ".err";
    const pid_t pid = ::fork();
    if (pid == 0) {
        const int in_fd = ::open("/dev/null", O_RDONLY);
        const int out_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int err_fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in_fd < 0 || out_fd < 0 || err_fd < 0) ::_exit(126);
        ::dup2(in_fd, 0);
        ::dup2(out_fd, 1);
        ::dup2(err_fd, 2);
        if (file_size_limit > 0) {
            const struct rlimit limit { file_size_limit, file_size_limit };
            if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) ::_exit(126);
        }
        ::execve(LLMQ_CLI_PATH, argv.data(), envp.data());
        ::_exit(127);
    }
    return pid;
}

Outcome wait_run(pid_t pid, const fs::path& capture) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    Outcome r;
    if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
    auto slurp = [](const fs::path& p) {
        if (!fs::exists(p)) return std::string();  // killed before it opened its output files
        const Bytes bytes = test::read_file(p);
        fs::remove(p);
        return std::string(bytes.begin(), bytes.end());
    };
    r.out = slurp(capture.string() + ".out");
    r.err = slurp(capture.string() + ".err");
    return r;
}

fs::path capture_path() {
    static int counter = 0;
    static const fs::path dir = test::temp_dir("fault-capture");
    return dir / ("run-" + std::to_string(counter++));
}

Outcome run(const std::vector<std::string>& args, const Env& env = {}, rlim_t file_size_limit = 0) {
    const fs::path capture = capture_path();
    return wait_run(spawn(args, capture, env, file_size_limit), capture);
}

// A run with the fault injection library loaded and the given LLMQ_FAULT_* settings. (In a
// sanitizer build the library comes before the sanitizer's runtime, which ASan must be told.)
Outcome run_injected(const std::vector<std::string>& args, Env faults) {
    faults.emplace_back("LD_PRELOAD", LLMQ_FAULT_INJECT_PATH);
    const char* asan = std::getenv("ASAN_OPTIONS");
    faults.emplace_back("ASAN_OPTIONS", std::string(asan && *asan ? std::string(asan) + ":" : "") + "verify_asan_link_order=0");
    return run(args, faults);
}

std::vector<std::string> cat(std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// Every *.part file below dir.
std::vector<fs::path> part_files(const fs::path& dir) {
    std::vector<fs::path> found;
    for (const auto& e : fs::recursive_directory_iterator(dir))
        if (e.path().extension() == ".part") found.push_back(e.path());
    return found;
}

size_t count_extension(const fs::path& dir, const std::string& ext) {
    size_t n = 0;
    if (!fs::exists(dir)) return 0;
    for (const auto& e : fs::directory_iterator(dir)) n += e.path().extension() == ext;
    return n;
}

std::string names(const std::vector<fs::path>& paths) {
    std::string s;
    for (const auto& p : paths) s += p.string() + " ";
    return s;
}

// The bytes of every file of a model (a file or a HuggingFace directory), to check it is untouched.
std::vector<Bytes> model_bytes(const fs::path& model) {
    if (!fs::is_directory(model)) return {test::read_file(model)};
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(model)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    std::vector<Bytes> all;
    for (const auto& f : files) all.push_back(test::read_file(f));
    return all;
}

// A private copy of a model file or directory, dated in the past: an in-place rewrite then
// always changes its modification time, whatever the clock's granularity.
fs::path copy_model(const fs::path& from, const fs::path& to) {
    fs::copy(from, to, fs::copy_options::recursive);
    const struct timespec old[2] = {{1000000000, 0}, {1000000000, 0}};
    std::vector<fs::path> files{to};
    if (fs::is_directory(to))
        for (const auto& e : fs::directory_iterator(to)) files.push_back(e.path());
    for (const auto& f : files) ::utimensat(AT_FDCWD, f.c_str(), old, 0);
    return to;
}

std::vector<std::string> quantize_args(const fs::path& out) {
    return {"quantize", kLlama, "-q", "Q8_0", "--no-coherence-check", "-o", out.string()};
}

std::vector<std::string> convert_args(const fs::path& out) {
    return {"convert", kQwenDir, "--outtype", "f32", "-o", out.string()};
}

// 128 samples of 16 tokens (the least analyze accepts), one thread: about a second; six layers,
// so six checkpoints.
std::vector<std::string> analyze_args(const fs::path& out) {
    return {"analyze", kLlama,  "-o", out.string(), "-t", "1", "--no-cache", "--calibration-data", kHeldOut, "--calibration-samples",
            "128",     "--ctx", "32"};
}

// The output of an uninterrupted run of args (which writes to out).
Bytes reference_output(const std::vector<std::string>& args, const fs::path& out) {
    const Outcome r = run(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    Bytes bytes = test::read_file(out);
    fs::remove(out);
    return bytes;
}

// ---- disk full ----------------------------------------------------------------------------

// A file size limit below the output's size: the write fails with EFBIG as on a full disk.
void expect_disk_full(const std::vector<std::string>& args, const fs::path& dir, const fs::path& out, const fs::path& input, rlim_t limit) {
    const std::vector<Bytes> before = model_bytes(input);
    const Outcome r = run(args, {}, limit);
    EXPECT_EQ(r.signal, 0) << "killed by signal " << r.signal << ": " << r.err;
    EXPECT_EQ(r.exit_code, 7) << r.err;
    EXPECT_NE(r.err.find("error: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("hint: free some disk space"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(out));
    EXPECT_TRUE(part_files(dir).empty()) << names(part_files(dir));
    EXPECT_TRUE(model_bytes(input) == before) << "the input changed";
}

TEST(FaultDiskFull, QuantizeExits7AndLeavesNothing) {
    const fs::path dir = test::temp_dir("fault-disk-quantize"), out = dir / "m-Q8_0.gguf";
    expect_disk_full(quantize_args(out), dir, out, kLlama, 1 << 20);
    EXPECT_TRUE(fs::is_empty(dir));
    // The JSON error of CLI.md on stdout.
    const Outcome r = run(cat(quantize_args(out), {"--format", "json"}), {}, 1 << 20);
    EXPECT_EQ(r.exit_code, 7) << r.err;
    EXPECT_NE(r.out.find("\"error_code\":7"), std::string::npos) << r.out;
    EXPECT_TRUE(fs::is_empty(dir));
}

TEST(FaultDiskFull, ConvertExits7AndLeavesNothing) {
    const fs::path dir = test::temp_dir("fault-disk-convert"), out = dir / "qwen-f32.gguf";
    expect_disk_full(convert_args(out), dir, out, kQwenDir, 2 << 20);
    EXPECT_TRUE(fs::is_empty(dir));
}

TEST(FaultDiskFull, AnalyzeOutputExits7AndLeavesNothing) {
    const fs::path dir = test::temp_dir("fault-disk-analyze-out"), out = dir / "m.imatrix";
    expect_disk_full(analyze_args(out), dir, out, kLlama, 16 << 10);  // the matrix has some 100 KB
    EXPECT_TRUE(fs::is_empty(dir));
}

TEST(FaultDiskFull, AnalyzeCheckpointExits7AndLeavesNothing) {
    const fs::path dir = test::temp_dir("fault-disk-analyze"), out = dir / "m.imatrix", ckpt = dir / "ckpt";
    expect_disk_full(cat(analyze_args(out), {"--checkpoint-dir", ckpt.string()}), dir, out, kLlama, 64 << 10);
    EXPECT_EQ(count_extension(ckpt, ".ckpt"), 0u);
}

// ---- kill -9 ----------------------------------------------------------------------------

// One exact kill point: the LLMQ_FAULT_* setting, and whether the output is complete at OUT
// when it strikes (after its rename).
struct KillPoint {
    std::string variable;
    std::string value;
    bool output_renamed = false;
};

std::string describe(const KillPoint& p) {
    return p.variable + "=" + p.value;
}

// Kills args at the point; OUT is then absent (or, after its rename, complete); a rerun gives
// the reference bytes and leaves no partial file, noting the one the killed run left.
void expect_killed_then_rerun(const std::vector<std::string>& args, const fs::path& dir, const fs::path& out, const Bytes& reference,
                              const KillPoint& point) {
    SCOPED_TRACE(describe(point));
    const Outcome killed = run_injected(args, {{point.variable, point.value}});
    ASSERT_EQ(killed.signal, SIGKILL) << "exit " << killed.exit_code << ": " << killed.err;
    if (point.output_renamed) {
        EXPECT_TRUE(fs::exists(out) && test::read_file(out) == reference) << "OUT is not the complete output";
    } else {
        EXPECT_FALSE(fs::exists(out)) << "a partial file at OUT";
    }
    const bool stale = !part_files(dir).empty();
    const Outcome again = run(args);
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_TRUE(test::read_file(out) == reference) << "the rerun's output differs from an uninterrupted run";
    EXPECT_TRUE(part_files(dir).empty()) << names(part_files(dir));
    if (stale) {
        EXPECT_NE(again.err.find("note: replacing"), std::string::npos) << again.err;
    }
    fs::remove(out);
}

TEST(FaultKill, QuantizeNeverLeavesAPartialOutputAndRerunsIdentically) {
    const fs::path dir = test::temp_dir("fault-kill-quantize"), out = dir / "m-Q8_0.gguf";
    const Bytes reference = reference_output(quantize_args(out), out);
    ASSERT_GT(reference.size(), 4u << 20);  // more than one buffer of the sink: written in steps
    for (const KillPoint& p : {KillPoint{"LLMQ_FAULT_KILL_AFTER_PART_BYTES", "1"}, KillPoint{"LLMQ_FAULT_KILL_BEFORE_RENAME", "1"},
                               KillPoint{"LLMQ_FAULT_KILL_AFTER_RENAME", "1", true}}) {
        expect_killed_then_rerun(quantize_args(out), dir, out, reference, p);
    }
}

TEST(FaultKill, ConvertNeverLeavesAPartialOutputAndRerunsIdentically) {
    const fs::path dir = test::temp_dir("fault-kill-convert"), out = dir / "qwen-f32.gguf";
    const Bytes reference = reference_output(convert_args(out), out);
    ASSERT_GT(reference.size(), 12u << 20);
    for (const KillPoint& p : {KillPoint{"LLMQ_FAULT_KILL_AFTER_PART_BYTES", "1"}, KillPoint{"LLMQ_FAULT_KILL_AFTER_PART_BYTES", "9000000"},
                               KillPoint{"LLMQ_FAULT_KILL_BEFORE_RENAME", "1"}, KillPoint{"LLMQ_FAULT_KILL_AFTER_RENAME", "1", true}}) {
        expect_killed_then_rerun(convert_args(out), dir, out, reference, p);
    }
}

// kill -9 after fixed delays (wherever the run then is, also finished): OUT is absent or
// complete, and a rerun gives the same bytes.
TEST(FaultKill, QuantizeAndConvertKilledAfterDelays) {
    const fs::path dir = test::temp_dir("fault-kill-delay");
    for (const bool quantize : {true, false}) {
        const fs::path out = dir / (quantize ? "q.gguf" : "c.gguf");
        const auto args = quantize ? quantize_args(out) : convert_args(out);
        const Bytes reference = reference_output(args, out);
        for (const int ms : {0, 15, 60, 200}) {
            SCOPED_TRACE(args[0] + " killed after " + std::to_string(ms) + " ms");
            const fs::path capture = capture_path();
            const pid_t pid = spawn(args, capture, {}, 0);
            std::this_thread::sleep_for(std::chrono::milliseconds(ms));
            ::kill(pid, SIGKILL);
            const Outcome killed = wait_run(pid, capture);
            EXPECT_TRUE(killed.signal == SIGKILL || killed.exit_code == 0) << killed.err;
            if (fs::exists(out)) {
                EXPECT_TRUE(test::read_file(out) == reference) << "a partial file at OUT";
            }
            const Outcome again = run(args);
            ASSERT_EQ(again.exit_code, 0) << again.err;
            EXPECT_TRUE(test::read_file(out) == reference);
            EXPECT_TRUE(part_files(dir).empty()) << names(part_files(dir));
            fs::remove(out);
        }
    }
}

// Analyze with --checkpoint-dir, killed while writing a checkpoint, before and after a
// checkpoint's rename, and around the output's: --resume (or a fresh run) gives the bytes of
// an uninterrupted run and leaves neither checkpoints nor partial files.
TEST(FaultKill, AnalyzeResumesToTheSameBytesWhereverKilled) {
    const fs::path dir = test::temp_dir("fault-kill-analyze"), out = dir / "m.imatrix";
    const Bytes reference = reference_output(analyze_args(out), out);
    struct Case {
        KillPoint point;
        bool resume;
    };
    // Renames 1..6 are the checkpoints after layers 0..5, the 7th is the output's.
    const Case cases[] = {
        {{"LLMQ_FAULT_KILL_AFTER_PART_BYTES", "1"}, true}, {{"LLMQ_FAULT_KILL_BEFORE_RENAME", "2"}, true},
        {{"LLMQ_FAULT_KILL_BEFORE_RENAME", "3"}, false},   {{"LLMQ_FAULT_KILL_AFTER_RENAME", "4"}, true},
        {{"LLMQ_FAULT_KILL_BEFORE_RENAME", "7"}, true},    {{"LLMQ_FAULT_KILL_AFTER_RENAME", "7", true}, true},
    };
    int n = 0;
    for (const Case& c : cases) {
        SCOPED_TRACE(describe(c.point) + (c.resume ? " then --resume" : " then a fresh run"));
        const fs::path ckpt = dir / ("ckpt-" + std::to_string(n++));
        const Outcome killed = run_injected(cat(analyze_args(out), {"--checkpoint-dir", ckpt.string()}), {{c.point.variable, c.point.value}});
        ASSERT_EQ(killed.signal, SIGKILL) << "exit " << killed.exit_code << ": " << killed.err;
        if (c.point.output_renamed) {
            EXPECT_TRUE(fs::exists(out) && test::read_file(out) == reference);
        } else {
            EXPECT_FALSE(fs::exists(out)) << "a partial file at OUT";
        }
        const bool stale = !part_files(dir).empty();
        const Outcome again = run(cat(analyze_args(out), {c.resume ? "--resume" : "--checkpoint-dir", ckpt.string()}));
        ASSERT_EQ(again.exit_code, 0) << again.err;
        EXPECT_TRUE(test::read_file(out) == reference) << "the output differs from an uninterrupted run";
        EXPECT_TRUE(part_files(dir).empty()) << names(part_files(dir));
        EXPECT_EQ(count_extension(ckpt, ".ckpt"), 0u);
        if (stale) {
            EXPECT_NE(again.err.find("note: "), std::string::npos) << again.err;
        }
        fs::remove(out);
    }
}

// ---- input changed while it is read -------------------------------------------------------

void expect_corrupt_input(const std::vector<std::string>& args, const fs::path& dir, const fs::path& out, const Env& faults) {
    const Outcome r = run_injected(args, faults);
    EXPECT_EQ(r.exit_code, 8) << r.err;
    EXPECT_NE(r.err.find("error: "), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(out)) << "an output from a changed input";
    EXPECT_TRUE(part_files(dir).empty()) << names(part_files(dir));
}

TEST(FaultChangedInput, QuantizeOfATruncatedOrRewrittenModelExits8) {
    const fs::path dir = test::temp_dir("fault-input-quantize");
    for (const std::string mode : {"truncate", "rewrite"}) {
        SCOPED_TRACE(mode);
        const fs::path model = copy_model(kLlama, dir / ("in-" + mode + ".gguf")), out = dir / "out.gguf";
        const std::string half = std::to_string(fs::file_size(model) / 2);
        expect_corrupt_input({"quantize", model.string(), "-q", "Q8_0", "--no-coherence-check", "-o", out.string()}, dir, out,
                             {{"LLMQ_FAULT_CHANGE_PATH", model.string()}, {"LLMQ_FAULT_CHANGE_AFTER_BYTES", half}, {"LLMQ_FAULT_CHANGE", mode}});
    }
}

TEST(FaultChangedInput, ConvertOfAShardTruncatedOrRewrittenExits8) {
    const fs::path dir = test::temp_dir("fault-input-convert");
    for (const std::string mode : {"truncate", "rewrite"}) {
        SCOPED_TRACE(mode);
        const fs::path model = copy_model(kLlamaDir, dir / ("in-" + mode)), out = dir / "out.gguf";
        const fs::path shard = model / "model-00002-of-00002.safetensors";
        const std::string part = std::to_string(fs::file_size(shard) / 3);
        expect_corrupt_input({"convert", model.string(), "-o", out.string()}, dir, out,
                             {{"LLMQ_FAULT_CHANGE_PATH", shard.string()}, {"LLMQ_FAULT_CHANGE_AFTER_BYTES", part}, {"LLMQ_FAULT_CHANGE", mode}});
    }
}

TEST(FaultChangedInput, AnalyzeOfAModelTruncatedOrRewrittenWhileStreamedExits8) {
    const fs::path dir = test::temp_dir("fault-input-analyze");
    for (const std::string mode : {"truncate", "rewrite"}) {
        SCOPED_TRACE(mode);
        const fs::path model = copy_model(kLlama, dir / ("in-" + mode + ".gguf")), out = dir / "out.imatrix";
        auto args = analyze_args(out);
        args[1] = model.string();
        const std::string half = std::to_string(fs::file_size(model) / 2);
        expect_corrupt_input(args, dir, out,
                             {{"LLMQ_FAULT_CHANGE_PATH", model.string()}, {"LLMQ_FAULT_CHANGE_AFTER_BYTES", half}, {"LLMQ_FAULT_CHANGE", mode}});
    }
}

// ---- a second writer of the same output ---------------------------------------------------

TEST(FaultConcurrentWriter, AnOutputBeingWrittenIsNotTouched) {
    const fs::path dir = test::temp_dir("fault-concurrent"), out = dir / "m.gguf";
    const fs::path part = dir / "m.gguf.part";
    const int fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, "another writer", 14), 14);
    ASSERT_EQ(::flock(fd, LOCK_EX), 0);
    const Outcome busy = run(quantize_args(out));
    EXPECT_EQ(busy.exit_code, 7) << busy.err;
    EXPECT_NE(busy.err.find("being written by another process"), std::string::npos) << busy.err;
    EXPECT_FALSE(fs::exists(out));
    const Bytes kept = test::read_file(part);
    EXPECT_EQ(std::string(kept.begin(), kept.end()), "another writer");
    ::close(fd);  // that writer dies: its partial file is stale now
    const Outcome again = run(quantize_args(out));
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_NE(again.err.find("note: replacing " + out.string() + ".part"), std::string::npos) << again.err;
    EXPECT_TRUE(part_files(dir).empty());
}

// ---- an output that is the input --------------------------------------------------------

void expect_refused(const std::vector<std::string>& args, const fs::path& dir, const fs::path& input) {
    std::string command = "llmq";
    for (const auto& a : args) command += " " + a;
    SCOPED_TRACE(command);
    const std::vector<Bytes> before = model_bytes(input);
    const Outcome r = run(args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("is the input"), std::string::npos) << r.err;
    EXPECT_TRUE(model_bytes(input) == before) << "the input changed";
    EXPECT_TRUE(part_files(dir).empty()) << names(part_files(dir));
}

TEST(FaultOutputIsInput, QuantizeRefusesTheInputThroughAnyName) {
    const fs::path dir = test::temp_dir("fault-same-quantize");
    const fs::path model = copy_model(kLlama, dir / "m.gguf");
    fs::create_symlink("m.gguf", dir / "symlink.gguf");
    fs::create_hard_link(model, dir / "hardlink.gguf");
    fs::create_directory(dir / "sub");
    for (const fs::path& out : {model, dir / "sub" / ".." / "m.gguf", dir / "symlink.gguf", dir / "hardlink.gguf"}) {
        expect_refused({"quantize", model.string(), "-q", "Q8_0", "--no-coherence-check", "-o", out.string()}, dir, model);
    }
    EXPECT_TRUE(fs::is_symlink(dir / "symlink.gguf"));
    // An input named like the output's partial file would be truncated by the first write.
    const fs::path part_input = copy_model(kLlama, dir / "p.gguf.part");
    const Outcome r = run({"quantize", part_input.string(), "-q", "Q8_0", "--no-coherence-check", "-o", (dir / "p.gguf").string()});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_TRUE(test::read_file(part_input) == test::read_file(kLlama));
    EXPECT_FALSE(fs::exists(dir / "p.gguf"));
}

TEST(FaultOutputIsInput, ConvertRefusesAFileOfTheInputDirectory) {
    const fs::path dir = test::temp_dir("fault-same-convert");
    const fs::path model = copy_model(kQwenDir, dir / "qwen");
    fs::create_symlink(model / "model.safetensors", dir / "link.gguf");
    for (const fs::path& out : {model / "model.safetensors", dir / "link.gguf"}) {
        expect_refused({"convert", model.string(), "-o", out.string()}, dir, model);
    }
}

TEST(FaultOutputIsInput, AnalyzeRefusesTheModelOrTheCalibrationText) {
    const fs::path dir = test::temp_dir("fault-same-analyze");
    const fs::path model = copy_model(kLlama, dir / "m.gguf");
    fs::create_symlink(model, dir / "m.imatrix");
    auto args = analyze_args(dir / "m.imatrix");
    args[1] = model.string();
    expect_refused(args, dir, model);

    fs::copy_file(kHeldOut, dir / "text.txt");
    fs::create_hard_link(dir / "text.txt", dir / "text.imatrix");
    args = analyze_args(dir / "text.imatrix");
    args[1] = model.string();
    args[std::find(args.begin(), args.end(), "--calibration-data") - args.begin() + 1] = (dir / "text.txt").string();
    expect_refused(args, dir, dir / "text.txt");
}

TEST(FaultOutputIsInput, QualityReportRefusesAModelItReads) {
    const fs::path dir = test::temp_dir("fault-same-quality");
    const fs::path model = copy_model(kLlama, dir / "q.gguf");
    fs::create_symlink(model, dir / "report.json");
    expect_refused({"quality", "report", kLlama, model.string(), "-o", (dir / "report.json").string()}, dir, model);
}

}  // namespace
}  // namespace llmq
