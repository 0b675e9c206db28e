// Selects the I-quant search kernels (iq_search.hpp): true (default) = SIMD, false = scalar. Both
// give identical bytes; the switch exists for tests and benchmarks. Process-wide. Kept free of
// other includes so that benchmarks outside the core can use it.
#pragma once

namespace llmq::quant {
void set_iquant_simd(bool enabled);
bool iquant_simd_enabled();
}  // namespace llmq::quant
