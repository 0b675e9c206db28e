// Numeric kernels of the forward pass. Every dot product is summed in one fixed order (eight
// interleaved partial sums, k ≡ lane mod 8, then a fixed pairwise reduction, then the tail in
// order) with separate multiply and add, so a result depends neither on the thread count nor on
// whether the build uses AVX2, SSE or wasm SIMD128.
#pragma once

#include <cstdint>
#include <span>

#include "llmq/jobs/host.hpp"
#include "llmq/runtime/weights.hpp"

namespace llmq::runtime {

float dot(const float* a, const float* b, int64_t n);

// y[t * n_out + o] = dot(row o of w, x[t * n_in ...]) for t < n_tokens, with x first rounded to
// the grid the weight's type meets under `numerics` (activations.hpp). Rows are decoded from the
// stored type a block at a time; the blocks are spread over parallel.
void matmul(const Matrix& w, std::span<const float> x, int64_t n_tokens, std::span<float> y, ParallelFor& parallel,
            Numerics numerics = Numerics::Exact);

// y = x / sqrt(mean(x^2) + eps) * w over n elements (the sum of squares in double, in order).
void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps);

// g[i] = silu(g[i]) * u[i].
void swiglu(float* g, const float* u, int64_t n);

// y[i] += x[i].
void add_to(float* y, const float* x, int64_t n);

// out[d] += p * v[d] for d < n (used to accumulate attention values; per-element order fixed).
void axpy(float p, const float* v, float* out, int64_t n);

}  // namespace llmq::runtime
