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
};

// Multi-threaded over the process pool, dispatched on active_isa().
void sgemm(const GemmArgs& g);

}  // namespace saekit
