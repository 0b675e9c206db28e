// The importance matrix as llama-imatrix accumulates it (reference/ggml-formats.md §4.1): for
// every block weight (`blk.*`; not output.weight, as without --process-output) the per-column
// sums of the squared matmul inputs and the number of input rows. Sums are kept in double so
// the order of tokens barely matters; the files store them as float32 like llama.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "llmq/format/imatrix.hpp"
#include "llmq/runtime/observer.hpp"

namespace llmq {

class ImatrixAccumulator final : public MatmulObserver {
public:
    struct Entry {
        std::vector<double> sums;  // n_in values
        int64_t count = 0;         // activation rows seen
    };

    void on_matmul(const MatmulInput& input) override;

    const std::map<std::string, Entry, std::less<>>& entries() const { return entries_; }
    // The sums as the imatrix writers take them (float32, one count per dense weight).
    ImatrixSums sums(std::vector<std::string> datasets, uint32_t chunk_count, uint32_t chunk_size) const;
    // Means (sum / count; 1.0 for a weight that saw nothing), as a quantizer reads the file.
    ImatrixData data() const;

    // Exact binary state for checkpoints; restore throws Failure(CorruptInput) if malformed.
    std::vector<uint8_t> save() const;
    static ImatrixAccumulator restore(std::span<const uint8_t> bytes);

private:
    std::map<std::string, Entry, std::less<>> entries_;
};

}  // namespace llmq
