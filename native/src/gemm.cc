// BLIS/GotoBLAS-style SGEMM: pack panels of op(A) (MR rows, alpha folded in) and op(B) (NR columns), block for
// the caches (KC×NR micro-panel of B in L1, MC×KC block of A in L2, KC×NC block of B in L3), and run a
// register-tiled micro-kernel that keeps the MR×NR tile of C in registers for the whole KC loop.
// Transposes are absorbed by the packing, so the micro-kernels see one layout. Threads split C into disjoint
// column (or row) ranges, each with its own packing buffers: no synchronisation inside a call.
#include "gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "aligned_buffer.h"
#include "bf16.h"
#include "cpu.h"
#include "simd.h"
#include "thread_pool.h"

namespace saekit {
namespace {

// How a micro-kernel writes its tile: overwrite, accumulate, or scale C by beta first.
enum StoreMode { kStore = 0, kAccumulate = 1, kScaleAccumulate = 2 };

using MicroKernel = void (*)(long kc, const float* a, const float* b, float* c, long ldc, int mode, float beta);

struct Blocking {
  int mr, nr;
  long kc, mc, nc;
  MicroKernel kernel;
};

// ---- packing --------------------------------------------------------------------------------------------

// op(A)[i0:i0+mc, p0:p0+kc] → panels of mr rows: dst[panel·mr·kc + k·mr + r], zero-padded, scaled by alpha.
void pack_a(const GemmArgs& g, int mr, long i0, long mc, long p0, long kc, float* dst) {
  for (long ip = 0; ip < mc; ip += mr) {
    const long rows = std::min<long>(mr, mc - ip);
    float* d = dst + ip * kc;
    if (!g.trans_a) {
      // A is M×K: each panel row is contiguous along k.
      for (long r = 0; r < rows; ++r) {
        const float* src = g.a + (i0 + ip + r) * g.lda + p0;
        for (long k = 0; k < kc; ++k) d[k * mr + r] = g.alpha * src[k];
      }
    } else {
      // A is K×M: for each k the panel's rows are contiguous.
      for (long k = 0; k < kc; ++k) {
        const float* src = g.a + (p0 + k) * g.lda + i0 + ip;
        for (long r = 0; r < rows; ++r) d[k * mr + r] = g.alpha * src[r];
      }
    }
    if (rows < mr) {
      for (long k = 0; k < kc; ++k)
        for (long r = rows; r < mr; ++r) d[k * mr + r] = 0.f;
    }
  }
}

// op(B)[p0:p0+kc, j0:j0+nc] → panels of nr columns: dst[panel·nr·kc + k·nr + c], zero-padded.
void pack_b(const GemmArgs& g, int nr, long j0, long nc, long p0, long kc, float* dst) {
  for (long jp = 0; jp < nc; jp += nr) {
    const long cols = std::min<long>(nr, nc - jp);
    float* d = dst + jp * kc;
    if (!g.trans_b) {
      // B is K×N: each k row of the panel is contiguous.
      for (long k = 0; k < kc; ++k) {
        const float* src = g.b + (p0 + k) * g.ldb + j0 + jp;
        float* dk = d + k * nr;
        std::memcpy(dk, src, sizeof(float) * cols);
        for (long c = cols; c < nr; ++c) dk[c] = 0.f;
      }
    } else {
      // B is N×K: read each column contiguously along k; the strided writes stay inside an L1-sized panel.
      for (long c = 0; c < cols; ++c) {
        const float* src = g.b + (j0 + jp + c) * g.ldb + p0;
        for (long k = 0; k < kc; ++k) d[k * nr + c] = src[k];
      }
      for (long c = cols; c < nr; ++c)
        for (long k = 0; k < kc; ++k) d[k * nr + c] = 0.f;
    }
  }
}

// Writes a partial tile computed into tmp (ld = nr) into C.
void merge_tile(const float* tmp, int nr, float* c, long ldc, long rows, long cols, int mode, float beta) {
  for (long r = 0; r < rows; ++r) {
    float* cr = c + r * ldc;
    const float* tr = tmp + r * nr;
    for (long j = 0; j < cols; ++j) {
      if (mode == kStore) cr[j] = tr[j];
      else if (mode == kAccumulate) cr[j] += tr[j];
      else cr[j] = beta * cr[j] + tr[j];
    }
  }
}

// ---- micro-kernels --------------------------------------------------------------------------------------

#if SAEKIT_X86
#define SAEKIT_ROWS12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define SAEKIT_ROWS6(X) X(0) X(1) X(2) X(3) X(4) X(5)

SAEKIT_TARGET_AVX512 inline void store_row512(float* c, __m512 lo, __m512 hi, int mode, __m512 beta) {
  if (mode == kAccumulate) {
    lo = _mm512_add_ps(lo, _mm512_loadu_ps(c));
    hi = _mm512_add_ps(hi, _mm512_loadu_ps(c + 16));
  } else if (mode == kScaleAccumulate) {
    lo = _mm512_fmadd_ps(beta, _mm512_loadu_ps(c), lo);
    hi = _mm512_fmadd_ps(beta, _mm512_loadu_ps(c + 16), hi);
  }
  _mm512_storeu_ps(c, lo);
  _mm512_storeu_ps(c + 16, hi);
}

// 12×32 tile: 24 zmm accumulators + 2 B vectors + 1 broadcast of A.
SAEKIT_TARGET_AVX512 void kernel_avx512_12x32(long kc, const float* __restrict a, const float* __restrict b,
                                              float* __restrict c, long ldc, int mode, float beta) {
#define SAEKIT_DECL(i) __m512 c##i##lo = _mm512_setzero_ps(), c##i##hi = _mm512_setzero_ps();
  SAEKIT_ROWS12(SAEKIT_DECL)
#undef SAEKIT_DECL
  for (long k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
    _mm_prefetch(reinterpret_cast<const char*>(b + 256), _MM_HINT_T0);
#define SAEKIT_FMA(i)                               \
  {                                                 \
    const __m512 ai = _mm512_set1_ps(a[i]);         \
    c##i##lo = _mm512_fmadd_ps(ai, b0, c##i##lo);   \
    c##i##hi = _mm512_fmadd_ps(ai, b1, c##i##hi);   \
  }
    SAEKIT_ROWS12(SAEKIT_FMA)
#undef SAEKIT_FMA
    a += 12;
    b += 32;
  }
  const __m512 vbeta = _mm512_set1_ps(beta);
#define SAEKIT_STORE(i) store_row512(c + (i) * ldc, c##i##lo, c##i##hi, mode, vbeta);
  SAEKIT_ROWS12(SAEKIT_STORE)
#undef SAEKIT_STORE
}

SAEKIT_TARGET_AVX2 inline void store_row256(float* c, __m256 lo, __m256 hi, int mode, __m256 beta) {
  if (mode == kAccumulate) {
    lo = _mm256_add_ps(lo, _mm256_loadu_ps(c));
    hi = _mm256_add_ps(hi, _mm256_loadu_ps(c + 8));
  } else if (mode == kScaleAccumulate) {
    lo = _mm256_fmadd_ps(beta, _mm256_loadu_ps(c), lo);
    hi = _mm256_fmadd_ps(beta, _mm256_loadu_ps(c + 8), hi);
  }
  _mm256_storeu_ps(c, lo);
  _mm256_storeu_ps(c + 8, hi);
}

// 6×16 tile: 12 ymm accumulators.
SAEKIT_TARGET_AVX2 void kernel_avx2_6x16(long kc, const float* __restrict a, const float* __restrict b,
                                         float* __restrict c, long ldc, int mode, float beta) {
#define SAEKIT_DECL(i) __m256 c##i##lo = _mm256_setzero_ps(), c##i##hi = _mm256_setzero_ps();
  SAEKIT_ROWS6(SAEKIT_DECL)
#undef SAEKIT_DECL
  for (long k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
#define SAEKIT_FMA(i)                               \
  {                                                 \
    const __m256 ai = _mm256_broadcast_ss(a + i);   \
    c##i##lo = _mm256_fmadd_ps(ai, b0, c##i##lo);   \
    c##i##hi = _mm256_fmadd_ps(ai, b1, c##i##hi);   \
  }
    SAEKIT_ROWS6(SAEKIT_FMA)
#undef SAEKIT_FMA
    a += 6;
    b += 16;
  }
  const __m256 vbeta = _mm256_set1_ps(beta);
#define SAEKIT_STORE(i) store_row256(c + (i) * ldc, c##i##lo, c##i##hi, mode, vbeta);
  SAEKIT_ROWS6(SAEKIT_STORE)
#undef SAEKIT_STORE
}
#endif

// Portable 4×16 tile; plain loops the compiler can vectorise with the baseline instruction set.
void kernel_scalar_4x16(long kc, const float* __restrict a, const float* __restrict b, float* __restrict c,
                        long ldc, int mode, float beta) {
  float acc[4][16] = {};
  for (long k = 0; k < kc; ++k) {
    for (int r = 0; r < 4; ++r) {
      const float ar = a[r];
      for (int j = 0; j < 16; ++j) acc[r][j] += ar * b[j];
    }
    a += 4;
    b += 16;
  }
  for (int r = 0; r < 4; ++r) {
    float* cr = c + r * ldc;
    for (int j = 0; j < 16; ++j) {
      if (mode == kStore) cr[j] = acc[r][j];
      else if (mode == kAccumulate) cr[j] += acc[r][j];
      else cr[j] = beta * cr[j] + acc[r][j];
    }
  }
}

long env_long(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::atol(v) : 0;
}

Blocking blocking_for(Isa isa) {
#if SAEKIT_X86
  // KC = 512 keeps the C tile in registers over the whole K of the d_in = 512 products (one pass over C).
  if (isa == Isa::kAvx512) return {12, 32, 512, 480, 3072, kernel_avx512_12x32};
  if (isa == Isa::kAvx2) return {6, 16, 256, 120, 3072, kernel_avx2_6x16};
#endif
  (void)isa;
  return {4, 16, 256, 128, 2048, kernel_scalar_4x16};
}

// Cache block sizes can be tuned for other CPUs with SAEKIT_GEMM_KC / _MC / _NC (read once per ISA).
Blocking tuned_blocking(Isa isa) {
  static const long kc = env_long("SAEKIT_GEMM_KC"), mc = env_long("SAEKIT_GEMM_MC"), nc = env_long("SAEKIT_GEMM_NC");
  Blocking bl = blocking_for(isa);
  if (kc > 0) bl.kc = kc;
  if (mc > 0) bl.mc = ((mc + bl.mr - 1) / bl.mr) * bl.mr;  // whole micro-panels only
  if (nc > 0) bl.nc = ((nc + bl.nr - 1) / bl.nr) * bl.nr;
  return bl;
}

// ---- per-thread packing buffers -------------------------------------------------------------------------

thread_local AlignedBuffer<float> t_pack_a;
thread_local AlignedBuffer<float> t_pack_b;

void round_packed(float* p, long n) {
  for (long i = 0; i < n; ++i) p[i] = round_to_bf16(p[i]);
}

// C[m0:m1, n0:n1] for the whole K: the five-loop GotoBLAS structure.
void gemm_range(const GemmArgs& g, const Blocking& bl, long m0, long m1, long n0, long n1) {
  const long kc_max = std::min(bl.kc, g.k);
  const long mc_max = std::min(bl.mc, ((m1 - m0 + bl.mr - 1) / bl.mr) * bl.mr);
  const long nc_max = std::min(bl.nc, ((n1 - n0 + bl.nr - 1) / bl.nr) * bl.nr);
  float* pa = t_pack_a.get(static_cast<size_t>(mc_max * kc_max));
  float* pb = t_pack_b.get(static_cast<size_t>(nc_max * kc_max));
  alignas(64) float tmp[12 * 32];
  for (long jc = n0; jc < n1; jc += bl.nc) {
    const long nc = std::min(bl.nc, n1 - jc);
    for (long pc = 0; pc < g.k; pc += bl.kc) {
      const long kc = std::min(bl.kc, g.k - pc);
      pack_b(g, bl.nr, jc, nc, pc, kc, pb);
      if (g.round_bf16) round_packed(pb, ((nc + bl.nr - 1) / bl.nr) * bl.nr * kc);
      const int mode = pc > 0 ? kAccumulate : (g.beta == 0.f ? kStore : (g.beta == 1.f ? kAccumulate : kScaleAccumulate));
      for (long ic = m0; ic < m1; ic += bl.mc) {
        const long mc = std::min(bl.mc, m1 - ic);
        pack_a(g, bl.mr, ic, mc, pc, kc, pa);
        if (g.round_bf16) round_packed(pa, ((mc + bl.mr - 1) / bl.mr) * bl.mr * kc);
        for (long jr = 0; jr < nc; jr += bl.nr) {
          const long cols = std::min<long>(bl.nr, nc - jr);
          const float* bp = pb + jr * kc;
          for (long ir = 0; ir < mc; ir += bl.mr) {
            const long rows = std::min<long>(bl.mr, mc - ir);
            const float* ap = pa + ir * kc;
            float* cp = g.c + (ic + ir) * g.ldc + jc + jr;
            if (rows == bl.mr && cols == bl.nr) {
              bl.kernel(kc, ap, bp, cp, g.ldc, mode, g.beta);
            } else {
              bl.kernel(kc, ap, bp, tmp, bl.nr, kStore, 0.f);
              merge_tile(tmp, bl.nr, cp, g.ldc, rows, cols, mode, g.beta);
            }
          }
        }
      }
    }
  }
}

void scale_c(const GemmArgs& g) {
  for (long i = 0; i < g.m; ++i) {
    float* row = g.c + i * g.ldc;
    if (g.beta == 0.f) std::fill(row, row + g.n, 0.f);
    else if (g.beta != 1.f)
      for (long j = 0; j < g.n; ++j) row[j] *= g.beta;
  }
}

}  // namespace

void sgemm(const GemmArgs& g) {
  if (g.m <= 0 || g.n <= 0) return;
  if (g.k <= 0 || g.alpha == 0.f) {
    scale_c(g);  // BLAS semantics: C = beta·C when the product vanishes
    return;
  }
  if (g.m * g.n <= 4) {
    // Dot-product-shaped calls (e.g. gradient norms: 1×1×K) would pay for packing a whole tile per element.
    for (long i = 0; i < g.m; ++i)
      for (long j = 0; j < g.n; ++j) {
        double s = 0;
        for (long p = 0; p < g.k; ++p)
          s += static_cast<double>(g.trans_a ? g.a[p * g.lda + i] : g.a[i * g.lda + p]) *
               (g.trans_b ? g.b[j * g.ldb + p] : g.b[p * g.ldb + j]);
        float& c = g.c[i * g.ldc + j];
        c = g.alpha * static_cast<float>(s) + (g.beta == 0.f ? 0.f : g.beta * c);
      }
    return;
  }
  const Blocking bl = tuned_blocking(active_isa());
  std::shared_ptr<ThreadPool> p = pool();
  const double flops = 2.0 * static_cast<double>(g.m) * static_cast<double>(g.n) * static_cast<double>(g.k);
  const long col_panels = (g.n + bl.nr - 1) / bl.nr, row_panels = (g.m + bl.mr - 1) / bl.mr;
  // Threads only pay off above a few MFLOP (waking a worker costs microseconds).
  int parts = flops < 4.0e6 ? 1 : p->threads();
  const bool split_cols = col_panels >= row_panels;
  parts = static_cast<int>(std::min<long>(parts, split_cols ? col_panels : row_panels));
  if (parts <= 1) {
    gemm_range(g, bl, 0, g.m, 0, g.n);
    return;
  }
  p->parallel_for(parts, [&](int t, int) {
    if (split_cols) {
      const long begin = col_panels * t / parts * bl.nr, end = std::min(g.n, col_panels * (t + 1) / parts * bl.nr);
      if (begin < end) gemm_range(g, bl, 0, g.m, begin, end);
    } else {
      const long begin = row_panels * t / parts * bl.mr, end = std::min(g.m, row_panels * (t + 1) / parts * bl.mr);
      if (begin < end) gemm_range(g, bl, begin, end, 0, g.n);
    }
  });
}

}  // namespace saekit
