// The lookup tables of ggml's IQ and FP4 formats (reference/ggml-formats.md §3), generated as data
// from tests/fixtures/ggml-tables by scripts/gen_ggml_tables.cpp into ggml_tables.cpp.
#pragma once

#include <array>
#include <cstdint>

namespace llmq::quant::tables {

// ksigns_iq2xs[i] = i | parity(i) << 7: 7 stored sign bits plus the implied 8th (even parity).
extern const std::array<uint8_t, 128> ksigns_iq2xs;
extern const std::array<int8_t, 16> kvalues_iq4nl;  // IQ4_NL / IQ4_XS non-linear levels
extern const std::array<int8_t, 16> kvalues_fp4;    // E2M1 values ×2 (MXFP4, NVFP4)

// Dequantization grids: byte j of an entry is element j.
extern const std::array<uint64_t, 256> iq2xxs_grid;  // magnitudes {8, 25, 43}
extern const std::array<uint64_t, 512> iq2xs_grid;
extern const std::array<uint64_t, 1024> iq2s_grid;
extern const std::array<uint32_t, 256> iq3xxs_grid;  // magnitudes {4, 12, ..., 52, 62}
extern const std::array<uint32_t, 512> iq3s_grid;    // magnitudes {1, 3, ..., 15}
extern const std::array<uint64_t, 2048> iq1s_grid;   // int8 values {-1, 0, +1}

// Quantizer grids, in the same order as the dequantization grids: code of element j at bits
// 2j..2j+1 (kgrid_2bit_*, kgrid_1bit_2048) or 3j..3j+2 (kgrid_256, kgrid_512).
extern const std::array<uint16_t, 256> kgrid_2bit_256;
extern const std::array<uint16_t, 512> kgrid_2bit_512;
extern const std::array<uint16_t, 1024> kgrid_2bit_1024;
extern const std::array<uint16_t, 2048> kgrid_1bit_2048;
extern const std::array<uint16_t, 256> kgrid_256;
extern const std::array<uint16_t, 512> kgrid_512;

}  // namespace llmq::quant::tables
