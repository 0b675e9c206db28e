// The quantizer-side lookup structures of the I-quants (ggml's quantize_init): for each grid, a map
// from a vector of codes to its grid index, and for every code vector that is not on the grid a
// list of neighbours — all grid points at the k nearest distinct squared distances in code space,
// sorted by (distance, grid index) (reference/ggml-formats.md §2.6). Built once per grid on first
// use, thread-safely (function-local statics), and immutable afterwards.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace llmq::quant::iq {

enum class Grid {
    Iq2xxs,  // 256 points of 8 codes in {0,1,2}, 2 distances of neighbours
    Iq2xs,   // 512 points, 2 distances
    Iq2s,    // 1024 points, 1 distance
    Iq1,     // 2048 points (IQ1_S and IQ1_M), 3 distances
    Iq3xxs,  // 256 points of 4 codes in {0..7}, 2 distances
    Iq3s,    // 512 points of 4 codes, 3 distances
};

// Neighbour lists are padded (with copies of their last entry) to a multiple of this many entries,
// so SIMD searches of any width up to it read whole batches.
inline constexpr uint32_t kNeighbourPad = 8;

struct NeighbourList {
    uint32_t first;   // offset of the grid indices in GridMap::neighbours (padded entries included)
    uint32_t count;   // real entries
    uint32_t padded;  // entries including padding: a multiple of kNeighbourPad
    uint32_t codes;   // offset in GridMap::neighbour_codes: dim rows of `padded` codes (element-major)
};

struct GridMap {
    int dim = 0;                       // elements per grid point: 8 or 4
    int code_bits = 0;                 // bits per element in a key: 2 or 3
    int max_code = 0;                  // largest code of an element: 2 or 7
    std::vector<uint8_t> codes;        // codes[g * dim + i]: code of element i of grid point g
    std::vector<int32_t> map;          // key → grid index (≥ 0) or −(list + 1)
    std::vector<NeighbourList> lists;  // one per reachable key that is not on the grid
    std::vector<uint16_t> neighbours;  // grid indices of all lists
    std::vector<uint8_t> neighbour_codes;

    // The key of a vector of codes: code i at bits code_bits·i.
    uint32_t key(const int8_t* L) const {
        uint32_t u = 0;
        for (int i = 0; i < dim; ++i) u |= static_cast<uint32_t>(L[i]) << (code_bits * i);
        return u;
    }
    const uint8_t* point(int g) const { return codes.data() + static_cast<size_t>(g) * dim; }
};

// The map of one grid, built on first use.
const GridMap& grid_map(Grid grid);

}  // namespace llmq::quant::iq
