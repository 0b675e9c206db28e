// Paths to the repository's test fixtures (tests/fixtures) and small file helpers for tests.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace llmq::test {

inline std::filesystem::path source_dir() {
    return LLMQ_SOURCE_DIR;
}

// tests/fixtures in the repository (LLMQ_FIXTURES points at another copy).
inline std::filesystem::path fixtures_dir() {
    if (const char* env = std::getenv("LLMQ_FIXTURES")) return env;
    return source_dir() / "tests" / "fixtures";
}

inline std::filesystem::path fixture(const std::string& relative) {
    return fixtures_dir() / relative;
}

// The fixture models and texts most end-to-end tests run on.
inline const std::string kLlamaModel = fixture("models/tinyllama-spm.bf16.gguf").string();
inline const std::string kQwenModel = fixture("models/tinyqwen-bpe.bf16.gguf").string();
inline const std::string kTrainText = fixture("text/tinystories_train.txt").string();
inline const std::string kHeldOutText = fixture("text/tinystories_heldout.txt").string();

inline std::vector<uint8_t> read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path.string());
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline std::vector<float> read_f32(const std::filesystem::path& path) {
    const auto bytes = read_file(path);
    std::vector<float> v(bytes.size() / 4);
    std::memcpy(v.data(), bytes.data(), v.size() * 4);
    return v;
}

inline void write_file(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// The directories temp_dir made, removed when the test process exits (set LLMQ_KEEP_TEST_DIRS
// to keep them for a look after a failure).
class TempDirRegistry {
public:
    static TempDirRegistry& instance() {
        static TempDirRegistry registry;
        return registry;
    }
    void add(const std::filesystem::path& dir) { dirs_.push_back(dir); }
    ~TempDirRegistry() {
        if (std::getenv("LLMQ_KEEP_TEST_DIRS")) return;
        std::error_code ec;
        for (const auto& dir : dirs_) std::filesystem::remove_all(dir, ec);
    }

private:
    std::vector<std::filesystem::path> dirs_;
};

// A fresh empty directory for one test, private to this process (parallel ctest runs and other
// build trees running the same test at the same time must not collide).
inline std::filesystem::path temp_dir(const std::string& name) {
    auto dir = std::filesystem::temp_directory_path() / ("llmq-test-" + name + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    TempDirRegistry::instance().add(dir);
    return dir;
}

}  // namespace llmq::test
