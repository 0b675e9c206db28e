// Writing importance matrices in the two layouts llama.cpp reads (reference §4.2). Both stream
// entry by entry, so memory stays at one entry however large the matrix is.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "llmq/error.hpp"
#include "llmq/format/gguf.hpp"
#include "llmq/format/imatrix.hpp"

namespace llmq {
namespace {

[[noreturn]] void cannot_write(const ByteSink& sink, const std::string& problem) {
    fail(ExitCode::Importance, sink.name() + ": cannot write importance matrix: " + problem);
}

// The shape rules both layouts rely on: n_mat >= 1 counts, values a multiple of them,
// finite sums (llama-imatrix refuses to save non-finite data too).
void check_entries(const ByteSink& sink, const ImatrixSums& sums) {
    if (sums.entries.empty()) cannot_write(sink, "no entries");
    for (const auto& [name, st] : sums.entries) {
        if (name.empty()) cannot_write(sink, "an entry has an empty name");
        if (st.counts.empty() || st.sums.empty() || st.sums.size() % st.counts.size() != 0) {
            cannot_write(sink,
                         "entry '" + name + "' has " + std::to_string(st.sums.size()) + " sums for " + std::to_string(st.counts.size()) + " counts");
        }
        for (int64_t c : st.counts)
            if (c < 0) cannot_write(sink, "entry '" + name + "' has a negative count");
        for (float v : st.sums)
            if (!std::isfinite(v)) cannot_write(sink, "entry '" + name + "' holds a non-finite sum");
    }
}

std::span<const uint8_t> as_bytes(const std::vector<float>& v) {
    return {reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(float)};
}

class DatEncoder {
public:
    std::vector<uint8_t> bytes;
    void i32(int32_t v) { raw(&v, sizeof(v)); }
    void raw(const void* p, size_t n) {
        const auto* b = static_cast<const uint8_t*>(p);
        bytes.insert(bytes.end(), b, b + n);
    }
};

int32_t to_i32(const ByteSink& sink, uint64_t v, const std::string& what) {
    if (v > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
        cannot_write(sink, what + " " + std::to_string(v) + " does not fit the .dat format's 32-bit fields");
    }
    return static_cast<int32_t>(v);
}

}  // namespace

void write_imatrix_gguf(ByteSink& sink, const ImatrixSums& sums) {
    check_entries(sink, sums);
    std::vector<gguf::KeyValue> kv = {
        {"general.type", gguf::Value::string("imatrix")},
        {"imatrix.datasets", gguf::Value::string_array(sums.datasets)},
        {"imatrix.chunk_count", gguf::Value::u32(sums.chunk_count)},
        {"imatrix.chunk_size", gguf::Value::u32(sums.chunk_size)},
    };
    // Only significant dimensions are stored, so dense entries are 1-D ([ne0] and [1]).
    std::vector<gguf::TensorDecl> decls;
    for (const auto& [name, st] : sums.entries) {
        const auto n_mat = static_cast<int64_t>(st.counts.size());
        const auto ne0 = static_cast<int64_t>(st.sums.size()) / n_mat;
        const uint32_t dims = n_mat == 1 ? 1 : 2;
        decls.push_back({name + ".in_sum2", dims, {ne0, n_mat, 1, 1}, GgmlType::F32});
        decls.push_back({name + ".counts", dims, {1, n_mat, 1, 1}, GgmlType::F32});
    }
    gguf::Writer writer(sink, std::move(kv), std::move(decls));
    for (const auto& [name, st] : sums.entries) {
        writer.write_data(name + ".in_sum2", as_bytes(st.sums));
        std::vector<float> counts(st.counts.begin(), st.counts.end());
        writer.write_data(name + ".counts", as_bytes(counts));
    }
    writer.finish();
}

void write_imatrix_dat(ByteSink& sink, const ImatrixSums& sums) {
    check_entries(sink, sums);
    if (sums.chunk_size == 0) cannot_write(sink, "the .dat format needs the chunk size");
    const auto written = [](const ImatrixStats& st) { return std::any_of(st.counts.begin(), st.counts.end(), [](int64_t c) { return c > 0; }); };
    const auto n_entries = std::count_if(sums.entries.begin(), sums.entries.end(), [&](const auto& e) { return written(e.second); });
    if (n_entries == 0) cannot_write(sink, "no entry saw any activation");

    DatEncoder head;
    head.i32(to_i32(sink, static_cast<uint64_t>(n_entries), "entry count"));
    sink.write(head.bytes);
    for (const auto& [name, st] : sums.entries) {
        if (!written(st)) continue;  // the legacy format has no way to say "no data"
        const int64_t max_count = *std::max_element(st.counts.begin(), st.counts.end());
        const uint64_t ncall = (static_cast<uint64_t>(max_count) + sums.chunk_size - 1) / sums.chunk_size;
        const int32_t ncall32 = to_i32(sink, ncall, "call count");
        const size_t ne0 = st.sums.size() / st.counts.size();
        // Stored value = mean * ncall, and 1 * ncall for a matrix that saw nothing, so that a
        // reader dividing by ncall recovers the mean (and 1.0).
        std::vector<float> values(st.sums.size());
        for (size_t m = 0; m < st.counts.size(); ++m) {
            const int64_t c = st.counts[m];
            for (size_t i = m * ne0; i < (m + 1) * ne0; ++i) {
                values[i] = c > 0 ? st.sums[i] / static_cast<float>(c) * static_cast<float>(ncall32) : static_cast<float>(ncall32);
            }
        }
        DatEncoder e;
        e.i32(to_i32(sink, name.size(), "name length"));
        e.raw(name.data(), name.size());
        e.i32(ncall32);
        e.i32(to_i32(sink, values.size(), "value count"));
        sink.write(e.bytes);
        sink.write(as_bytes(values));
    }
    DatEncoder tail;
    const std::string dataset = sums.datasets.empty() ? std::string() : sums.datasets.back();
    tail.i32(to_i32(sink, sums.chunk_count, "chunk count"));
    tail.i32(to_i32(sink, dataset.size(), "dataset name length"));
    tail.raw(dataset.data(), dataset.size());
    sink.write(tail.bytes);
}

}  // namespace llmq
