// Super weights (Yu et al. 2024, reference/advanced-methods.md §4): single scalars of an early
// ffn_down whose product with the input creates a huge activation in one hidden channel.
// Found from the down-projection's input and output activations seen during calibration, plus
// the coverage set: the largest weights by |w|²·imatrix.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "llmq/format/imatrix.hpp"
#include "llmq/format/model.hpp"
#include "llmq/io/io.hpp"
#include "llmq/jobs/host.hpp"
#include "llmq/runtime/observer.hpp"

namespace llmq {

struct SuperWeightLocation {
    std::string tensor;  // "blk.L.ffn_down.weight"
    int64_t layer = 0;
    int64_t row = 0;              // hidden channel (output of ffn_down, weight ne[1] index)
    int64_t col = 0;              // intermediate channel (input of ffn_down, weight ne[0] index)
    float value = 0;              // the weight
    float activation = 0;         // the input activation it multiplied (the token of the spike)
    float output_activation = 0;  // the spike in the output channel
};

struct CoverageWeight {
    std::string tensor;
    int64_t row = 0;
    int64_t col = 0;
    float value = 0;
    double score = 0;  // |w|²·imatrix
};

struct SuperWeightReport {
    bool identified = false;  // a spike stood out; never invented
    double coverage = 0.0001;
    std::vector<SuperWeightLocation> locations;  // spike-detected, strongest first
    std::vector<CoverageWeight> coverage_set;    // top coverage fraction by |w|²·imatrix
};

// Watches every ffn_down matmul (input and output) during the layer-streamed calibration run.
// State is per layer and small, so it can be saved in a checkpoint and restored.
class SuperWeightObserver : public MatmulObserver {
public:
    bool wants_output() const override { return true; }
    void on_matmul(const MatmulInput& input) override;
    void on_matmul_output(const MatmulInput& input, std::span<const float> y) override;

    std::vector<uint8_t> save() const;
    static SuperWeightObserver restore(std::span<const uint8_t> bytes);  // Failure(Importance) if malformed

    struct LayerSpike;  // defined in the implementation
    // Indexed by layer; read by find_super_weights.
    const std::vector<LayerSpike>& layers() const { return spikes_; }
    ~SuperWeightObserver() override;
    SuperWeightObserver();
    SuperWeightObserver(SuperWeightObserver&&) noexcept;
    SuperWeightObserver& operator=(SuperWeightObserver&&) noexcept;

private:
    std::vector<LayerSpike> spikes_;
};

// Decides which spikes are super weights and computes the coverage set (coverage in
// (0, 0.01]); reads the weights from model in bounded chunks.
SuperWeightReport find_super_weights(const ModelView& model, const SuperWeightObserver& observer, const ImatrixData& imatrix, double coverage,
                                     ParallelFor& parallel);

// The traced super weights as JSON objects (tensor, layer, row, col, value, activation,
// output_activation), as the mask and analyze's result list them.
nlohmann::json super_weight_locations_json(const SuperWeightReport& report);

// The mask `quantize --protect-super-weights` reads: JSON next to the imatrix.
void write_super_weight_mask(ByteSink& sink, const SuperWeightReport& report);

// A mask as read back: the traced super weights and every weight to protect (super weights and
// the coverage set), by tensor.
struct ProtectedWeight {
    int64_t row = 0;
    int64_t col = 0;
    bool super_weight = false;  // a traced super weight (not only in the coverage set)
};
struct SuperWeightMask {
    bool identified = false;
    double coverage = 0.0;
    std::vector<SuperWeightLocation> super_weights;
    std::map<std::string, std::vector<ProtectedWeight>> protect;  // tensor → weights, by (row, col)
};
// Failure(CorruptInput) naming source for a document that is not a mask.
SuperWeightMask read_super_weight_mask(std::span<const uint8_t> bytes, const std::string& source);
// The same from a report (detection run by quantize itself).
SuperWeightMask mask_of(const SuperWeightReport& report);

}  // namespace llmq
