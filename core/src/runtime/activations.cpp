// Activation grids: what ggml's quantize_row_q8_0 / q8_1 / q8_K and its fp16/bf16 conversions
// leave of a float row, written back as floats. Products of these values with the decoded weights
// sum to llama.cpp's integer dot products up to float rounding (its d_w·d_a·Σq_w·q_a is the same
// number, associated differently).
#include "runtime/activations.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "quant/float_kernels.hpp"
#include "quant/scalar.hpp"

namespace llmq::runtime {
namespace {

// ggml's x86 quantize_row_q8_0/q8_1 (the AVX path every x86 build of llama.cpp takes): the
// reciprocal 127/amax in float, rounding half to even, the scale kept as fp16. (Q8_1's block sum
// s = fp16(d·Σq) enters only q4_1/q5_1's min term, where it differs from d·Σq by one fp16 rounding:
// that term is left as the decoded weights give it.)
void round_q8_0(const float* x, float* out, int64_t n) {
    for (int64_t b = 0; b < n; b += 32) {
        float amax = 0.0f;
        for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b + j]));
        const float d = quant::fp16_to_fp32(quant::fp32_to_fp16(amax / 127.0f));
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        for (int j = 0; j < 32; ++j) out[b + j] = d * std::nearbyint(x[b + j] * id);
    }
}

// ggml's quantize_row_q8_K: the signed value of largest magnitude (the first one) maps to -127,
// codes by nearest_int, clamped to 127, scale d = 1/iscale in float.
void round_q8_k(const float* x, float* out, int64_t n) {
    for (int64_t b = 0; b < n; b += 256) {
        float max = 0.0f, amax = 0.0f;
        for (int j = 0; j < 256; ++j) {
            const float ax = std::fabs(x[b + j]);
            if (ax > amax) {
                amax = ax;
                max = x[b + j];
            }
        }
        if (amax == 0.0f) {
            std::fill_n(out + b, 256, 0.0f);
            continue;
        }
        const float iscale = -127.0f / max;
        const float d = 1.0f / iscale;
        for (int j = 0; j < 256; ++j) out[b + j] = d * static_cast<float>(std::min(127, quant::nearest_int(iscale * x[b + j])));
    }
}

void round_half(const float* x, float* out, int64_t n) {
    thread_local std::vector<uint8_t> half;
    half.resize(static_cast<size_t>(2 * n));
    quant::floats::f32_to_f16(x, half.data(), static_cast<size_t>(n));
    quant::floats::f16_to_f32(half.data(), out, static_cast<size_t>(n));
}

void round_bf16(const float* x, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = quant::bf16_to_fp32(quant::fp32_to_bf16(x[i]));
}

}  // namespace

ActivationGrid activation_grid(GgmlType weight, Numerics numerics) {
    if (weight == GgmlType::F16) return ActivationGrid::Half;
    if (numerics == Numerics::Exact) return ActivationGrid::None;
    switch (weight) {
        case GgmlType::F32:
            return ActivationGrid::None;
        case GgmlType::BF16:
            return ActivationGrid::BFloat16;
        case GgmlType::Q4_1:
        case GgmlType::Q5_1:
            return ActivationGrid::Q8_1;
        case GgmlType::Q4_0:
        case GgmlType::Q5_0:
        case GgmlType::Q8_0:
        case GgmlType::IQ4_NL:
        case GgmlType::MXFP4:
        case GgmlType::NVFP4:
        case GgmlType::Q1_0:
        case GgmlType::Q2_0:
            return ActivationGrid::Q8_0;
        default:
            return ActivationGrid::Q8_K;  // every 256-block k-, i- and ternary quant
    }
}

int64_t grid_block(ActivationGrid grid) {
    switch (grid) {
        case ActivationGrid::Q8_0:
        case ActivationGrid::Q8_1:
            return 32;
        case ActivationGrid::Q8_K:
            return 256;
        default:
            return 1;
    }
}

void round_activations(ActivationGrid grid, const float* x, float* out, int64_t n) {
    switch (grid) {
        case ActivationGrid::None:
            if (out != x) std::copy_n(x, n, out);
            return;
        case ActivationGrid::Half:
            round_half(x, out, n);
            return;
        case ActivationGrid::BFloat16:
            round_bf16(x, out, n);
            return;
        case ActivationGrid::Q8_0:
        case ActivationGrid::Q8_1:
            round_q8_0(x, out, n);
            return;
        case ActivationGrid::Q8_K:
            round_q8_k(x, out, n);
            return;
    }
}

}  // namespace llmq::runtime
