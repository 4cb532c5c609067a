// The AVX512-BF16 building blocks of gemm_bf16.cc (operand packing and the 12×32 micro-kernel), shared with fused
// kernels that run their own loops over packed panels (unembed_ce.cc). Layouts are described in gemm_bf16.cc:
//   B panels: 32 columns, k in pairs: b[(k/2)·64 + 2·col + k%2], panel of column j0 at j0·kcp;
//   A panels: 12 rows, k in pairs: a[(k/2)·24 + 2·row + k%2], panel of row i0 at i0·kcp.
// A range of k-pairs [p0, p1) of a panel is contiguous (offset p0·64 for B, p0·24 for A).
#pragma once
#include <cstdint>

#include "gemm.h"
#include "simd.h"

#if SAEKIT_X86
#define SAEKIT_TARGET_BF16 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx512bf16,avx2,fma")))
#endif

namespace saekit {
namespace bf16k {

enum StoreMode { kStore = 0, kAccumulate = 1, kScaleAccumulate = 2 };
constexpr int kNr = 32;
constexpr int kMrPairs = 12;

#if SAEKIT_X86
// op(B)[p0:p0+kc, j0:j0+nc] → 32-column panels of k-pairs at dst; pairs past kc/2 up to kcp/2 are zeros.
SAEKIT_TARGET_BF16 void pack_b(const GemmArgs& g, long j0, long nc, long p0, long kc, long kcp, uint16_t* dst);
// alpha·op(A)[i0:i0+mc, p0:p0+kc] → 12-row panels of k-pairs (rows past mc are zeros; pairs past kc up to kcp
// are not written, so a caller packing kc < kcp clears dst first).
SAEKIT_TARGET_BF16 void pack_a_pairs(const GemmArgs& g, long i0, long mc, long p0, long kc, long kcp, uint16_t* dst);
// C[12 × 32] (=, += or beta·C +) a 12-row A panel · a 32-column B panel over kpairs k-pairs; all 12 rows and
// 32 columns of C are written.
SAEKIT_TARGET_BF16 void kernel_bf16_12x32(long kpairs, const uint16_t* __restrict a, const uint16_t* __restrict b,
                                          float* __restrict c, long ldc, int mode, float beta);
#endif

}  // namespace bf16k
}  // namespace saekit
