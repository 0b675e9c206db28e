// Legacy 32-element codecs Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 (reference/ggml-formats.md §2.1, §2.6).
// Without imatrix: ggml's *_ref algorithms (scalar kernels here, xsimd twins in legacy_simd.cpp).
// With imatrix: per-row weighted searches from kquant_search.hpp (Q4_0/Q5_0 make_qx_quants,
// Q4_1/Q5_1 make_qkx3); Q8_0 ignores the imatrix as ggml does.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <span>
#include <vector>

#include "quant/codecs.hpp"
#include "quant/kquant_search.hpp"
#include "quant/legacy_kernels.hpp"
#include "quant/scalar.hpp"
#include "util/simd_level.hpp"

namespace llmq::quant {
namespace {

using legacy::kBlock;
using legacy::kQ4_0Bytes;
using legacy::kQ4_1Bytes;
using legacy::kQ5_0Bytes;
using legacy::kQ5_1Bytes;
using legacy::kQ8_0Bytes;
using legacy::truncate_to_i32;

// ---- scalar reference kernels (no imatrix) -------------------------------------------------

// Signed value of largest magnitude, first occurrence (NaN never wins: the comparison is false).
float signed_absmax(const float* x) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < kBlock; ++j) {
        const float a = std::fabs(x[j]);
        if (amax < a) {
            amax = a;
            max = x[j];
        }
    }
    return max;
}

void min_max(const float* x, float& min, float& max) {
    min = 3.40282347e+38f;
    max = -3.40282347e+38f;
    for (int j = 0; j < kBlock; ++j) {
        if (x[j] < min) min = x[j];
        if (x[j] > max) max = x[j];
    }
}

// (int8_t)t followed by MIN(cap, ·), as ggml's Q4_0/Q4_1/Q5_0 refs clamp their codes.
int clamp_code(float v, int cap) {
    return std::min(cap, static_cast<int>(static_cast<int8_t>(truncate_to_i32(v))));
}

void pack_q5(const int* lo, const int* hi, uint8_t* qh_out, uint8_t* qs) {
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
        qs[j] = static_cast<uint8_t>((lo[j] & 0x0F) | ((hi[j] & 0x0F) << 4));
        qh |= static_cast<uint32_t>((lo[j] & 0x10) >> 4) << j;
        qh |= static_cast<uint32_t>((hi[j] & 0x10) >> 4) << (j + 16);
    }
    store_u32(qh_out, qh);
}

void quantize_blocks_q4_0(const float* x, uint8_t* y, int64_t nblocks) {
    for (int64_t b = 0; b < nblocks; ++b, x += kBlock, y += kQ4_0Bytes) {
        const float d = signed_absmax(x) / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        store_u16(y, fp32_to_fp16(d));
        for (int j = 0; j < 16; ++j) {
            const int lo = clamp_code(x[j] * id + 8.5f, 15);
            const int hi = clamp_code(x[j + 16] * id + 8.5f, 15);
            y[2 + j] = static_cast<uint8_t>(lo | (hi << 4));
        }
    }
}

void quantize_blocks_q4_1(const float* x, uint8_t* y, int64_t nblocks) {
    for (int64_t b = 0; b < nblocks; ++b, x += kBlock, y += kQ4_1Bytes) {
        float min, max;
        min_max(x, min, max);
        const float d = (max - min) / 15.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        store_u16(y, fp32_to_fp16(d));
        store_u16(y + 2, fp32_to_fp16(min));
        for (int j = 0; j < 16; ++j) {
            const int lo = clamp_code((x[j] - min) * id + 0.5f, 15);
            const int hi = clamp_code((x[j + 16] - min) * id + 0.5f, 15);
            y[4 + j] = static_cast<uint8_t>(lo | (hi << 4));
        }
    }
}

void quantize_blocks_q5_0(const float* x, uint8_t* y, int64_t nblocks) {
    for (int64_t b = 0; b < nblocks; ++b, x += kBlock, y += kQ5_0Bytes) {
        const float d = signed_absmax(x) / -16.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        store_u16(y, fp32_to_fp16(d));
        int lo[16], hi[16];
        for (int j = 0; j < 16; ++j) {
            lo[j] = clamp_code(x[j] * id + 16.5f, 31);
            hi[j] = clamp_code(x[j + 16] * id + 16.5f, 31);
        }
        pack_q5(lo, hi, y + 2, y + 6);
    }
}

