// Files for the fuzz targets that need more than one input: fixture files of the repository
// (read once, shared by every run) and an in-memory FileSet whose files share those bytes, so a
// model directory of several megabytes costs nothing per input. A file may also claim a size
// beyond its bytes (the rest reads as zeros): a safetensors header then describes tensors whose
// data is never stored.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llmq/error.hpp"
#include "llmq/format/huggingface.hpp"
#include "llmq/io/io.hpp"
#include "llmq/runtime/tokenizer.hpp"

namespace llmq::fuzz {

using Bytes = std::shared_ptr<const std::vector<uint8_t>>;

// A file of the repository (LLMQ_SOURCE_DIR/relative); aborts when it cannot be read, as the
// target is then useless.
inline Bytes repository_file(const std::string& relative) {
    const std::string path = std::string(LLMQ_SOURCE_DIR) + "/" + relative;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::fprintf(stderr, "fuzz: cannot read %s\n", path.c_str());
        std::abort();
    }
    return std::make_shared<const std::vector<uint8_t>>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline Bytes bytes_of(std::span<const uint8_t> input) {
    return std::make_shared<const std::vector<uint8_t>>(input.begin(), input.end());
}

// Reads a shared buffer; bytes past its end up to size() are zeros.
class SharedSource final : public ByteSource {
public:
    SharedSource(Bytes bytes, uint64_t size, std::string name) : bytes_(std::move(bytes)), size_(size), name_(std::move(name)) {}
    uint64_t size() const override { return size_; }
    void read(uint64_t offset, std::span<uint8_t> out) const override {
        if (offset > size_ || out.size() > size_ - offset) {
            fail(ExitCode::CorruptInput, name_ + ": read of " + std::to_string(out.size()) + " bytes at " + std::to_string(offset) + " past the end");
        }
        const uint64_t stored = bytes_->size();
        const uint64_t n = offset < stored ? std::min<uint64_t>(out.size(), stored - offset) : 0;
        if (n > 0) std::memcpy(out.data(), bytes_->data() + offset, static_cast<size_t>(n));
        if (n < out.size()) std::memset(out.data() + n, 0, out.size() - static_cast<size_t>(n));
    }
    std::string name() const override { return name_; }

private:
    Bytes bytes_;
    uint64_t size_;
    std::string name_;
};

class SharedFileSet final : public FileSet {
public:
    explicit SharedFileSet(std::string name) : name_(std::move(name)) {}
    // size 0: the buffer's own size.
    void add(std::string relative, Bytes bytes, uint64_t size = 0) {
        const uint64_t n = size ? size : bytes->size();
        files_[std::move(relative)] = {std::move(bytes), n};
    }
    void remove(std::string_view relative) {
        if (const auto it = files_.find(relative); it != files_.end()) files_.erase(it);
    }
    std::string name() const override { return name_; }
    bool is_directory() const override { return true; }
    bool exists(std::string_view relative) const override { return files_.find(relative) != files_.end(); }
    std::unique_ptr<ByteSource> open(std::string_view relative) const override {
        const auto it = files_.find(relative);
        if (it == files_.end()) fail(ExitCode::ModelNotFound, name_ + "/" + std::string(relative) + ": no such file");
        return std::make_unique<SharedSource>(it->second.bytes, it->second.size, name_ + "/" + std::string(relative));
    }
    std::vector<std::string> list() const override {
        std::vector<std::string> names;
        for (const auto& [k, v] : files_) names.push_back(k);
        return names;
    }

private:
    struct File {
        Bytes bytes;
        uint64_t size = 0;
    };
    std::string name_;
    std::map<std::string, File, std::less<>> files_;
};

// Every file of a fixture model directory (tests/fixtures/models/<dir>).
inline SharedFileSet fixture_model(const std::string& dir, std::initializer_list<const char*> files) {
    SharedFileSet set("fuzz/" + dir);
    for (const char* f : files) set.add(f, repository_file("tests/fixtures/models/" + dir + "/" + f));
    return set;
}

inline SharedFileSet tinyllama_spm() {
    return fixture_model("tinyllama-spm",
                         {"config.json", "generation_config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                          "model.safetensors.index.json", "tokenizer.model", "tokenizer_config.json"});
}

// tinyqwen-bpe with a small tokenizer.json (tests/fuzz/seeds: 300 of its tokens, the Qwen2 split
// regex) in place of its 263 KB one, which would dominate the time of every run.
inline SharedFileSet tinyqwen_bpe() {
    SharedFileSet set = fixture_model("tinyqwen-bpe", {"config.json", "generation_config.json", "model.safetensors", "tokenizer_config.json"});
    set.add("tokenizer.json", repository_file("tests/fuzz/seeds/tokenizer.json"));
    return set;
}

// What a job does with a freshly opened HuggingFace model: reads the first and the last row of
// every tensor and, when it has a vocabulary, builds its tokenizer and round-trips a text.
inline void use_model(const ModelView& model) {
    std::vector<uint8_t> row;
    for (const auto& t : model.tensors) {
        if (t.n_rows() < 1) continue;
        row.resize(static_cast<size_t>(row_size(t.type, t.ne[0])));
        t.read_rows(0, 1, row);
        t.read_rows(t.n_rows() - 1, 1, row);
    }
    const auto* vocab = model.find("tokenizer.ggml.model");
    if (!vocab || !vocab->as_string() || *vocab->as_string() == "none") return;
    const Tokenizer tok = Tokenizer::from_metadata(model);
    const auto ids = tok.encode("Once upon a time, <s> there was a cat\n\t  123 \xc3\xa9!", true, true);
    (void)tok.decode(ids, {.remove_special = true, .render_special = true});
    for (const int32_t id : ids) (void)tok.token_piece(id, true);
}

}  // namespace llmq::fuzz
