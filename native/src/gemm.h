// Single-precision GEMM, row-major: C = alpha·op(A)·op(B) + beta·C.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "cpu.h"

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

// op(B) (K×N) converted and packed once for the active bf16 path, for products that reuse one B (e.g. the
// unembedding over row chunks): gemm_bf16_packed then skips B's packing. B must stay unchanged while the pack is
// used (it still serves the dot-shaped and emulated cases, which read B itself).
struct PackedB {
  struct Free {
    void operator()(uint16_t* p) const { std::free(p); }
  };
  Bf16Path path = Bf16Path::kEmulated;
  bool trans_b = false;
  long k = 0, n = 0;
  const float* b = nullptr;
  long ldb = 0;
  std::vector<size_t> block_offset;            // start of each K block's panels
  std::unique_ptr<uint16_t, Free> data;        // null on the emulated path
};
std::unique_ptr<PackedB> pack_b_bf16(bool trans_b, long k, long n, const float* b, long ldb);
void gemm_bf16_packed(const GemmArgs& g, const PackedB& packed);

}  // namespace saekit
