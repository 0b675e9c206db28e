// The inner kernel of matmul, one per SIMD level: a tile of R weight rows against a group of G
// tokens, both packed by the caller so that the kernel reads two sequential streams:
//   rows:   [k8][R][8]  (eight consecutive inputs of each row, row after row)
//   tokens: [k8][G][8]
// One call covers n8 groups of eight inputs; a long row is done in chunks (so that a chunk of
// rows and tokens stays in the L1 cache), the lane sums carried between calls in `state`
// (R·G·8 floats, the level's own layout): `first` starts them at zero, `last` ends with
// sums[r * G + t] = dot(row r, token t) in the fixed order of kernels.hpp: eight lane sums
// (k ≡ lane mod 8, separate multiply and add), then ((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7)).
// Every level gives the same bits; R and G only change which sums one call computes. Kept free of inline code: the x86 variants are compiled with
// wider instruction sets than the rest of the binary, which must never call into them by accident.
#pragma once

#include <cstdint>

namespace llmq::runtime {

struct TileKernels {
    int rows;    // R
    int tokens;  // G
    void (*multiply)(const float* rows, const float* tokens, int64_t n8, float* state, bool first, bool last, float* sums);
    // The same with fused multiply-adds, for inputs whose products are exact in float32 (fp16
    // weights times activations rounded to fp16): then the bits are multiply's. Null where the
    // level has no FMA.
    void (*multiply_exact)(const float* rows, const float* tokens, int64_t n8, float* state, bool first, bool last, float* sums);
    // Converts nr <= R rows of little-endian fp16 straight into the packed [k8][R][8] layout
    // (missing rows are zeros), exactly as the F16 codec decodes them; null where the level
    // has no fast conversion (the caller decodes, then packs).
    void (*pack_f16_rows)(const uint8_t* const* rows, int64_t nr, int64_t n8, float* out);
};

namespace avx2 {
const TileKernels& tile_kernels();
}
namespace avx512 {
const TileKernels& tile_kernels();
}

}  // namespace llmq::runtime
