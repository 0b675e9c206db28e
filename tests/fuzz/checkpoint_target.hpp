// analyze checkpoints (analyze-layer-NNNN.ckpt, read by analyze --resume): the container and
// the analysers' state blobs it carries, restored as a resumed run restores them.
#pragma once

#include <cstdint>
#include <span>

#include "llmq/analysis/checkpoint.hpp"
#include "llmq/analysis/imatrix_accumulator.hpp"
#include "llmq/analysis/layer_importance.hpp"
#include "llmq/analysis/super_weights.hpp"
#include "llmq/io/memory.hpp"

namespace llmq::fuzz {

inline void checkpoint_target(std::span<const uint8_t> input) {
    const MemorySource source(std::vector<uint8_t>(input.begin(), input.end()), "fuzz.ckpt");
    const AnalyzeCheckpoint c = read_checkpoint(source);
    (void)checkpoint_mismatch(c.header, c.header);
    (void)c.state.n_tokens();
    (void)ImatrixAccumulator::restore(c.imatrix).data();
    if (!c.super_weights.empty()) (void)SuperWeightObserver::restore(c.super_weights);
    (void)BlockInfluence::restore(c.block_influence).scores();
}

}  // namespace llmq::fuzz
