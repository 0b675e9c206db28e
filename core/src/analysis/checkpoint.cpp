// Layout: "LLMQACKP", u32 version, u64 length + JSON header, then u64 counts + raw little-endian
// arrays (sequence lengths i64, next layer i64, hidden f32, three state blobs), then "DONE".
#include "llmq/analysis/checkpoint.hpp"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "llmq/error.hpp"

namespace llmq {
namespace {

using nlohmann::json;

constexpr char kMagic[8] = {'L', 'L', 'M', 'Q', 'A', 'C', 'K', 'P'};
constexpr char kEnd[4] = {'D', 'O', 'N', 'E'};
constexpr uint32_t kVersion = 1;
constexpr uint64_t kMaxHeader = 1u << 20;

json header_json(const CheckpointHeader& h) {
    return {{"model_path", h.model_path},
            {"model_bytes", h.model_bytes},
            {"model_fingerprint", h.model_fingerprint},
            {"calibration_sha256", h.calibration_sha256},
            {"ctx", h.ctx},
            {"samples", h.samples},
            {"method", h.method},
            {"super_weights", h.super_weights},
            {"n_layer", h.n_layer}};
}

class Writer {
public:
    explicit Writer(ByteSink& sink) : sink_(sink) {}
    void bytes(const void* p, size_t n) { sink_.write(std::span<const uint8_t>(static_cast<const uint8_t*>(p), n)); }
    template <typename T>
    void value(T v) {
        bytes(&v, sizeof v);
    }
    template <typename T>
    void array(const std::vector<T>& v) {
        value<uint64_t>(v.size());
        bytes(v.data(), v.size() * sizeof(T));
    }

private:
    ByteSink& sink_;
};

class Cursor {
public:
    explicit Cursor(const ByteSource& s) : s_(s) {}
    void bytes(void* p, uint64_t n) {
        if (n > s_.size() - pos_) bad("truncated");
        s_.read(pos_, std::span<uint8_t>(static_cast<uint8_t*>(p), static_cast<size_t>(n)));
        pos_ += n;
    }
    template <typename T>
    T value() {
        T v{};
        bytes(&v, sizeof v);
        return v;
    }
    template <typename T>
    std::vector<T> array() {
        const auto n = value<uint64_t>();
        if (n > (s_.size() - pos_) / sizeof(T)) bad("truncated");
        std::vector<T> v(static_cast<size_t>(n));
        bytes(v.data(), n * sizeof(T));
        return v;
    }
    bool at_end() const { return pos_ == s_.size(); }
    [[noreturn]] void bad(const std::string& what) const {
        fail(ExitCode::CorruptInput, "checkpoint " + s_.name() + " is not a valid analyze checkpoint (" + what + ")",
             "delete the checkpoint directory's files and run again without --resume");
    }

private:
    const ByteSource& s_;
    uint64_t pos_ = 0;
};

}  // namespace

std::string checkpoint_path(const std::string& dir, int64_t layers_done) {
    char name[64];
    std::snprintf(name, sizeof name, "analyze-layer-%04lld.ckpt", static_cast<long long>(layers_done));
    return (std::filesystem::path(dir) / name).string();
}

void write_checkpoint(ByteSink& sink, const AnalyzeCheckpoint& c) {
    Writer w(sink);
    w.bytes(kMagic, sizeof kMagic);
    w.value<uint32_t>(kVersion);
    const std::string header = header_json(c.header).dump();
    w.value<uint64_t>(header.size());
    w.bytes(header.data(), header.size());
    w.array(c.state.lengths);
    w.value<int64_t>(c.state.next_layer);
    w.array(c.state.hidden);
    w.array(c.imatrix);
    w.array(c.super_weights);
    w.array(c.block_influence);
    w.bytes(kEnd, sizeof kEnd);
}

AnalyzeCheckpoint read_checkpoint(const ByteSource& source) {
    Cursor r(source);
    char magic[8];
    r.bytes(magic, sizeof magic);
    if (std::memcmp(magic, kMagic, sizeof magic) != 0) r.bad("wrong magic");
    if (r.value<uint32_t>() != kVersion) r.bad("unknown version");
    const auto header_len = r.value<uint64_t>();
    if (header_len > kMaxHeader) r.bad("header too long");
    std::string header(static_cast<size_t>(header_len), '\0');
    r.bytes(header.data(), header_len);
    AnalyzeCheckpoint c;
    try {
        const json j = json::parse(header);
        CheckpointHeader& h = c.header;
        h.model_path = j.at("model_path").get<std::string>();
        h.model_bytes = j.at("model_bytes").get<uint64_t>();
        h.model_fingerprint = j.at("model_fingerprint").get<std::string>();
        h.calibration_sha256 = j.at("calibration_sha256").get<std::string>();
        h.ctx = j.at("ctx").get<int64_t>();
        h.samples = j.at("samples").get<int64_t>();
        h.method = j.at("method").get<std::string>();
        h.super_weights = j.at("super_weights").get<bool>();
        h.n_layer = j.at("n_layer").get<int64_t>();
    } catch (const json::exception& e) {
        r.bad(std::string("header: ") + e.what());
    }
    c.state.lengths = r.array<int64_t>();
    c.state.next_layer = r.value<int64_t>();
    c.state.hidden = r.array<float>();
    c.imatrix = r.array<uint8_t>();
    c.super_weights = r.array<uint8_t>();
    c.block_influence = r.array<uint8_t>();
    char end[4];
    r.bytes(end, sizeof end);
    if (std::memcmp(end, kEnd, sizeof end) != 0 || !r.at_end()) r.bad("bad trailer");
    // Every token has a row of at least one float: the lengths add up to at most hidden's size
    // (which also keeps StreamState::n_tokens() from overflowing).
    uint64_t tokens = 0;
    for (int64_t n : c.state.lengths) {
        if (n <= 0) r.bad("bad sequence length");
        tokens += static_cast<uint64_t>(n);
        if (tokens > c.state.hidden.size()) r.bad("the sequence lengths add up to more tokens than the hidden states hold");
    }
    if (tokens > 0 && c.state.hidden.size() % tokens != 0) r.bad("the hidden states are not whole rows of the sequences' tokens");
    if (c.state.next_layer < 1 || c.state.next_layer > c.header.n_layer) r.bad("bad layer index");
    return c;
}

std::string checkpoint_mismatch(const CheckpointHeader& a, const CheckpointHeader& b) {
    const json ja = header_json(a), jb = header_json(b);
    std::string out;
    for (const auto& [key, value] : ja.items()) {
        bool same = value == jb.at(key);
        if (key == "model_path") {
            same = std::filesystem::path(value.get<std::string>()).lexically_normal() ==
                   std::filesystem::path(jb.at(key).get<std::string>()).lexically_normal();
        }
        if (!same) out += (out.empty() ? "" : "; ") + key + ": checkpoint " + value.dump() + ", now " + jb.at(key).dump();
    }
    return out;
}

}  // namespace llmq
