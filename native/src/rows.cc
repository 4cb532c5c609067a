// Per-row kernels of SAE training: ReLU codes as sparse rows, and the unit-norm decoder constraint.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#include "cpu.h"
#include "ops.h"
#include "simd.h"
#include "thread_pool.h"

namespace saekit {
namespace {
constexpr long kMinElementsPerThread = 1 << 15;
long min_rows(long cols) { return std::max<long>(1, kMinElementsPerThread / std::max<long>(1, cols)); }

// Positive entries of columns [c0, cols) appended after the n already found; returns the new count (slots
// beyond k are counted, not written).
long positive_row_scalar(const float* xr, long c0, long cols, long k, float* vr, int32_t* ir, long n) {
  for (long c = c0; c < cols; ++c) {
    if (xr[c] > 0.f) {
      if (n < k) {
        vr[n] = xr[c];
        ir[n] = static_cast<int32_t>(c);
      }
      ++n;
    }
  }
  return n;
}

#if SAEKIT_X86
// 16 columns at a time: a compare mask, then compress-stores of the positive values and their column indices.
SAEKIT_TARGET_AVX512 long positive_row_avx512(const float* xr, long cols, long k, float* vr, int32_t* ir) {
  const __m512 zero = _mm512_setzero_ps();
  const __m512i step = _mm512_set1_epi32(16);
  __m512i col = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  long n = 0;
  long c = 0;
  for (; c + 16 <= cols; c += 16) {
    const __m512 v = _mm512_loadu_ps(xr + c);
    const __mmask16 m = _mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ);
    if (m) {
      const long p = __builtin_popcount(static_cast<unsigned>(m));
      if (n + p <= k) {
        _mm512_mask_compressstoreu_ps(vr + n, m, v);
        _mm512_mask_compressstoreu_epi32(ir + n, m, col);
      } else {
        long w = n;
        for (int l = 0; l < 16; ++l) {
          if (((m >> l) & 1) && w < k) {
            vr[w] = xr[c + l];
            ir[w] = static_cast<int32_t>(c + l);
          }
          if ((m >> l) & 1) ++w;
        }
      }
      n += p;
    }
    col = _mm512_add_epi32(col, step);
  }
  return positive_row_scalar(xr, c, cols, k, vr, ir, n);
}
#endif
}  // namespace

long positive_rows_to_sparse(const float* x, long rows, long cols, long k, float* values, int32_t* indices,
                             int32_t* counts) {
  const Isa isa = active_isa();
  (void)isa;
  long most = 0;
  std::vector<long> part_most(static_cast<size_t>(pool()->threads()) + 1, 0);
  std::shared_ptr<ThreadPool> p = pool();
  const int parts = static_cast<int>(std::min<long>(p->threads(), std::max<long>(1, rows * cols / kMinElementsPerThread)));
  p->parallel_for(parts, [&](int t, int) {
    const long r0 = rows * t / parts, r1 = rows * (t + 1) / parts;
    long m = 0;
    for (long r = r0; r < r1; ++r) {
      const float* xr = x + r * cols;
      float* vr = values + r * k;
      int32_t* ir = indices + r * k;
#if SAEKIT_X86
      const long n = isa == Isa::kAvx512 ? positive_row_avx512(xr, cols, k, vr, ir) : positive_row_scalar(xr, 0, cols, k, vr, ir, 0);
#else
      const long n = positive_row_scalar(xr, 0, cols, k, vr, ir, 0);
#endif
      for (long j = n; j < k; ++j) {
        vr[j] = 0.f;
        ir[j] = -1;
      }
      counts[r] = static_cast<int32_t>(n);
      m = std::max(m, n);
    }
    part_most[static_cast<size_t>(t)] = m;
  });
  for (long m : part_most) most = std::max(most, m);
  return most;
}

void project_out_rows(float* g, const float* w, long rows, long cols) {
  parallel_chunks(rows, min_rows(cols), [&](long r0, long r1) {
    for (long r = r0; r < r1; ++r) {
      float* gr = g + r * cols;
      const float* wr = w + r * cols;
      float dot = 0.f, norm2 = 0.f;
#pragma omp simd reduction(+ : dot, norm2)
      for (long c = 0; c < cols; ++c) {
        dot += gr[c] * wr[c];
        norm2 += wr[c] * wr[c];
      }
      if (norm2 == 0.f) continue;
      const float s = dot / norm2;
#pragma omp simd
      for (long c = 0; c < cols; ++c) gr[c] -= s * wr[c];
    }
  });
}

void normalize_rows(float* w, long rows, long cols, float* norms) {
  parallel_chunks(rows, min_rows(cols), [&](long r0, long r1) {
    for (long r = r0; r < r1; ++r) {
      float* wr = w + r * cols;
      float norm2 = 0.f;
#pragma omp simd reduction(+ : norm2)
      for (long c = 0; c < cols; ++c) norm2 += wr[c] * wr[c];
      const float norm = std::sqrt(norm2);
      if (norms) norms[r] = norm;
      if (norm == 0.f) continue;
      const float inv = 1.f / norm;
#pragma omp simd
      for (long c = 0; c < cols; ++c) wr[c] *= inv;
    }
  });
}

}  // namespace saekit