void quantize_blocks_q5_1(const float* x, uint8_t* y, int64_t nblocks) {
    for (int64_t b = 0; b < nblocks; ++b, x += kBlock, y += kQ5_1Bytes) {
        float min, max;
        min_max(x, min, max);
        const float d = (max - min) / 31.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        store_u16(y, fp32_to_fp16(d));
        store_u16(y + 2, fp32_to_fp16(min));
        int lo[16], hi[16];
        for (int j = 0; j < 16; ++j) {  // no clamp in ggml's Q5_1 ref: only the low 5 bits are kept
            lo[j] = truncate_to_i32((x[j] - min) * id + 0.5f);
            hi[j] = truncate_to_i32((x[j + 16] - min) * id + 0.5f);
        }
        pack_q5(lo, hi, y + 4, y + 8);
    }
}

void quantize_blocks_q8_0(const float* x, uint8_t* y, int64_t nblocks) {
    for (int64_t b = 0; b < nblocks; ++b, x += kBlock, y += kQ8_0Bytes) {
        float amax = 0.0f;
        for (int j = 0; j < kBlock; ++j) {
            const float a = std::fabs(x[j]);
            amax = amax > a ? amax : a;  // ggml's MAX(): a NaN replaces the running maximum
        }
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        store_u16(y, fp32_to_fp16(d));
        for (int j = 0; j < kBlock; ++j) {
            y[2 + j] = static_cast<uint8_t>(truncate_to_i32(std::round(x[j] * id)));  // roundf: half away from 0
        }
    }
}

void dequantize_blocks_q4_0(const uint8_t* x, float* y, int64_t nblocks) {
    for (int64_t b = 0; b < nblocks; ++b, x += kQ4_0Bytes, y += kBlock) {
        const float d = fp16_to_fp32(load_u16(x));
        for (int j = 0; j < 16; ++j) {
            y[j] = static_cast<float>((x[2 + j] & 0x0F) - 8) * d;
            y[j + 16] = static_cast<float>((x[2 + j] >> 4) - 8) * d;
        }
    }
}

void dequantize_blocks_q4_1(const uint8_t* x, float* y, int64_t nblocks) {
    for (int64_t b = 0; b < nblocks; ++b, x += kQ4_1Bytes, y += kBlock) {
        const float d = fp16_to_fp32(load_u16(x));
        const float m = fp16_to_fp32(load_u16(x + 2));
        for (int j = 0; j < 16; ++j) {
            y[j] = static_cast<float>(x[4 + j] & 0x0F) * d + m;
            y[j + 16] = static_cast<float>(x[4 + j] >> 4) * d + m;
        }
    }
}

void dequantize_blocks_q5_0(const uint8_t* x, float* y, int64_t nblocks) {
    for (int64_t b = 0; b < nblocks; ++b, x += kQ5_0Bytes, y += kBlock) {
        const float d = fp16_to_fp32(load_u16(x));
        const uint32_t qh = load_u32(x + 2);
        for (int j = 0; j < 16; ++j) {
            const int lo = static_cast<int>((x[6 + j] & 0x0F) | (((qh >> j) << 4) & 0x10)) - 16;
            const int hi = static_cast<int>((x[6 + j] >> 4) | ((qh >> (j + 12)) & 0x10)) - 16;
            y[j] = static_cast<float>(lo) * d;
            y[j + 16] = static_cast<float>(hi) * d;
        }
    }
}

void dequantize_blocks_q5_1(const uint8_t* x, float* y, int64_t nblocks) {
    for (int64_t b = 0; b < nblocks; ++b, x += kQ5_1Bytes, y += kBlock) {
        const float d = fp16_to_fp32(load_u16(x));
        const float m = fp16_to_fp32(load_u16(x + 2));
        const uint32_t qh = load_u32(x + 4);
        for (int j = 0; j < 16; ++j) {
            const uint32_t lo = (x[8 + j] & 0x0Fu) | (((qh >> j) << 4) & 0x10u);
            const uint32_t hi = (x[8 + j] >> 4) | ((qh >> (j + 12)) & 0x10u);
            y[j] = static_cast<float>(lo) * d + m;
            y[j + 16] = static_cast<float>(hi) * d + m;
        }
    }
}

