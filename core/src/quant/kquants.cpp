// The k-quant codecs Q2_K..Q6_K (super-blocks of 256): quantizers byte-identical to ggml's
// reference (quantize_row_q*_K_ref without an imatrix, the quant_weights variants with one) and
// exact dequantizers. Layouts: reference/ggml-formats.md §2.3; algorithms: §2.6.
//
// Every super-block is quantized in three steps: (1) a scale/code search per sub-block (the
// expensive part, run for all sub-blocks of a chunk of super-blocks at once by the *_many routines
// of kquant_search.hpp), (2) quantization of the sub-block scales into the super-block's fp16
// scale(s), (3) recomputation of the codes with the stored (fp16-rounded) scales, skipped for
// sub-blocks whose quantized scale is zero (their search codes are kept, as ggml does).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "quant/codecs.hpp"
#include "quant/kquant_search.hpp"
#include "quant/scalar.hpp"

namespace llmq::quant {
namespace {

constexpr int64_t QK = 256;
constexpr size_t kQ2Bytes = 84, kQ3Bytes = 110, kQ4Bytes = 144, kQ5Bytes = 176, kQ6Bytes = 210;

using Codes = std::span<uint8_t, QK>;  // one super-block's codes

// Super-blocks searched together: the sub-block searches of a chunk run as one batch across
// groups (kquant_search.hpp), which gives the SIMD kernels enough independent lanes.
constexpr size_t kChunk = 4;

struct Chunk {
    size_t blocks = 0;
    std::span<const float> x;                               // blocks·256 values
    std::array<std::span<const float>, kChunk> qw{};        // each block's imatrix slice, or empty
    std::array<float, kChunk * QK> w{};                     // search weights
    std::array<uint8_t, kChunk * QK> L{};                   // codes
    std::array<float, kChunk * 16> scales{}, mins{}, sw{};  // per sub-block results; sw = Σ weights

