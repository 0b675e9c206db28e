// What each quantization type would cost each tensor: the measurement behind dynamic
// quantization (reference/advanced-methods.md §6). Two passes:
//  1. weight errors — every quantizable tensor is really quantized and dequantized with llmq's
//     codecs at every candidate type, and the squared error is weighted per column by the
//     importance matrix: Σ_ij imatrix_j (w_ij − ŵ_ij)², a second-order estimate of how much the
//     tensor's output moves (streamed in bounded row chunks, rows in parallel, summed in order);
//  2. model KL divergence — for probe types, the tensor alone is quantized and the model is run
//     from that tensor's layer on over calibration tokens (the layer-streamed executor, hidden
//     states of the unchanged layers before it cached): the mean KL divergence of the next-token
//     distributions from the original model's is that tensor's real contribution to the loss.
// The loss of a candidate is its measured KL divergence where there is one, else the weight
// error scaled by the tensor's measured KL divergence per unit of weight error (log-log
// interpolation between probes). Deterministic for any thread count and host.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "llmq/format/imatrix.hpp"
#include "llmq/format/model.hpp"
#include "llmq/jobs/host.hpp"
#include "llmq/quant/types.hpp"
#include "llmq/runtime/observer.hpp"

namespace llmq {

struct TypeCost {
    GgmlType type = GgmlType::F32;
    uint64_t bytes = 0;  // the tensor's data at this type (unpadded)
    double werr = 0.0;   // Σ imatrix_j (w − ŵ)² over the whole tensor (imatrix 1 where there is none)
    double kld = -1.0;   // measured mean KL divergence with only this tensor quantized; < 0: not measured
    double loss = 0.0;   // the estimate the solver uses (nats per token)
};

struct TensorCosts {
    std::string name;
    size_t source_index = 0;  // index in ModelView::tensors
    int64_t layer = -1;       // block index; -1 for the embedding, n_layer for the output head
    uint64_t params = 0;
    double wnorm = 0.0;     // Σ imatrix_j w² (the error's scale)
    bool weighted = false;  // the importance matrix had an entry for it
    std::vector<TypeCost> types;

    const TypeCost* find(GgmlType t) const;
    TypeCost* find(GgmlType t);
};

struct CostTable {
    std::vector<TensorCosts> tensors;
    int64_t kld_tokens = 0;  // positions scored per KL-divergence probe; 0: no model probes
    int64_t kld_probes = 0;  // model runs made
    double weight_seconds = 0.0;
    double kld_seconds = 0.0;
};

// Fills every tensor's types[].werr (types[].type preset by the caller; a type whose block does
// not divide the row length must not be listed). on_tensor(done, total, name) after each tensor.
void measure_weight_errors(const ModelView& model, const ImatrixData* imatrix, std::vector<TensorCosts>& tensors, ParallelFor& parallel,
                           const std::function<void(size_t, size_t, const std::string&)>& on_tensor = {});

// Measures types[].kld for the probe types of every tensor (see above) with the evaluator.
class KldEvaluator;
void measure_kld(KldEvaluator& evaluator, const ModelView& model, const ImatrixData* imatrix, CostTable& table,
                 const std::function<std::vector<GgmlType>(const TensorCosts&)>& probes, ParallelFor& parallel,
                 const std::function<void(size_t, size_t, const std::string&)>& on_probe = {});

// Sets types[].loss from werr and the measured klds (see the header comment).
void estimate_losses(CostTable& table);

// The mean KL divergence of `changed` (tensor index → bytes of the given type) against the
// original over the calibration sequences: the real loss of a whole mix.
class KldEvaluator {
public:
    // Runs the original model once; base_observer (if any) sees its matmuls (e.g. to accumulate
    // an importance matrix on the same tokens).
    KldEvaluator(const ModelView& model, std::vector<std::vector<int32_t>> sequences, int64_t first_scored, ParallelFor& parallel,
                 MatmulObserver* base_observer = nullptr);
    ~KldEvaluator();
    KldEvaluator(KldEvaluator&&) noexcept;

    struct Replacement {
        size_t tensor = 0;  // index in ModelView::tensors
        GgmlType type = GgmlType::F32;
        std::shared_ptr<const std::vector<uint8_t>> bytes;  // the whole tensor in that type
    };
    double kld(std::span<const Replacement> changed);
    int64_t scored_tokens() const;
    int64_t runs() const;

private:
    struct State;
    std::unique_ptr<State> s_;
};

// The whole tensor quantized to type (rows in parallel), with its importance where given.
std::vector<uint8_t> quantize_tensor(const ModelTensor& tensor, GgmlType type, std::span<const float> imatrix, ParallelFor& parallel);

}  // namespace llmq
