// The bit-budget solver of dynamic quantization: one type per tensor, chosen to minimise the
// total estimated loss under a byte budget (a multiple-choice knapsack). Each tensor offers a
// few candidates (type, bytes it would take, loss it would add); the solver keeps each tensor's
// Pareto frontier, finds the Lagrange multiplier whose per-tensor choices fit the budget, fills
// the bytes left with the upgrades that buy the most loss per byte, and finally tries pairwise
// exchanges (one tensor down, another up) while they lower the loss. Pure and deterministic: the
// same inputs give the same choice on every host.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "llmq/quant/types.hpp"

namespace llmq::plan {

struct CandidateCost {
    GgmlType type = GgmlType::F32;
    uint64_t bytes = 0;  // what the tensor takes in the file (padded)
    double loss = 0.0;   // estimated loss it adds (any unit, the same for every tensor)
};

struct TensorChoices {
    std::string name;
    std::vector<CandidateCost> options;  // at least one
};

struct Allocation {
    std::vector<size_t> choice;  // per tensor: index into its options
    uint64_t bytes = 0;          // sum of the chosen options' bytes
    double loss = 0.0;           // sum of their losses
    double lambda = 0.0;         // the multiplier (loss per byte) the Lagrangian step settled on
};

// The smallest and largest byte totals the options allow.
uint64_t min_bytes(std::span<const TensorChoices> tensors);
uint64_t max_bytes(std::span<const TensorChoices> tensors);

// Minimises the summed loss with bytes <= budget. Throws Failure(Usage) when even the smallest
// options exceed the budget (saying the smallest reachable total).
Allocation allocate(std::span<const TensorChoices> tensors, uint64_t budget);

}  // namespace llmq::plan
