// Target attributes for per-function instruction sets: one build runs on any x86-64 and picks at run time.
#pragma once
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SAEKIT_X86 1
#define SAEKIT_TARGET_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")))
#define SAEKIT_TARGET_AVX2 __attribute__((target("avx2,fma")))
// The lanes of a 16-float vector that hold the last `left` columns of a row (all 16 when left ≥ 16).
inline __mmask16 tail_mask(long left) {
  return left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << left) - 1);
}
#else
#define SAEKIT_X86 0
#define SAEKIT_TARGET_AVX512
#define SAEKIT_TARGET_AVX2
#endif