    std::span<const float> block_x(size_t b) const { return x.subspan(b * QK, QK); }
    std::span<float> block_w(size_t b) { return std::span(w).subspan(b * QK, QK); }
    Codes codes(size_t b) { return Codes(L.data() + b * QK, QK); }
    bool imatrix() const { return !qw[0].empty(); }
};

// Runs search(chunk) for every chunk of super-blocks, then finish(chunk, b, out) for each of its
// blocks. A block's imatrix slice is the same columns for every row.
template <typename Search, typename Finish>
void quantize_chunks(std::span<const float> src, std::span<uint8_t> dst, int64_t n_per_row, std::span<const float> imatrix, size_t block_bytes,
                     Search&& search, Finish&& finish) {
    const size_t blocks = src.size() / QK;
    const auto blocks_per_row = static_cast<size_t>(n_per_row / QK);
    Chunk c;
    for (size_t b0 = 0; b0 < blocks; b0 += kChunk) {
        c.blocks = std::min(kChunk, blocks - b0);
        c.x = src.subspan(b0 * QK, c.blocks * QK);
        for (size_t b = 0; b < c.blocks; ++b) {
            c.qw[b] = imatrix.empty() ? imatrix : imatrix.subspan(((b0 + b) % blocks_per_row) * QK, QK);
        }
        search(c);
        for (size_t b = 0; b < c.blocks; ++b) finish(c, b, dst.subspan((b0 + b) * block_bytes, block_bytes).data());
    }
}

// Weights of the imatrix variants for every block of the chunk: w = qw·sqrt(sigma2 + x²) with
// sigma2 = factor·Σx²/256 (Σ sequential over the super-block), and sw = Σ w per group of `group`.
void imatrix_weights(Chunk& c, float factor, size_t group) {
    // The blocks' sums are independent chains: interleave them for the pipeline.
    std::array<float, kChunk> sumx2{};
    for (size_t i = 0; i < QK; ++i) {
        for (size_t b = 0; b < c.blocks; ++b) {
            const float v = c.x[b * QK + i];
            sumx2[b] += v * v;
        }
    }
    for (size_t b = 0; b < c.blocks; ++b) {
        const float sigma2 = factor * sumx2[b] / static_cast<float>(QK);
        importance_weights(c.block_x(b), c.qw[b], sigma2, c.block_w(b));
    }
    for (size_t j = 0; j < c.blocks * QK / group; ++j) {
        float sum = 0;
        for (size_t l = 0; l < group; ++l) sum += c.w[j * group + l];
        c.sw[j] = sum;
    }
}

// 2-bit planes in "128-halves" order (Q2_K codes, Q3_K low bits).
void pack_2bit(Codes L, uint8_t* qs) {
    for (int j = 0; j < QK; j += 128) {
        for (int l = 0; l < 32; ++l) {
            qs[j / 4 + l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
        }
    }
}

// Q4_K/Q5_K 12-byte packing of 8 (scale, min) pairs of 6 bits.
void pack_scale_min_k4(int j, uint8_t ls, uint8_t lm, uint8_t* scales) {
    if (j < 4) {
        scales[j] = ls;
        scales[j + 4] = lm;
    } else {
        scales[j + 4] = static_cast<uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
        scales[j - 4] |= static_cast<uint8_t>((ls >> 4) << 6);
        scales[j] |= static_cast<uint8_t>((lm >> 4) << 6);
    }
}

void unpack_scale_min_k4(int j, const uint8_t* q, uint8_t& sc, uint8_t& m) {
    if (j < 4) {
        sc = q[j] & 63;
        m = q[j + 4] & 63;
    } else {
        sc = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

// Q3_K: 16 scales l ∈ [0, 63] into 12 bytes (low nibbles in bytes 0-7, high pairs in bytes 8-11).
void pack_q3_scales(std::span<const int> l, uint8_t* scales) {
    std::memset(scales, 0, 12);
    for (int j = 0; j < 16; ++j) {
        if (j < 8) {
            scales[j] = static_cast<uint8_t>(l[j] & 0xF);
        } else {
            scales[j - 8] |= static_cast<uint8_t>((l[j] & 0xF) << 4);
        }
        scales[j % 4 + 8] |= static_cast<uint8_t>((l[j] >> 4) << (2 * (j / 4)));
    }
}

int unpack_q3_scale(int j, const uint8_t* scales) {
    const int low = j < 8 ? scales[j] & 0xF : scales[j - 8] >> 4;
    return (low | (((scales[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
}

// ---- Q2_K -----------------------------------------------------------------------------------

void search_q2_K(Chunk& c) {
    if (!c.imatrix()) {
        for (size_t i = 0; i < c.x.size(); ++i) c.w[i] = std::fabs(c.x[i]);
        make_qkx_quants_many(c.blocks * 16, 16, c.x, c.w, 3, c.L, c.scales, c.mins, -0.5f, 0.1f, 15, true);
        return;
    }
    imatrix_weights(c, 1.0f, 16);
    make_qkx_quants_many(c.blocks * 16, 16, c.x, c.w, 3, c.L, c.scales, c.mins, -0.9f, 0.05f, 36, false);
}

void finish_q2_K(Chunk& c, size_t b, uint8_t* y) {
    const auto x = c.block_x(b);
    const Codes L = c.codes(b);
    const auto scales = std::span(c.scales).subspan(16 * b, 16);
    const auto mins = std::span(c.mins).subspan(16 * b, 16);
    if (!c.imatrix()) {
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < 16; ++j) {
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        const float q4scale = 15.f;
        if (max_scale > 0) {
            const float iscale = q4scale / max_scale;
            for (int j = 0; j < 16; ++j) y[j] = static_cast<uint8_t>(nearest_int(iscale * scales[j]));
            store_u16(y + 80, fp32_to_fp16(max_scale / q4scale));
        } else {
            std::fill_n(y, 16, uint8_t{0});
            store_u16(y + 80, fp32_to_fp16(0.f));
        }
        if (max_min > 0) {
            const float iscale = q4scale / max_min;
            for (int j = 0; j < 16; ++j) y[j] = static_cast<uint8_t>(y[j] | (nearest_int(iscale * mins[j]) << 4));
            store_u16(y + 82, fp32_to_fp16(max_min / q4scale));
        } else {
            store_u16(y + 82, fp32_to_fp16(0.f));
        }
    } else {
        const auto sw = std::span(c.sw).subspan(16 * b, 16);
        std::array<uint8_t, 16> ls{}, lm{};
        const float dm = make_qp_quants(scales, 15, ls, sw);
        const float mm = make_qp_quants(mins, 15, lm, sw);
        store_u16(y + 80, fp32_to_fp16(dm));
        store_u16(y + 82, fp32_to_fp16(mm));
        for (int j = 0; j < 16; ++j) y[j] = static_cast<uint8_t>(ls[j] | (lm[j] << 4));
    }
    const float d = fp16_to_fp32(load_u16(y + 80));
    const float dmin = fp16_to_fp32(load_u16(y + 82));
    for (int j = 0; j < QK / 16; ++j) {
        const float dl = d * static_cast<float>(y[j] & 0xF);
        if (dl == 0) continue;
        const float ml = dmin * static_cast<float>(y[j] >> 4);
        for (int ii = 0; ii < 16; ++ii) {
            const int l = nearest_int((x[16 * j + ii] + ml) / dl);
            L[16 * j + ii] = static_cast<uint8_t>(std::clamp(l, 0, 3));
        }
    }
    pack_2bit(L, y + 16);
}

// ---- Q3_K -----------------------------------------------------------------------------------

void search_q3_K(Chunk& c) {
    if (!c.imatrix()) {
        make_q3_quants_many(c.blocks * 16, 16, c.x, 4, c.L, c.scales);
        return;
    }
    imatrix_weights(c, 2.0f, 16);
    make_qx_quants_many(c.blocks * 16, 16, c.x, std::span(c.w).first(c.blocks * QK), 4, c.L, c.scales);
}

void finish_q3_K(Chunk& c, size_t b, uint8_t* y) {
    const auto x = c.block_x(b);
    const Codes L = c.codes(b);
    const auto scales = std::span(c.scales).subspan(16 * b, 16);
    std::array<int, 16> l{};
    if (!c.imatrix()) {
        float max_scale = 0, amax = 0;
        for (int j = 0; j < 16; ++j) {
            const float a = std::fabs(scales[j]);
            if (a > amax) {
                amax = a;
                max_scale = scales[j];
            }
        }
        if (max_scale != 0) {
            const float iscale = -32.f / max_scale;
            for (int j = 0; j < 16; ++j) {
                // The reference narrows to int8 before clamping.
                const auto v = static_cast<int8_t>(nearest_int(iscale * scales[j]));
                l[j] = std::clamp(static_cast<int>(v), -32, 31) + 32;
            }
            pack_q3_scales(l, y + 96);
            store_u16(y + 108, fp32_to_fp16(1 / iscale));
        } else {
            std::memset(y + 96, 0, 12);
            store_u16(y + 108, fp32_to_fp16(0.f));
        }
    } else {
        std::array<uint8_t, 16> ls{};
        const float d_block = make_qx_quants(scales, 32, ls, 1, std::span(c.sw).subspan(16 * b, 16));
        for (int j = 0; j < 16; ++j) l[j] = ls[j];
        pack_q3_scales(l, y + 96);
        store_u16(y + 108, fp32_to_fp16(d_block));
    }
    const float d_all = fp16_to_fp32(load_u16(y + 108));
    for (int j = 0; j < QK / 16; ++j) {
        const float d = d_all * static_cast<float>(unpack_q3_scale(j, y + 96));
        if (d == 0) continue;
        for (int ii = 0; ii < 16; ++ii) {
            const int q = nearest_int(x[16 * j + ii] / d);
            L[16 * j + ii] = static_cast<uint8_t>(std::clamp(q, -4, 3) + 4);
        }
    }
    // High bit of element e goes to bit e/32 of hmask[e % 32].
    uint8_t* hmask = y;
    std::memset(hmask, 0, 32);
    for (int e = 0; e < QK; ++e) {
        hmask[e % 32] = static_cast<uint8_t>(hmask[e % 32] | ((L[e] >> 2) << (e / 32)));
        L[e] &= 3;
    }
    pack_2bit(L, y + 32);
}

// ---- Q4_K / Q5_K ----------------------------------------------------------------------------

// Search for Q4_K (nmax 15) and Q5_K (nmax 31); rmin/rdelta/nstep are the no-imatrix parameters.
void search_k4(Chunk& c, int nmax, float rmin, float rdelta, int nstep) {
    if (!c.imatrix()) {
        for (size_t j = 0; j < c.blocks * 8; ++j) {
            const float* x = c.x.data() + 32 * j;
            float sum_x2 = 0;
            for (int l = 0; l < 32; ++l) sum_x2 += x[l] * x[l];
            const float av_x = std::sqrt(sum_x2 / 32);
            for (int l = 0; l < 32; ++l) c.w[32 * j + l] = av_x + std::fabs(x[l]);
        }
        make_qkx_quants_many(c.blocks * 8, 32, c.x, c.w, nmax, c.L, c.scales, c.mins, rmin, rdelta, nstep, false);
        return;
    }
    imatrix_weights(c, 2.0f, 32);
    make_qkx_quants_many(c.blocks * 8, 32, c.x, c.w, nmax, c.L, c.scales, c.mins, -0.9f, 0.05f, 36, false);
}

// Scale quantization and code recomputation shared by Q4_K and Q5_K; y points at the
// d, dmin, scales[12] header.
void finish_k4(Chunk& c, size_t b, int nmax, uint8_t* y) {
    const auto x = c.block_x(b);
    const Codes L = c.codes(b);
    const auto scales = std::span(c.scales).subspan(8 * b, 8);
    const auto mins = std::span(c.mins).subspan(8 * b, 8);
    std::memset(y, 0, 16);
    if (!c.imatrix()) {
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < 8; ++j) {
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
        const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
        for (int j = 0; j < 8; ++j) {
            // Narrowed to uint8 before the clamp, as in the reference.
            const auto ls = static_cast<uint8_t>(nearest_int(inv_scale * scales[j]));
            const auto lm = static_cast<uint8_t>(nearest_int(inv_min * mins[j]));
            pack_scale_min_k4(j, std::min<uint8_t>(63, ls), std::min<uint8_t>(63, lm), y + 4);
        }
        store_u16(y, fp32_to_fp16(max_scale / 63.f));
        store_u16(y + 2, fp32_to_fp16(max_min / 63.f));
    } else {
        const auto sw = std::span(c.sw).subspan(8 * b, 8);
        std::array<uint8_t, 8> ls{}, lm{};
        const float d_block = make_qp_quants(scales, 63, ls, sw);
        const float m_block = make_qp_quants(mins, 63, lm, sw);
        for (int j = 0; j < 8; ++j) pack_scale_min_k4(j, ls[j], lm[j], y + 4);
        store_u16(y, fp32_to_fp16(d_block));
        store_u16(y + 2, fp32_to_fp16(m_block));
    }
    const float d_all = fp16_to_fp32(load_u16(y));
    const float dmin_all = fp16_to_fp32(load_u16(y + 2));
    for (int j = 0; j < QK / 32; ++j) {
        uint8_t sc, m;
        unpack_scale_min_k4(j, y + 4, sc, m);
        const float d = d_all * static_cast<float>(sc);
        if (d == 0) continue;
        const float dm = dmin_all * static_cast<float>(m);
        for (int ii = 0; ii < 32; ++ii) {
            const int l = nearest_int((x[32 * j + ii] + dm) / d);
            L[32 * j + ii] = static_cast<uint8_t>(std::clamp(l, 0, nmax));
        }
    }
}

void finish_q4_K(Chunk& c, size_t b, uint8_t* y) {
    finish_k4(c, b, 15, y);
    const Codes L = c.codes(b);
    uint8_t* q = y + 16;
    for (int j = 0; j < QK; j += 64, q += 32) {
        for (int l = 0; l < 32; ++l) q[l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4));
    }
}

void finish_q5_K(Chunk& c, size_t b, uint8_t* y) {
    finish_k4(c, b, 31, y);
    const Codes L = c.codes(b);
    // Low 4 bits in nibbles; the 5th bit of the 32 elements of sub-block k goes to bit k of qh.
    // Branch-free: which codes exceed 15 is data-dependent and unpredictable.
    uint8_t* qh = y + 16;
    uint8_t* ql = y + 48;
    std::memset(qh, 0, 32);
    for (int n = 0, k = 0; n < QK; n += 64, k += 2, ql += 32) {
        for (int j = 0; j < 32; ++j) {
            const int l1 = L[n + j], l2 = L[n + j + 32];
            qh[j] = static_cast<uint8_t>(qh[j] | ((l1 >> 4) << k) | ((l2 >> 4) << (k + 1)));
            ql[j] = static_cast<uint8_t>((l1 & 0xF) | ((l2 & 0xF) << 4));
        }
    }
}

// ---- Q6_K -----------------------------------------------------------------------------------

void search_q6_K(Chunk& c) {
    if (!c.imatrix()) {
        make_qx_quants_many(c.blocks * 16, 16, c.x, {}, 32, c.L, c.scales);
        return;
    }
    // With an imatrix the weights are the importance values themselves.
    for (size_t b = 0; b < c.blocks; ++b) std::copy(c.qw[b].begin(), c.qw[b].end(), c.block_w(b).begin());
    make_qx_quants_many(c.blocks * 16, 16, c.x, std::span(c.w).first(c.blocks * QK), 32, c.L, c.scales);
}

void finish_q6_K(Chunk& c, size_t b, uint8_t* y) {
    const auto x = c.block_x(b);
    const Codes L = c.codes(b);
    const auto scales = std::span(c.scales).subspan(16 * b, 16);
    float max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < 16; ++ib) {
        const float a = std::fabs(scales[ib]);
        if (a > max_abs_scale) {
            max_abs_scale = a;
            max_scale = scales[ib];
        }
    }
    if (max_abs_scale < kGroupMaxEps) {
        std::fill_n(y, kQ6Bytes, uint8_t{0});
        return;
    }
    const float iscale = -128.f / max_scale;
    store_u16(y + 208, fp32_to_fp16(1 / iscale));
    auto* sc = reinterpret_cast<int8_t*>(y + 192);
    for (int ib = 0; ib < 16; ++ib) sc[ib] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[ib])));
    const float d_all = fp16_to_fp32(load_u16(y + 208));
    for (int j = 0; j < 16; ++j) {
        const float d = d_all * static_cast<float>(sc[j]);
        if (d == 0) continue;
        for (int ii = 0; ii < 16; ++ii) {
            const int l = nearest_int(x[16 * j + ii] / d);
            L[16 * j + ii] = static_cast<uint8_t>(std::clamp(l, -32, 31) + 32);
        }
    }
    uint8_t* ql = y;
    uint8_t* qh = y + 128;
    for (int j = 0; j < QK; j += 128, ql += 64, qh += 32) {
        for (int l = 0; l < 32; ++l) {
            const int q1 = L[j + l] & 0xF, q2 = L[j + l + 32] & 0xF;
            const int q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
            ql[l] = static_cast<uint8_t>(q1 | (q3 << 4));
            ql[l + 32] = static_cast<uint8_t>(q2 | (q4 << 4));
            qh[l] = static_cast<uint8_t>((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
        }
    }
}

// ---- dequantization -------------------------------------------------------------------------
// Products are evaluated as ggml does: (d·sc)·q − (dmin·m).

template <typename Fn>
void for_each_dequant_block(std::span<const uint8_t> src, std::span<float> dst, size_t block_bytes, Fn&& decode) {
    for (size_t b = 0; b < dst.size() / QK; ++b) decode(src.data() + b * block_bytes, dst.data() + b * QK);
}

// Value of element e in the "128-halves" 2-bit planes.
inline int plane2(const uint8_t* qs, int e) {
    return (qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
}

}  // namespace

void quantize_q2_K(std::span<const float> src, std::span<uint8_t> dst, int64_t n_per_row, std::span<const float> imatrix) {
    quantize_chunks(src, dst, n_per_row, imatrix, kQ2Bytes, search_q2_K, finish_q2_K);
}
void quantize_q3_K(std::span<const float> src, std::span<uint8_t> dst, int64_t n_per_row, std::span<const float> imatrix) {
    quantize_chunks(src, dst, n_per_row, imatrix, kQ3Bytes, search_q3_K, finish_q3_K);
}
void quantize_q4_K(std::span<const float> src, std::span<uint8_t> dst, int64_t n_per_row, std::span<const float> imatrix) {
    quantize_chunks(
        src, dst, n_per_row, imatrix, kQ4Bytes, [](Chunk& c) { search_k4(c, 15, -1.f, 0.1f, 20); }, finish_q4_K);
}
void quantize_q5_K(std::span<const float> src, std::span<uint8_t> dst, int64_t n_per_row, std::span<const float> imatrix) {
    quantize_chunks(
        src, dst, n_per_row, imatrix, kQ5Bytes, [](Chunk& c) { search_k4(c, 31, -0.5f, 0.1f, 15); }, finish_q5_K);
}
void quantize_q6_K(std::span<const float> src, std::span<uint8_t> dst, int64_t n_per_row, std::span<const float> imatrix) {
    quantize_chunks(src, dst, n_per_row, imatrix, kQ6Bytes, search_q6_K, finish_q6_K);
}

void dequantize_q2_K(std::span<const uint8_t> src, std::span<float> dst) {
    for_each_dequant_block(src, dst, kQ2Bytes, [](const uint8_t* b, float* y) {
        const float d = fp16_to_fp32(load_u16(b + 80));
        const float dmin = fp16_to_fp32(load_u16(b + 82));
        for (int e = 0; e < QK; ++e) {
            const uint8_t sc = b[e / 16];
            const float dl = d * static_cast<float>(sc & 0xF);
            const float ml = dmin * static_cast<float>(sc >> 4);
            y[e] = dl * static_cast<float>(plane2(b + 16, e)) - ml;
        }
    });
}

void dequantize_q3_K(std::span<const uint8_t> src, std::span<float> dst) {
    for_each_dequant_block(src, dst, kQ3Bytes, [](const uint8_t* b, float* y) {
        const float d_all = fp16_to_fp32(load_u16(b + 108));
        for (int e = 0; e < QK; ++e) {
            const float dl = d_all * static_cast<float>(unpack_q3_scale(e / 16, b + 96));
            const int hbit = (b[e % 32] >> (e / 32)) & 1;
            y[e] = dl * static_cast<float>(plane2(b + 32, e) - (hbit ? 0 : 4));
        }
    });
}

void dequantize_q4_K(std::span<const uint8_t> src, std::span<float> dst) {
    for_each_dequant_block(src, dst, kQ4Bytes, [](const uint8_t* b, float* y) {
        const float d = fp16_to_fp32(load_u16(b));
        const float dmin = fp16_to_fp32(load_u16(b + 2));
        for (int j = 0; j < 8; ++j) {
            uint8_t sc, m;
            unpack_scale_min_k4(j, b + 4, sc, m);
            const float dl = d * static_cast<float>(sc);
            const float ml = dmin * static_cast<float>(m);
            const uint8_t* q = b + 16 + 32 * (j / 2);
            const int shift = 4 * (j % 2);
            for (int l = 0; l < 32; ++l) y[32 * j + l] = dl * static_cast<float>((q[l] >> shift) & 0xF) - ml;
        }
    });
}

void dequantize_q5_K(std::span<const uint8_t> src, std::span<float> dst) {
    for_each_dequant_block(src, dst, kQ5Bytes, [](const uint8_t* b, float* y) {
        const float d = fp16_to_fp32(load_u16(b));
        const float dmin = fp16_to_fp32(load_u16(b + 2));
        const uint8_t* qh = b + 16;
        for (int j = 0; j < 8; ++j) {
            uint8_t sc, m;
            unpack_scale_min_k4(j, b + 4, sc, m);
            const float dl = d * static_cast<float>(sc);
            const float ml = dmin * static_cast<float>(m);
            const uint8_t* ql = b + 48 + 32 * (j / 2);
            const int shift = 4 * (j % 2);
            for (int l = 0; l < 32; ++l) {
                const int q = ((ql[l] >> shift) & 0xF) + (((qh[l] >> j) & 1) << 4);
                y[32 * j + l] = dl * static_cast<float>(q) - ml;
            }
        }
    });
}

void dequantize_q6_K(std::span<const uint8_t> src, std::span<float> dst) {
    for_each_dequant_block(src, dst, kQ6Bytes, [](const uint8_t* b, float* y) {
        const float d = fp16_to_fp32(load_u16(b + 208));
        const auto* sc = reinterpret_cast<const int8_t*>(b + 192);
        for (int e = 0; e < QK; ++e) {
            const int half = e / 128, k = (e % 128) / 32, l = e % 32;
            const uint8_t lo_byte = b[64 * half + l + 32 * (k % 2)];
            const int lo4 = k >= 2 ? lo_byte >> 4 : lo_byte & 0xF;
            const int hi2 = (b[128 + 32 * half + l] >> (2 * k)) & 3;
            y[e] = d * static_cast<float>(sc[e / 16]) * static_cast<float>((lo4 | (hi2 << 4)) - 32);
        }
    });
}

}  // namespace llmq::quant
