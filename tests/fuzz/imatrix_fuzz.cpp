// Importance matrices: GGUF imatrix files and legacy .dat files.
#include "fuzz_main.hpp"
#include "llmq/format/imatrix.hpp"
#include "llmq/io/memory.hpp"

void llmq::fuzz::parse(std::span<const uint8_t> input) {
    MemorySource source(std::vector<uint8_t>(input.begin(), input.end()), "fuzz.imatrix");
    const ImatrixData data = read_imatrix(source);
    (void)data.entries.size();
}
