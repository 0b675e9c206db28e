#include "llmq/analysis/imatrix_accumulator.hpp"

#include <cstring>

#include "llmq/error.hpp"

namespace llmq {
namespace {

// resize + memcpy rather than insert: GCC 12 misreads small inserts as overflows.
void put_bytes(std::vector<uint8_t>& out, const void* p, size_t n) {
    const size_t at = out.size();
    out.resize(at + n);
    if (n > 0) std::memcpy(out.data() + at, p, n);
}

template <typename T>
void put(std::vector<uint8_t>& out, const T& v) {
    put_bytes(out, &v, sizeof(T));
}

struct Reader {
    std::span<const uint8_t> bytes;
    size_t pos = 0;

    void need(uint64_t n) const {
        if (n > bytes.size() - pos)
            fail(ExitCode::CorruptInput, "imatrix checkpoint state is truncated", "start the analysis again without --resume");
    }
    template <typename T>
    T get() {
        need(sizeof(T));
        T v;
        std::memcpy(&v, bytes.data() + pos, sizeof(T));
        pos += sizeof(T);
        return v;
    }
};

}  // namespace

void ImatrixAccumulator::on_matmul(const MatmulInput& in) {
    if (!in.weight.starts_with("blk.")) return;
    auto it = entries_.find(in.weight);
    if (it == entries_.end()) {
        it = entries_.emplace(std::string(in.weight), Entry{}).first;
        it->second.sums.assign(static_cast<size_t>(in.n_in), 0.0);
    }
    Entry& e = it->second;
    if (static_cast<int64_t>(e.sums.size()) != in.n_in) {
        fail(ExitCode::Importance, "internal: " + std::string(in.weight) + " seen with rows of " + std::to_string(in.n_in) + " and of " +
                                       std::to_string(e.sums.size()) + " values");
    }
    // Tokens in order, columns vectorisable: the sums do not depend on the thread count.
    double* s = e.sums.data();
    for (int64_t t = 0; t < in.n_tokens; ++t) {
        const float* x = in.x.data() + t * in.n_in;
        for (int64_t j = 0; j < in.n_in; ++j) s[j] += static_cast<double>(x[j]) * static_cast<double>(x[j]);
    }
    e.count += in.n_tokens;
}

ImatrixSums ImatrixAccumulator::sums(std::vector<std::string> datasets, uint32_t chunk_count, uint32_t chunk_size) const {
    ImatrixSums out;
    for (const auto& [name, e] : entries_) {
        ImatrixStats st;
        st.sums.assign(e.sums.begin(), e.sums.end());
        st.counts = {e.count};
        out.entries.emplace(name, std::move(st));
    }
    out.datasets = std::move(datasets);
    out.chunk_count = chunk_count;
    out.chunk_size = chunk_size;
    return out;
}

ImatrixData ImatrixAccumulator::data() const {
    ImatrixData d;
    d.format = "gguf";
    for (const auto& [name, e] : entries_) {
        std::vector<float> v(e.sums.size(), 1.0f);
        if (e.count > 0) {
            // As a reader of the written file sees it: the float32 sum divided by the count.
            for (size_t j = 0; j < v.size(); ++j) v[j] = static_cast<float>(e.sums[j]) / static_cast<float>(e.count);
        }
        d.entries.emplace(name, std::move(v));
    }
    return d;
}

std::vector<uint8_t> ImatrixAccumulator::save() const {
    std::vector<uint8_t> out;
    put<uint64_t>(out, entries_.size());
    for (const auto& [name, e] : entries_) {
        put<uint64_t>(out, name.size());
        put_bytes(out, name.data(), name.size());
        put<int64_t>(out, e.count);
        put<uint64_t>(out, e.sums.size());
        put_bytes(out, e.sums.data(), e.sums.size() * sizeof(double));
    }
    return out;
}

ImatrixAccumulator ImatrixAccumulator::restore(std::span<const uint8_t> bytes) {
    Reader r{bytes};
    ImatrixAccumulator acc;
    const auto n = r.get<uint64_t>();
    for (uint64_t i = 0; i < n; ++i) {
        const auto len = r.get<uint64_t>();
        r.need(len);
        std::string name(reinterpret_cast<const char*>(bytes.data() + r.pos), static_cast<size_t>(len));
        r.pos += static_cast<size_t>(len);
        Entry e;
        e.count = r.get<int64_t>();
        const auto nv = r.get<uint64_t>();
        if (nv > (bytes.size() - r.pos) / sizeof(double)) r.need(~uint64_t{0} >> 1);
        e.sums.resize(static_cast<size_t>(nv));
        if (nv > 0) std::memcpy(e.sums.data(), bytes.data() + r.pos, static_cast<size_t>(nv) * sizeof(double));  // data() is null when empty
        r.pos += static_cast<size_t>(nv) * sizeof(double);
        acc.entries_.emplace(std::move(name), std::move(e));
    }
    if (r.pos != bytes.size())
        fail(ExitCode::CorruptInput, "imatrix checkpoint state has trailing bytes", "start the analysis again without --resume");
    return acc;
}

}  // namespace llmq
