// Per-row kernels of SAE training: ReLU codes as sparse rows, and the unit-norm decoder constraint.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#include "ops.h"
#include "thread_pool.h"

namespace saekit {
namespace {
constexpr long kMinElementsPerThread = 1 << 15;
long min_rows(long cols) { return std::max<long>(1, kMinElementsPerThread / std::max<long>(1, cols)); }
}  // namespace

long positive_rows_to_sparse(const float* x, long rows, long cols, long k, float* values, int32_t* indices,
                             int32_t* counts) {
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
      long n = 0;
      for (long c = 0; c < cols; ++c) {
        if (xr[c] > 0.f) {
          if (n < k) {
            vr[n] = xr[c];
            ir[n] = static_cast<int32_t>(c);
          }
          ++n;
        }
      }
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