void dequantize_blocks_q8_0(const uint8_t* x, float* y, int64_t nblocks) {
    for (int64_t b = 0; b < nblocks; ++b, x += kQ8_0Bytes, y += kBlock) {
        const float d = fp16_to_fp32(load_u16(x));
        for (int j = 0; j < kBlock; ++j) y[j] = static_cast<float>(static_cast<int8_t>(x[2 + j])) * d;
    }
}

// ---- imatrix rows ----------------------------------------------------------------------------
// The weighted searches are the k-quant engineers' shared routines (kquant_search.hpp), run over
// all blocks of a row at once (vectorised across blocks, bit-identical to block-by-block).

// sigma2 over the whole row, summed sequentially as in ggml.
float row_sigma2(const float* x, int64_t n) {
    float sum_x2 = 0.0f;
    for (int64_t j = 0; j < n; ++j) sum_x2 += x[j] * x[j];
    return sum_x2 / static_cast<float>(n);
}

// Per-row scratch: weights w = qw·sqrt(sigma2 + x²), codes, and per-block results.
struct RowScratch {
    std::vector<float> w, scales, mins;
    std::vector<uint8_t> L;
    explicit RowScratch(int64_t n) : w(n), scales(n / kBlock), mins(n / kBlock), L(n) {}
};

void importance_weights(const float* x, const float* qw, float sigma2, std::span<float> w) {
    for (size_t j = 0; j < w.size(); ++j) w[j] = qw[j] * std::sqrt(sigma2 + x[j] * x[j]);
}

