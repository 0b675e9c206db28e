#include "quant/iq_grids.hpp"

#include <algorithm>
#include <array>
#include <span>

#include "quant/ggml_tables.hpp"

namespace llmq::quant::iq {
namespace {

GridMap build(std::span<const uint16_t> kgrid, int dim, int code_bits, int distances) {
    GridMap m;
    m.dim = dim;
    m.code_bits = code_bits;
    m.max_code = code_bits == 2 ? 2 : 7;  // 2-bit grids only use codes 0..2 (levels 1, 3, 5)
    const int points = static_cast<int>(kgrid.size());
    const uint32_t mask = (1u << code_bits) - 1;
    m.codes.resize(static_cast<size_t>(points) * dim);
    for (int g = 0; g < points; ++g)
        for (int i = 0; i < dim; ++i) m.codes[static_cast<size_t>(g) * dim + i] = static_cast<uint8_t>((kgrid[g] >> (code_bits * i)) & mask);

    // Keys that can never be looked up (a code above max_code) keep this marker.
    constexpr int32_t kUnreachable = INT32_MIN;
    m.map.assign(size_t{1} << (code_bits * dim), kUnreachable);
    for (int g = 0; g < points; ++g) m.map[kgrid[g]] = g;

    // Every reachable key: all code vectors with codes 0..max_code, in increasing key order.
    const int base = m.max_code + 1;
    int reachable = 1;
    for (int i = 0; i < dim; ++i) reachable *= base;
    const int max_d2 = dim * m.max_code * m.max_code;
    std::vector<int> d2(points);
    std::vector<int> count(max_d2 + 2);
    std::vector<uint16_t> sorted(points);
    std::array<int8_t, 8> L{};
    for (int r = 0; r < reachable; ++r) {
        for (int i = 0, v = r; i < dim; ++i, v /= base) L[i] = static_cast<int8_t>(v % base);
        const uint32_t key = m.key(L.data());
        if (m.map[key] >= 0) continue;
        // Squared distances in code space (ggml measures between levels 2c+1: 4× these, same
        // order).
        std::fill(count.begin(), count.end(), 0);
        for (int g = 0; g < points; ++g) {
            int d = 0;
            for (int i = 0; i < dim; ++i) {
                const int diff = m.codes[static_cast<size_t>(g) * dim + i] - L[i];
                d += diff * diff;
            }
            d2[g] = d;
            ++count[d + 1];
        }
        // Counting sort by distance, stable in grid index: the (distance, index) order.
        for (int d = 0; d <= max_d2; ++d) count[d + 1] += count[d];
        for (int g = 0; g < points; ++g) sorted[count[d2[g]]++] = static_cast<uint16_t>(g);
        // Keep every point at the `distances` smallest distinct distances.
        int n = 0;
        for (int have = 0; n < points; ++n) {
            if (n == 0 || d2[sorted[n]] != d2[sorted[n - 1]]) {
                if (have == distances) break;
                ++have;
            }
        }
        NeighbourList list{};
        list.first = static_cast<uint32_t>(m.neighbours.size());
        list.count = static_cast<uint32_t>(n);
        list.padded = (list.count + kNeighbourPad - 1) / kNeighbourPad * kNeighbourPad;
        list.codes = static_cast<uint32_t>(m.neighbour_codes.size());
        for (uint32_t j = 0; j < list.padded; ++j) m.neighbours.push_back(sorted[std::min(j, list.count - 1)]);
        m.neighbour_codes.resize(m.neighbour_codes.size() + static_cast<size_t>(dim) * list.padded);
        for (int i = 0; i < dim; ++i)
            for (uint32_t j = 0; j < list.padded; ++j) m.neighbour_codes[list.codes + i * list.padded + j] = m.point(m.neighbours[list.first + j])[i];
        m.map[key] = -static_cast<int32_t>(m.lists.size()) - 1;
        m.lists.push_back(list);
    }
    return m;
}

}  // namespace

const GridMap& grid_map(Grid grid) {
    // One static per grid: built on first use, thread-safe by the language's static initialisation.
    switch (grid) {
        case Grid::Iq2xxs: {
            static const GridMap m = build(tables::kgrid_2bit_256, 8, 2, 2);
            return m;
        }
        case Grid::Iq2xs: {
            static const GridMap m = build(tables::kgrid_2bit_512, 8, 2, 2);
            return m;
        }
        case Grid::Iq2s: {
            static const GridMap m = build(tables::kgrid_2bit_1024, 8, 2, 1);
            return m;
        }
        case Grid::Iq1: {
            static const GridMap m = build(tables::kgrid_1bit_2048, 8, 2, 3);
            return m;
        }
        case Grid::Iq3xxs: {
            static const GridMap m = build(tables::kgrid_256, 4, 3, 2);
            return m;
        }
        case Grid::Iq3s: {
            static const GridMap m = build(tables::kgrid_512, 4, 3, 3);
            return m;
        }
    }
    return grid_map(Grid::Iq2xxs);  // unreachable: every enumerator is handled above
}

}  // namespace llmq::quant::iq
