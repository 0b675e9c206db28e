// Reading importance matrices the way llama-quantize loads them (reference §4.2, §4.3):
// GGUF imatrix files (sums and counts, divided here) and legacy .dat files (values * ncall,
// divided here). Every problem becomes Failure(Imatrix) naming the file.
#include "llmq/format/imatrix.hpp"

#include <cmath>
#include <cstring>
#include <optional>

#include "format/source_cursor.hpp"
#include "llmq/error.hpp"
#include "llmq/format/gguf.hpp"

namespace llmq {
namespace {

constexpr std::string_view kSums = ".in_sum2";
constexpr std::string_view kCounts = ".counts";
constexpr const char* kHint = "pass an importance matrix written by llama-imatrix or `llmq analyze`";

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

[[noreturn]] void invalid(const ByteSource& source, const std::string& problem) {
    fail(ExitCode::Imatrix, source.name() + ": not a usable importance matrix: " + problem, kHint);
}

// ---- GGUF imatrix --------------------------------------------------------------------

std::vector<float> read_f32_tensor(const ByteSource& source, const gguf::Header& h, const gguf::TensorInfo& t) {
    // The header reader bounded nbytes by the file size, so this allocation is backed by data.
    std::vector<float> values(static_cast<size_t>(t.n_elements()));
    source.read(h.data_offset + t.offset, std::span(reinterpret_cast<uint8_t*>(values.data()), values.size() * sizeof(float)));
    return values;
}

uint32_t required_u32(const ByteSource& source, const gguf::Header& h, const char* key) {
    const gguf::Value* v = h.find(key);
    if (!v) invalid(source, std::string("missing imatrix metadata (") + key + ")");
    if (v->type() != gguf::ValueType::UINT32) {
        invalid(source, std::string(key) + " must be a UINT32, found " + std::string(gguf::value_type_name(v->type())));
    }
    return static_cast<uint32_t>(v->scalar_bits());
}

void check_is_imatrix(const ByteSource& source, const gguf::Header& h) {
    if (const gguf::Value* type = h.find("general.type")) {
        const std::string* s = type->as_string();
        if (!s || *s != "imatrix") {
            invalid(source, "general.type is '" + (s ? *s : std::string(gguf::value_type_name(type->type()))) +
                                "', not 'imatrix' (a model file, not an importance matrix?)");
        }
    }
    if (!h.find("imatrix.datasets") && h.find("general.architecture")) {
        invalid(source, "a GGUF model (general.architecture is set), not an importance matrix");
    }
}

ImatrixData read_gguf_imatrix(const ByteSource& source) {
    gguf::Header h;
    try {
        h = gguf::read_header(source);
    } catch (const Failure& f) {
        if (f.error().code != ExitCode::CorruptInput && f.error().code != ExitCode::Unsupported) throw;
        // The GGUF message already names the file; keep it whole and re-tag it.
        fail(ExitCode::Imatrix, "importance matrix unreadable: " + f.error().message, kHint);
    }
    check_is_imatrix(source, h);

    ImatrixData data;
    data.format = "gguf";
    const gguf::Value* datasets = h.find("imatrix.datasets");
    if (!datasets) invalid(source, "missing imatrix metadata (imatrix.datasets)");
    if (!datasets->is_array() || datasets->array_type() != gguf::ValueType::STRING) {
        invalid(source, "imatrix.datasets must be an array of strings");
    }
    data.datasets = datasets->strings();
    data.chunk_count = required_u32(source, h, "imatrix.chunk_count");
    data.chunk_size = required_u32(source, h, "imatrix.chunk_size");

    for (const auto& t : h.tensors) {
        // Unknown tensors (such as the .in_sum of some forks) are ignored, as llama.cpp does.
        if (ends_with(t.name, kCounts)) {
            const std::string base = t.name.substr(0, t.name.size() - kCounts.size());
            if (!h.find_tensor(base + std::string(kSums))) invalid(source, t.name + " has no matching " + base + ".in_sum2");
            continue;
        }
        if (!ends_with(t.name, kSums)) continue;
        const std::string base = t.name.substr(0, t.name.size() - kSums.size());
        const gguf::TensorInfo* counts_info = h.find_tensor(base + std::string(kCounts));
        if (!counts_info) invalid(source, t.name + " has no matching " + base + ".counts");
        if (t.type != GgmlType::F32 || counts_info->type != GgmlType::F32) {
            invalid(source, "the tensors of " + base + " must be F32");
        }
        const auto nval = static_cast<uint64_t>(t.n_elements());
        const auto ncounts = static_cast<uint64_t>(counts_info->n_elements());
        if (nval == 0 || ncounts == 0 || nval % ncounts != 0) {
            invalid(source, base + " has " + std::to_string(nval) + " values for " + std::to_string(ncounts) +
                                " counts (values must be a non-empty multiple of the counts)");
        }
        std::vector<float> values = read_f32_tensor(source, h, t);
        const std::vector<float> counts = read_f32_tensor(source, h, *counts_info);
        const uint64_t ne0 = nval / ncounts;
        for (uint64_t m = 0; m < ncounts; ++m) {
            if (!std::isfinite(counts[m]) || counts[m] < 0 || counts[m] > 1e18f) {
                invalid(source, base + " has invalid count " + std::to_string(counts[m]));
            }
            // Counts are stored as floats and rounded back to whole token counts.
            const auto count = static_cast<float>(std::llround(counts[m]));
            for (uint64_t i = m * ne0; i < (m + 1) * ne0; ++i) values[i] = count > 0 ? values[i] / count : 1.0f;
        }
        data.entries.emplace(base, std::move(values));
    }
    if (data.entries.empty()) invalid(source, "no <weight>.in_sum2 / <weight>.counts tensor pairs");
    return data;
}

// ---- legacy .dat ------------------------------------------------------------------------

ImatrixData read_dat_imatrix(const ByteSource& source) {
    format::SourceCursor in(source, "importance matrix (legacy .dat)", ExitCode::Imatrix);
    ImatrixData data;
    data.format = "dat";
    const auto n_entries = in.get<int32_t>("the entry count");
    // Smallest entry: name length, a 1-byte name, ncall, nval and one value.
    constexpr uint64_t kMinEntry = 4 + 1 + 4 + 4 + 4;
    if (n_entries < 1) in.fail_here("entry count " + std::to_string(n_entries) + " (at least 1 is needed)");
    if (!in.fits(static_cast<uint64_t>(n_entries), kMinEntry)) {
        in.fail_here("claims " + std::to_string(n_entries) + " entries, more than the " + std::to_string(in.remaining()) +
                     " remaining bytes can hold");
    }
    for (int32_t e = 0; e < n_entries; ++e) {
        const auto name_len = in.get<int32_t>("an entry name length");
        if (name_len < 1) in.fail_here("entry " + std::to_string(e) + " has name length " + std::to_string(name_len));
        const std::string name = in.get_string(static_cast<uint64_t>(name_len), "an entry name");
        const auto ncall = in.get<int32_t>("an entry call count");
        const auto nval = in.get<int32_t>("an entry value count");
        if (nval < 1) in.fail_here("entry '" + name + "' has value count " + std::to_string(nval));
        in.need(static_cast<uint64_t>(nval) * sizeof(float), "the values of an entry");
        std::vector<float> values(static_cast<size_t>(nval));
        in.read(std::span(reinterpret_cast<uint8_t*>(values.data()), values.size() * sizeof(float)), "the values of an entry");
        // Stored values are means multiplied by ncall; llama.cpp keeps them as-is for ncall <= 0.
        if (ncall > 0)
            for (float& v : values) v /= static_cast<float>(ncall);
        if (!data.entries.emplace(name, std::move(values)).second) in.fail_here("duplicate entry '" + name + "'");
    }
    // Optional trailer: the chunk count and the dataset name. Once started it must be whole.
    if (in.remaining() > 0) {
        const auto chunks = in.get<int32_t>("the trailer's chunk count");
        if (chunks < 0) in.fail_here("negative chunk count " + std::to_string(chunks));
        data.chunk_count = static_cast<uint32_t>(chunks);
        const auto len = in.get<int32_t>("the trailer's dataset name length");
        if (len < 0) in.fail_here("negative dataset name length " + std::to_string(len));
        data.datasets.push_back(in.get_string(static_cast<uint64_t>(len), "the trailer's dataset name"));
    }
    return data;
}

bool starts_with_gguf_magic(const ByteSource& source) {
    if (source.size() < 4) return false;
    uint32_t magic = 0;
    source.read(0, std::span(reinterpret_cast<uint8_t*>(&magic), sizeof(magic)));
    return magic == gguf::kMagic;
}

}  // namespace

ImatrixData read_imatrix(const ByteSource& source) {
    // A .dat file starting with "GGUF" would claim 1.2 billion entries, so the magic decides
    // the format and the GGUF parser's own message is reported.
    ImatrixData data = starts_with_gguf_magic(source) ? read_gguf_imatrix(source) : read_dat_imatrix(source);
    for (const auto& [name, values] : data.entries)
        for (float v : values)
            if (!std::isfinite(v)) invalid(source, "entry '" + name + "' holds a non-finite value");
    return data;
}

}  // namespace llmq
