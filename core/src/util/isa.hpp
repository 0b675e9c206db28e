// Code compiled once per instruction-set level (CMakeLists.txt: core/src/isa and the codecs' SIMD
// files are built again with AVX2/AVX-512 flags and -DLLMQ_ISA=avx2|avx512). LLMQ_ISA names the
// namespace that keeps each level's exported functions apart; LLMQ_ISA_INLINE is an inline
// namespace for the inline functions of shared headers, so that a level's copy (compiled with
// its wider instructions) never stands in for the baseline's at link time.
#pragma once

#if !defined(LLMQ_ISA)
#define LLMQ_ISA portable
#endif

#define LLMQ_ISA_JOIN2(a, b) a##_##b
#define LLMQ_ISA_JOIN(a, b) LLMQ_ISA_JOIN2(a, b)
#define LLMQ_ISA_INLINE LLMQ_ISA_JOIN(compiled_for, LLMQ_ISA)
