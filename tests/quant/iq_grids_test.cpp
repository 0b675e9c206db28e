// The quantizer lookup maps of the I-quants (ggml's quantize_init) against a brute-force
// recomputation: every grid point maps to itself, and every reachable off-grid code vector lists
// exactly the grid points at the k nearest distinct squared distances between the levels 2c + 1,
// sorted by (distance, grid index) — found here by sorting all (distance, index) pairs.
#include "quant/iq_grids.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <span>
#include <utility>
#include <vector>

#include "quant/ggml_tables.hpp"

namespace llmq {
namespace {

using quant::iq::Grid;
using quant::iq::GridMap;

struct Case {
    Grid grid;
    const char* name;
    std::span<const uint16_t> kgrid;
    int dim, bits, distances;
};

std::vector<Case> cases() {
    using namespace quant::tables;
    return {{Grid::Iq2xxs, "iq2xxs", kgrid_2bit_256, 8, 2, 2}, {Grid::Iq2xs, "iq2xs", kgrid_2bit_512, 8, 2, 2},
            {Grid::Iq2s, "iq2s", kgrid_2bit_1024, 8, 2, 1},    {Grid::Iq1, "iq1", kgrid_1bit_2048, 8, 2, 3},
            {Grid::Iq3xxs, "iq3xxs", kgrid_256, 4, 3, 2},      {Grid::Iq3s, "iq3s", kgrid_512, 4, 3, 3}};
}

TEST(IqGrids, MapsAndNeighbourListsMatchABruteForceSearch) {
    for (const Case& c : cases()) {
        SCOPED_TRACE(c.name);
        const GridMap& g = quant::iq::grid_map(c.grid);
        ASSERT_EQ(g.dim, c.dim);
        const int mask = (1 << c.bits) - 1;
        const int max_code = c.bits == 2 ? 2 : 7;
        const auto level = [&](uint32_t key, int i) { return 2 * static_cast<int>((key >> (c.bits * i)) & mask) + 1; };
        for (size_t p = 0; p < c.kgrid.size(); ++p) ASSERT_EQ(g.map[c.kgrid[p]], static_cast<int32_t>(p));
        size_t lists = 0;
        std::vector<std::pair<int, int>> d2(c.kgrid.size());
        for (uint32_t key = 0; key < (1u << (c.bits * c.dim)); ++key) {
            bool reachable = true;
            for (int i = 0; i < c.dim; ++i) reachable = reachable && static_cast<int>((key >> (c.bits * i)) & mask) <= max_code;
            if (!reachable || g.map[key] >= 0) continue;
            ++lists;
            for (size_t p = 0; p < c.kgrid.size(); ++p) {
                int d = 0;
                for (int i = 0; i < c.dim; ++i) {
                    const int diff = level(c.kgrid[p], i) - level(key, i);
                    d += diff * diff;
                }
                d2[p] = {d, static_cast<int>(p)};
            }
            std::sort(d2.begin(), d2.end());
            std::vector<int> want;
            int distinct = 0;
            for (size_t j = 0; j < d2.size(); ++j) {
                if (j == 0 || d2[j].first != d2[j - 1].first) {
                    if (++distinct > c.distances) break;
                }
                want.push_back(d2[j].second);
            }
            const auto& list = g.lists[static_cast<size_t>(-g.map[key] - 1)];
            ASSERT_EQ(list.count, want.size()) << "key " << key;
            ASSERT_EQ(list.padded % quant::iq::kNeighbourPad, 0u);
            for (uint32_t j = 0; j < list.padded; ++j) {
                const int expect = want[std::min<size_t>(j, want.size() - 1)];  // padding repeats the last
                ASSERT_EQ(g.neighbours[list.first + j], expect) << "key " << key << " entry " << j;
                for (int i = 0; i < c.dim; ++i) ASSERT_EQ(2 * g.neighbour_codes[list.codes + i * list.padded + j] + 1, level(c.kgrid[expect], i));
            }
        }
        EXPECT_EQ(lists, g.lists.size());
    }
}

// The maps are built once (function-local statics), whichever thread asks first; every thread
// sees the same one.
TEST(IqGrids, ConcurrentUseSeesOneMap) {
    std::vector<std::future<std::vector<const GridMap*>>> futures;
    for (int t = 0; t < 4; ++t) {
        futures.push_back(std::async(std::launch::async, [] {
            std::vector<const GridMap*> maps;
            for (const Case& c : cases()) maps.push_back(&quant::iq::grid_map(c.grid));
            return maps;
        }));
    }
    const auto first = futures[0].get();
    for (size_t t = 1; t < futures.size(); ++t) EXPECT_EQ(futures[t].get(), first);
}

}  // namespace
}  // namespace llmq
