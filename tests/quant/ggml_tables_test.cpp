// The generated lookup tables (core/src/quant/ggml_tables.cpp, from scripts/gen_ggml_tables.cpp)
// must hold exactly the values of tests/fixtures/ggml-tables/*.json.
#include "quant/ggml_tables.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <span>
#include <string>

#include "support/fixtures.hpp"

namespace llmq {
namespace {

using nlohmann::json;

json table_json(const std::string& name) {
    const auto bytes = test::read_file(test::fixture("ggml-tables/" + name + ".json"));
    return json::parse(bytes.begin(), bytes.end());
}

// 64-bit entries are compared through values_hex (exact); the others through values.
template <typename T, size_t n>
void expect_table(const std::string& name, const std::array<T, n>& table) {
    SCOPED_TRACE(name);
    const json j = table_json(name);
    ASSERT_EQ(j.at("count").get<size_t>(), n);
    const json& values = j.at("values");
    ASSERT_EQ(values.size(), n);
    for (size_t i = 0; i < n; ++i) {
        if constexpr (sizeof(T) >= 4) {
            const auto hex = j.at("values_hex")[i].get<std::string>();
            ASSERT_EQ(static_cast<uint64_t>(table[i]), std::stoull(hex, nullptr, 16)) << "entry " << i;
        } else {
            ASSERT_EQ(static_cast<int64_t>(table[i]), values[i].get<int64_t>()) << "entry " << i;
        }
    }
}

TEST(GgmlTables, GeneratedSourceMatchesTheJsonData) {
    expect_table("ksigns_iq2xs", quant::tables::ksigns_iq2xs);
    expect_table("kvalues_iq4nl", quant::tables::kvalues_iq4nl);
    expect_table("kvalues_fp4", quant::tables::kvalues_fp4);
    expect_table("iq2xxs_grid", quant::tables::iq2xxs_grid);
    expect_table("iq2xs_grid", quant::tables::iq2xs_grid);
    expect_table("iq2s_grid", quant::tables::iq2s_grid);
    expect_table("iq3xxs_grid", quant::tables::iq3xxs_grid);
    expect_table("iq3s_grid", quant::tables::iq3s_grid);
    expect_table("iq1s_grid", quant::tables::iq1s_grid);
    expect_table("kgrid_2bit_256", quant::tables::kgrid_2bit_256);
    expect_table("kgrid_2bit_512", quant::tables::kgrid_2bit_512);
    expect_table("kgrid_2bit_1024", quant::tables::kgrid_2bit_1024);
    expect_table("kgrid_1bit_2048", quant::tables::kgrid_1bit_2048);
    expect_table("kgrid_256", quant::tables::kgrid_256);
    expect_table("kgrid_512", quant::tables::kgrid_512);
}

// The quantizer grids (kgrid_*) and the dequantization grids are the same points in the same
// order: the maps built from the former index the latter.
TEST(GgmlTables, QuantizerGridsIndexTheDequantizationGrids) {
    using namespace quant::tables;
    const auto bytes_of = [](uint64_t v, int j) { return static_cast<int>((v >> (8 * j)) & 0xFF); };
    const int k2[3] = {0x08, 0x19, 0x2B};
    for (size_t g = 0; g < 1024; ++g) {
        for (int j = 0; j < 8; ++j) {
            if (g < 256) {
                EXPECT_EQ(bytes_of(iq2xxs_grid[g], j), k2[(kgrid_2bit_256[g] >> (2 * j)) & 3]);
            }
            if (g < 512) {
                EXPECT_EQ(bytes_of(iq2xs_grid[g], j), k2[(kgrid_2bit_512[g] >> (2 * j)) & 3]);
            }
            EXPECT_EQ(bytes_of(iq2s_grid[g], j), k2[(kgrid_2bit_1024[g] >> (2 * j)) & 3]);
        }
    }
    for (size_t g = 0; g < 2048; ++g)
        for (int j = 0; j < 8; ++j) EXPECT_EQ(static_cast<int8_t>(bytes_of(iq1s_grid[g], j)), ((kgrid_1bit_2048[g] >> (2 * j)) & 3) - 1);
    const int k3[8] = {4, 12, 20, 28, 36, 44, 52, 62};
    for (size_t g = 0; g < 512; ++g) {
        for (int j = 0; j < 4; ++j) {
            if (g < 256) {
                EXPECT_EQ(bytes_of(iq3xxs_grid[g], j), k3[(kgrid_256[g] >> (3 * j)) & 7]);
            }
            EXPECT_EQ(bytes_of(iq3s_grid[g], j), 2 * ((kgrid_512[g] >> (3 * j)) & 7) + 1);
        }
    }
}

}  // namespace
}  // namespace llmq