// Q4_0 (nmax 8) and Q5_0 (nmax 16): make_qx_quants, rmse_type 1 with the importance weights.
template <int kNmax>
void quantize_row_symmetric_imatrix(const float* x, uint8_t* y, int64_t n_per_row, const float* qw, RowScratch& s) {
    constexpr size_t kBytes = kNmax == 8 ? kQ4_0Bytes : kQ5_0Bytes;
    const size_t nblocks = static_cast<size_t>(n_per_row / kBlock);
    importance_weights(x, qw, row_sigma2(x, n_per_row), s.w);
    make_qx_quants_many(nblocks, kBlock, {x, static_cast<size_t>(n_per_row)}, s.w, kNmax, s.L, s.scales);
    for (size_t b = 0; b < nblocks; ++b, y += kBytes) {
        const uint8_t* L = s.L.data() + b * kBlock;
        store_u16(y, fp32_to_fp16(s.scales[b]));
        if constexpr (kNmax == 8) {
            for (int j = 0; j < 16; ++j) y[2 + j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
        } else {
            int lo[16], hi[16];
            for (int j = 0; j < 16; ++j) {
                lo[j] = L[j];
                hi[j] = L[j + 16];
            }
            pack_q5(lo, hi, y + 2, y + 6);
        }
    }
}

// Q4_1 (nmax 15) and Q5_1 (nmax 31): make_qkx3 (-0.9, 0.05, 36 steps, squared error); the stored
// min is the fitted offset (<= 0).
template <int kNmax>
void quantize_row_affine_imatrix(const float* x, uint8_t* y, int64_t n_per_row, const float* qw, RowScratch& s) {
    constexpr size_t kBytes = kNmax == 15 ? kQ4_1Bytes : kQ5_1Bytes;
    const size_t nblocks = static_cast<size_t>(n_per_row / kBlock);
    importance_weights(x, qw, row_sigma2(x, n_per_row), s.w);
    // With weights given, ggml's make_qkx3 and make_qkx2 are the same search.
    make_qkx_quants_many(nblocks, kBlock, {x, static_cast<size_t>(n_per_row)}, s.w, kNmax, s.L, s.scales, s.mins, -0.9f, 0.05f, 36, false);
    for (size_t b = 0; b < nblocks; ++b, y += kBytes) {
        const uint8_t* L = s.L.data() + b * kBlock;
        store_u16(y, fp32_to_fp16(s.scales[b]));
        store_u16(y + 2, fp32_to_fp16(-s.mins[b]));
        if constexpr (kNmax == 15) {
            for (int j = 0; j < 16; ++j) y[4 + j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
        } else {
            int lo[16], hi[16];
            for (int j = 0; j < 16; ++j) {
                lo[j] = L[j];
                hi[j] = L[j + 16];
            }
            pack_q5(lo, hi, y + 4, y + 8);
        }
    }
}

using RowImatrix = void (*)(const float*, uint8_t*, int64_t, const float*, RowScratch&);

void quantize_legacy(std::span<const float> src, std::span<uint8_t> dst, int64_t n_per_row, std::span<const float> imatrix,
                     legacy::QuantizeBlocks blocks, RowImatrix weighted, size_t block_bytes) {
    const int64_t nrows = static_cast<int64_t>(src.size()) / n_per_row;
    if (imatrix.empty() || weighted == nullptr) {
        blocks(src.data(), dst.data(), static_cast<int64_t>(src.size()) / kBlock);
        return;
    }
    const size_t row_bytes = static_cast<size_t>(n_per_row / kBlock) * block_bytes;
    RowScratch scratch(n_per_row);
    for (int64_t r = 0; r < nrows; ++r) {
        weighted(src.data() + r * n_per_row, dst.data() + static_cast<size_t>(r) * row_bytes, n_per_row, imatrix.data(), scratch);
    }
}

int64_t block_count(std::span<float> dst) {
    return static_cast<int64_t>(dst.size()) / kBlock;
}

}  // namespace

namespace legacy {

const Kernels& scalar_kernels() {
    static constexpr Kernels kScalar{quantize_blocks_q4_0,   quantize_blocks_q4_1,   quantize_blocks_q5_0,   quantize_blocks_q5_1,
                                     quantize_blocks_q8_0,   dequantize_blocks_q4_0, dequantize_blocks_q4_1, dequantize_blocks_q5_0,
                                     dequantize_blocks_q5_1, dequantize_blocks_q8_0};
    return kScalar;
}

const Kernels& simd_kernels() {
    return LLMQ_AT_LEVEL(portable::simd_kernels(), avx2::simd_kernels());
}

}  // namespace legacy

void quantize_q4_0(std::span<const float> src, std::span<uint8_t> dst, int64_t n_per_row, std::span<const float> imatrix) {
    quantize_legacy(src, dst, n_per_row, imatrix, legacy::simd_kernels().quantize_q4_0, quantize_row_symmetric_imatrix<8>, kQ4_0Bytes);
}
void quantize_q4_1(std::span<const float> src, std::span<uint8_t> dst, int64_t n_per_row, std::span<const float> imatrix) {
    quantize_legacy(src, dst, n_per_row, imatrix, legacy::simd_kernels().quantize_q4_1, quantize_row_affine_imatrix<15>, kQ4_1Bytes);
}
void quantize_q5_0(std::span<const float> src, std::span<uint8_t> dst, int64_t n_per_row, std::span<const float> imatrix) {
    quantize_legacy(src, dst, n_per_row, imatrix, legacy::simd_kernels().quantize_q5_0, quantize_row_symmetric_imatrix<16>, kQ5_0Bytes);
}
void quantize_q5_1(std::span<const float> src, std::span<uint8_t> dst, int64_t n_per_row, std::span<const float> imatrix) {
    quantize_legacy(src, dst, n_per_row, imatrix, legacy::simd_kernels().quantize_q5_1, quantize_row_affine_imatrix<31>, kQ5_1Bytes);
}
void quantize_q8_0(std::span<const float> src, std::span<uint8_t> dst, int64_t n_per_row,
                   std::span<const float> imatrix) {  // ggml ignores the imatrix for Q8_0
    quantize_legacy(src, dst, n_per_row, imatrix, legacy::simd_kernels().quantize_q8_0, nullptr, kQ8_0Bytes);
}

void dequantize_q4_0(std::span<const uint8_t> src, std::span<float> dst) {
    legacy::simd_kernels().dequantize_q4_0(src.data(), dst.data(), block_count(dst));
}
void dequantize_q4_1(std::span<const uint8_t> src, std::span<float> dst) {
    legacy::simd_kernels().dequantize_q4_1(src.data(), dst.data(), block_count(dst));
}
void dequantize_q5_0(std::span<const uint8_t> src, std::span<float> dst) {
    legacy::simd_kernels().dequantize_q5_0(src.data(), dst.data(), block_count(dst));
}
void dequantize_q5_1(std::span<const uint8_t> src, std::span<float> dst) {
    legacy::simd_kernels().dequantize_q5_1(src.data(), dst.data(), block_count(dst));
}
void dequantize_q8_0(std::span<const uint8_t> src, std::span<float> dst) {
    legacy::simd_kernels().dequantize_q8_0(src.data(), dst.data(), block_count(dst));
}

}  // namespace llmq::quant
