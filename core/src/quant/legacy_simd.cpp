// xsimd twins of the scalar legacy kernels in legacy.cpp, bit-identical by construction: the
// same element-wise float operations in the same order (each exactly rounded, no contraction),
// and only order-independent reductions (max/min over finite values). A block whose reduction
// could depend on evaluation order (NaN, inf, or a ±0 extreme whose sign ggml takes from the
// first occurrence) goes to the scalar kernel instead.
#include <array>
#include <bit>
#include <cfloat>

#include "quant/legacy_kernels.hpp"
#include "quant/scalar.hpp"
#include "quant/simd.hpp"

namespace llmq::quant::legacy {

#if LLMQ_SIMD
namespace {

using simd::F;
using simd::I;
using simd::N;
constexpr int K = kBlock / N;  // batches per block
static_assert(K * N == kBlock && K % 2 == 0, "a block must split into an even number of batches");
constexpr int H = K / 2;  // batches per half block (elements 0-15, 16-31)

struct Block {
    std::array<F, K> v;
    explicit Block(const float* x) {
        for (int k = 0; k < K; ++k) v[k] = F::load_unaligned(x + k * N);
    }
};

// Largest |x| of a block; false when the block holds inf or NaN.
bool finite_absmax(const Block& b, float& amax) {
    F m = xsimd::abs(b.v[0]);
    auto finite = m <= F(FLT_MAX);
    for (int k = 1; k < K; ++k) {
        const F a = xsimd::abs(b.v[k]);
        m = xsimd::max(m, a);
        finite = finite & (a <= F(FLT_MAX));
    }
    if (!xsimd::all(finite)) return false;
    amax = simd::hmax(m);
    return true;
}

// Smallest and largest value; false when the block holds inf or NaN or an extreme is ±0.
bool finite_min_max(const Block& b, float& min, float& max) {
    F lo = b.v[0], hi = b.v[0];
    auto finite = xsimd::abs(b.v[0]) <= F(FLT_MAX);
    for (int k = 1; k < K; ++k) {
        lo = xsimd::min(lo, b.v[k]);
        hi = xsimd::max(hi, b.v[k]);
        finite = finite & (xsimd::abs(b.v[k]) <= F(FLT_MAX));
    }
    if (!xsimd::all(finite)) return false;
    min = simd::hmin(lo);
    max = simd::hmax(hi);
    return min != 0.0f && max != 0.0f;
}

// ggml's signed max-abs value: the first element of largest magnitude (+0 for an all-zero block).
float first_of_magnitude(const Block& b, const float* x, float amax) {
    if (amax == 0.0f) return 0.0f;
    uint32_t hits = 0;  // bit j: |x[j]| == amax; built without branches (the position is random)
    for (int k = 0; k < K; ++k) hits |= simd::movemask(xsimd::abs(b.v[k]) == F(amax)) << (k * N);
    return hits != 0 ? x[std::countr_zero(hits)] : 0.0f;  // never 0: amax is one of the |x[j]|
}

// truncate_to_i32 lane-wise: x86 cvttps2dq semantics on every target (wasm's saturates).
I truncate(F v) {
    const auto in_range = (v >= F(-2147483648.0f)) & (v < F(2147483648.0f));
    return xsimd::select(xsimd::bool_cast(in_range), xsimd::to_int(v), I(INT32_MIN));
}

// roundf (half away from zero) exactly: v - trunc(v) is exact, so is the ±1 correction.
F round_half_away(F v) {
    const F t = xsimd::trunc(v);
    const F one = xsimd::bitwise_or(F(1.0f), xsimd::bitwise_and(v, F(-0.0f)));
    return t + xsimd::select(xsimd::abs(v - t) >= F(0.5f), one, F(0.0f));
}

// (int8_t)truncate(v) then MIN(cap, ·), in int32 lanes.
I clamped_code(F v, int cap) {
    return xsimd::min((truncate(v) << 24) >> 24, I(cap));
}

// 32 codes (lo: elements 0-15, hi: 16-31) as nibbles + a 32-bit mask of their bit 4 (Q5 layout).
void pack_q5(const std::array<I, H>& lo, const std::array<I, H>& hi, uint8_t* qh_out, uint8_t* qs) {
    std::array<I, H> nibbles;
    uint32_t qh = 0;
    for (int k = 0; k < H; ++k) {
        nibbles[k] = (lo[k] & I(0x0F)) | ((hi[k] & I(0x0F)) << 4);
        qh |= simd::sign_bits(lo[k] << 27) << (k * N);  // bit 4 → sign bit → mask bit
        qh |= simd::sign_bits(hi[k] << 27) << (16 + k * N);
    }
    store_u32(qh_out, qh);
    simd::store_low_bytes(nibbles.data(), H, qs);
}

// ---- quantizers ----------------------------------------------------------------------------

void quantize_q4_0(const float* x, uint8_t* y, int64_t nblocks) {
    for (int64_t b = 0; b < nblocks; ++b, x += kBlock, y += kQ4_0Bytes) {
        const Block blk(x);
        float amax;
        if (!finite_absmax(blk, amax)) {
            scalar_kernels().quantize_q4_0(x, y, 1);
            continue;
        }
        const float d = first_of_magnitude(blk, x, amax) / -8.0f;
        const F id(d != 0.0f ? 1.0f / d : 0.0f);
        store_u16(y, simd::fp16_bits_not_nan(d));
        std::array<I, H> q;
        for (int k = 0; k < H; ++k) {
            q[k] = clamped_code(blk.v[k] * id + F(8.5f), 15) | (clamped_code(blk.v[k + H] * id + F(8.5f), 15) << 4);
        }
        simd::store_low_bytes(q.data(), H, y + 2);
    }
}

void quantize_q4_1(const float* x, uint8_t* y, int64_t nblocks) {
    for (int64_t b = 0; b < nblocks; ++b, x += kBlock, y += kQ4_1Bytes) {
        const Block blk(x);
        float min, max;
        if (!finite_min_max(blk, min, max)) {
            scalar_kernels().quantize_q4_1(x, y, 1);
            continue;
        }
        const float d = (max - min) / 15.0f;
        const F id(d != 0.0f ? 1.0f / d : 0.0f);
        store_u16(y, simd::fp16_bits_not_nan(d));
        store_u16(y + 2, simd::fp16_bits_not_nan(min));
        std::array<I, H> q;
        for (int k = 0; k < H; ++k) {
            q[k] = clamped_code((blk.v[k] - F(min)) * id + F(0.5f), 15) | (clamped_code((blk.v[k + H] - F(min)) * id + F(0.5f), 15) << 4);
        }
        simd::store_low_bytes(q.data(), H, y + 4);
    }
}

void quantize_q5_0(const float* x, uint8_t* y, int64_t nblocks) {
    for (int64_t b = 0; b < nblocks; ++b, x += kBlock, y += kQ5_0Bytes) {
        const Block blk(x);
        float amax;
        if (!finite_absmax(blk, amax)) {
            scalar_kernels().quantize_q5_0(x, y, 1);
            continue;
        }
        const float d = first_of_magnitude(blk, x, amax) / -16.0f;
        const F id(d != 0.0f ? 1.0f / d : 0.0f);
        store_u16(y, simd::fp16_bits_not_nan(d));
        std::array<I, H> lo, hi;
        for (int k = 0; k < H; ++k) {
            lo[k] = clamped_code(blk.v[k] * id + F(16.5f), 31);
            hi[k] = clamped_code(blk.v[k + H] * id + F(16.5f), 31);
        }
        pack_q5(lo, hi, y + 2, y + 6);
    }
}

void quantize_q5_1(const float* x, uint8_t* y, int64_t nblocks) {
    for (int64_t b = 0; b < nblocks; ++b, x += kBlock, y += kQ5_1Bytes) {
        const Block blk(x);
        float min, max;
        if (!finite_min_max(blk, min, max)) {
            scalar_kernels().quantize_q5_1(x, y, 1);
            continue;
        }
        const float d = (max - min) / 31.0f;
        const F id(d != 0.0f ? 1.0f / d : 0.0f);
        store_u16(y, simd::fp16_bits_not_nan(d));
        store_u16(y + 2, simd::fp16_bits_not_nan(min));
        std::array<I, H> lo, hi;
        for (int k = 0; k < H; ++k) {
            lo[k] = truncate((blk.v[k] - F(min)) * id + F(0.5f));
            hi[k] = truncate((blk.v[k + H] - F(min)) * id + F(0.5f));
        }
        pack_q5(lo, hi, y + 4, y + 8);
    }
}

void quantize_q8_0(const float* x, uint8_t* y, int64_t nblocks) {
    for (int64_t b = 0; b < nblocks; ++b, x += kBlock, y += kQ8_0Bytes) {
        const Block blk(x);
        float amax;
        if (!finite_absmax(blk, amax)) {
            scalar_kernels().quantize_q8_0(x, y, 1);
            continue;
        }
        const float d = amax / 127.0f;
        const F id(d != 0.0f ? 1.0f / d : 0.0f);
        store_u16(y, simd::fp16_bits_not_nan(d));
        std::array<I, K> q;
        for (int k = 0; k < K; ++k) q[k] = truncate(round_half_away(blk.v[k] * id));
        simd::store_low_bytes(q.data(), K, y + 2);
    }
}

// ---- dequantizers --------------------------------------------------------------------------
// int→float is exact and q·d (+ m) is the scalar code's arithmetic, lane by lane.

void store_scaled(I codes, F d, float* y) {
    (xsimd::to_float(codes) * d).store_unaligned(y);
}
void store_scaled(I codes, F d, F m, float* y) {
    (xsimd::to_float(codes) * d + m).store_unaligned(y);
}

// Per batch k of a half block: which qh bit belongs to each lane (elements kN+i, 16+kN+i).
struct HighBits {
    std::array<I, H> lo, hi;
    HighBits() {
        for (int k = 0; k < H; ++k) {
            alignas(64) int32_t l[N], h[N];
            for (int i = 0; i < N; ++i) {
                l[i] = static_cast<int32_t>(1u << (k * N + i));
                h[i] = static_cast<int32_t>(1u << (16 + k * N + i));
            }
            lo[k] = I::load_aligned(l);
            hi[k] = I::load_aligned(h);
        }
    }
};

I bit4(I qh, I mask) {
    return xsimd::select((qh & mask) != I(0), I(0x10), I(0));
}

void dequantize_q4_0(const uint8_t* x, float* y, int64_t nblocks) {
    for (int64_t b = 0; b < nblocks; ++b, x += kQ4_0Bytes, y += kBlock) {
        const F d(fp16_to_fp32(load_u16(x)));
        for (int k = 0; k < H; ++k) {
            const I q = simd::widen_u8(x + 2 + k * N);
            store_scaled((q & I(0x0F)) - I(8), d, y + k * N);
            store_scaled((q >> 4) - I(8), d, y + 16 + k * N);
        }
    }
}

void dequantize_q4_1(const uint8_t* x, float* y, int64_t nblocks) {
    for (int64_t b = 0; b < nblocks; ++b, x += kQ4_1Bytes, y += kBlock) {
        const F d(fp16_to_fp32(load_u16(x))), m(fp16_to_fp32(load_u16(x + 2)));
        for (int k = 0; k < H; ++k) {
            const I q = simd::widen_u8(x + 4 + k * N);
            store_scaled(q & I(0x0F), d, m, y + k * N);
            store_scaled(q >> 4, d, m, y + 16 + k * N);
        }
    }
}

void dequantize_q5_0(const uint8_t* x, float* y, int64_t nblocks) {
    const HighBits bits;
    for (int64_t b = 0; b < nblocks; ++b, x += kQ5_0Bytes, y += kBlock) {
        const F d(fp16_to_fp32(load_u16(x)));
        const I qh(static_cast<int32_t>(load_u32(x + 2)));
        for (int k = 0; k < H; ++k) {
            const I q = simd::widen_u8(x + 6 + k * N);
            store_scaled(((q & I(0x0F)) | bit4(qh, bits.lo[k])) - I(16), d, y + k * N);
            store_scaled(((q >> 4) | bit4(qh, bits.hi[k])) - I(16), d, y + 16 + k * N);
        }
    }
}

void dequantize_q5_1(const uint8_t* x, float* y, int64_t nblocks) {
    const HighBits bits;
    for (int64_t b = 0; b < nblocks; ++b, x += kQ5_1Bytes, y += kBlock) {
        const F d(fp16_to_fp32(load_u16(x))), m(fp16_to_fp32(load_u16(x + 2)));
        const I qh(static_cast<int32_t>(load_u32(x + 4)));
        for (int k = 0; k < H; ++k) {
            const I q = simd::widen_u8(x + 8 + k * N);
            store_scaled((q & I(0x0F)) | bit4(qh, bits.lo[k]), d, m, y + k * N);
            store_scaled((q >> 4) | bit4(qh, bits.hi[k]), d, m, y + 16 + k * N);
        }
    }
}

void dequantize_q8_0(const uint8_t* x, float* y, int64_t nblocks) {
    for (int64_t b = 0; b < nblocks; ++b, x += kQ8_0Bytes, y += kBlock) {
        const F d(fp16_to_fp32(load_u16(x)));
        for (int k = 0; k < K; ++k) store_scaled(simd::widen_i8(x + 2 + k * N), d, y + k * N);
    }
}

}  // namespace

namespace LLMQ_ISA {
const Kernels& simd_kernels() {
    static constexpr Kernels kSimd{quantize_q4_0,   quantize_q4_1,   quantize_q5_0,   quantize_q5_1,   quantize_q8_0,
                                   dequantize_q4_0, dequantize_q4_1, dequantize_q5_0, dequantize_q5_1, dequantize_q8_0};
    return kSimd;
}
}  // namespace LLMQ_ISA

#else  // no SIMD architecture: the scalar kernels are the fast path

namespace LLMQ_ISA {
const Kernels& simd_kernels() {
    return scalar_kernels();
}
}  // namespace LLMQ_ISA

#endif

}  // namespace llmq::quant::legacy
