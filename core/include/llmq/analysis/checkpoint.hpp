// The analyze job's checkpoint after a layer: what the run is (model, calibration, options), the
// hidden states of every calibration token after that layer, and the analysers' exact state.
// Resuming from it gives byte-identical results to an uninterrupted run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "llmq/io/io.hpp"
#include "llmq/runtime/streamer.hpp"

namespace llmq {

struct CheckpointHeader {
    std::string model_path;
    uint64_t model_bytes = 0;
    std::string model_fingerprint;  // hash of the model's header and size
    std::string calibration_sha256;
    int64_t ctx = 0;
    int64_t samples = 0;
    std::string method;
    bool super_weights = false;  // --identify-super-weights: the observer's state is saved too
    int64_t n_layer = 0;
};

struct AnalyzeCheckpoint {
    CheckpointHeader header;
    StreamState state;                     // after layers [0, state.next_layer)
    std::vector<uint8_t> imatrix;          // ImatrixAccumulator::save()
    std::vector<uint8_t> super_weights;    // SuperWeightObserver::save(), empty without the flag
    std::vector<uint8_t> block_influence;  // BlockInfluence::save()
};

// "<dir>/analyze-layer-<NNNN>.ckpt": the state after layers [0, layers_done).
std::string checkpoint_path(const std::string& dir, int64_t layers_done);

void write_checkpoint(ByteSink& sink, const AnalyzeCheckpoint& checkpoint);
// Failure(CorruptInput) naming the file for anything malformed or truncated.
AnalyzeCheckpoint read_checkpoint(const ByteSource& source);

// Empty when the checkpoint belongs to this run, else what differs ("ctx: checkpoint 64, now 128").
std::string checkpoint_mismatch(const CheckpointHeader& saved, const CheckpointHeader& current);

}  // namespace llmq
