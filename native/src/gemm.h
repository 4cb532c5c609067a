// Single-precision GEMM, row-major: C = alpha·op(A)·op(B) + beta·C.
#pragma once

namespace saekit {

struct GemmArgs {
  bool trans_a, trans_b;
  long m, n, k;
  float alpha;
  const float* a;
  long lda;
  const float* b;
  long ldb;
  float beta;
  float* c;
  long ldc;
  // Round the packed operands to bf16 (nearest even) before the fp32 micro-kernels: the emulated bf16 path,
  // numerically bf16 inputs with float32 accumulation like the hardware paths.
  bool round_bf16 = false;
};

// Multi-threaded over the process pool, dispatched on active_isa().
void sgemm(const GemmArgs& g);

// bf16 products with float32 accumulation (C, alpha, beta stay float32), on active_bf16_path(). Dot-shaped
// calls (M·N ≤ 4) stay on the float32 path.
void gemm_bf16(const GemmArgs& g);

}  // namespace saekit
