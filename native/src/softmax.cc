// Softmax, log-softmax and the fused softmax + cross-entropy over long rows (the 50,257-token unembedding).
// exp is a branch-free polynomial the compiler vectorises (libm's expf is a scalar call per element, which made
// the vocabulary softmax the slowest part of a training step). Row bodies are compiled once per ISA.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "cpu.h"
#include "ops.h"
#include "simd.h"
#include "thread_pool.h"

namespace saekit {
namespace {

constexpr long kMinElementsPerThread = 1 << 15;
long min_rows(long cols) { return std::max<long>(1, kMinElementsPerThread / std::max<long>(1, cols)); }

// exp(x) to ~2 ulp for x in [-87.3, 88.7]; 0 below (so -inf masks give exactly 0), +inf above.
// Cody–Waite range reduction x = n·ln2 + r, |r| ≤ ln2/2, and a degree-6 polynomial for e^r.
__attribute__((always_inline)) inline float fast_exp(float x) {
  const float kLog2e = 1.44269504088896341f;
  const float kLn2Hi = 0.693359375f;
  const float kLn2Lo = -2.12194440e-4f;
  const float xc = std::min(std::max(x, -87.3f), 88.7f);
  const float n = std::nearbyint(xc * kLog2e);
  const float r = (xc - n * kLn2Hi) - n * kLn2Lo;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  float e = p * scale;
  e = x < -87.3f ? 0.f : e;
  e = x > 88.7f ? INFINITY : e;
  return e;
}

__attribute__((always_inline)) inline float row_max(const float* x, long cols) {
  float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
  for (long c = 0; c < cols; ++c) mx = std::max(mx, x[c]);
  return mx;
}

__attribute__((always_inline)) inline float row_sum_exp(const float* x, long cols, float shift) {
  float sum = 0.f;
#pragma omp simd reduction(+ : sum)
  for (long c = 0; c < cols; ++c) sum += fast_exp(x[c] - shift);
  return sum;
}

// ---- row bodies (generic; instantiated per ISA below) -------------------------------------------------------

__attribute__((always_inline)) inline void softmax_row(const float* x, float* y, long cols, bool log) {
  const float mx = row_max(x, cols);
  if (mx == -INFINITY) {
    // Fully masked row: probability 0 everywhere (log: -inf), never NaN.
    std::fill(y, y + cols, log ? -INFINITY : 0.f);
    return;
  }
  if (log) {
    const float shift = mx + std::log(row_sum_exp(x, cols, mx));
#pragma omp simd
    for (long c = 0; c < cols; ++c) y[c] = x[c] - shift;
    return;
  }
  float sum = 0.f;
#pragma omp simd reduction(+ : sum)
  for (long c = 0; c < cols; ++c) {
    const float e = fast_exp(x[c] - mx);
    y[c] = e;
    sum += e;
  }
  const float inv = 1.f / sum;
#pragma omp simd
  for (long c = 0; c < cols; ++c) y[c] *= inv;
}

__attribute__((always_inline)) inline void softmax_backward_row(const float* y, const float* dy, float* dx, long cols,
                                                                 bool log) {
  float dot = 0.f;
  if (log) {
#pragma omp simd reduction(+ : dot)
    for (long c = 0; c < cols; ++c) dot += dy[c];
#pragma omp simd
    for (long c = 0; c < cols; ++c) dx[c] = dy[c] - fast_exp(y[c]) * dot;
  } else {
#pragma omp simd reduction(+ : dot)
    for (long c = 0; c < cols; ++c) dot += dy[c] * y[c];
#pragma omp simd
    for (long c = 0; c < cols; ++c) dx[c] = y[c] * (dy[c] - dot);
  }
}

// One row of softmax cross-entropy: returns −log softmax(x)[target]; with grad, x becomes scale·(softmax − onehot).
__attribute__((always_inline)) inline float cross_entropy_row(float* x, long cols, long target, bool grad,
                                                               float scale) {
  const float mx = row_max(x, cols);
  const float lse = mx + std::log(row_sum_exp(x, cols, mx));
  const float nll = lse - x[target];
  if (grad) {
#pragma omp simd
    for (long c = 0; c < cols; ++c) x[c] = scale * fast_exp(x[c] - lse);
    x[target] -= scale;
  }
  return nll;
}

#define SAEKIT_ROW_KERNELS(SUFFIX, TARGET)                                                                     \
  TARGET void softmax_rows_##SUFFIX(const float* x, float* y, long r0, long r1, long cols, bool log) {         \
    for (long r = r0; r < r1; ++r) softmax_row(x + r * cols, y + r * cols, cols, log);                         \
  }                                                                                                            \
  TARGET void softmax_backward_rows_##SUFFIX(const float* y, const float* dy, float* dx, long r0, long r1,     \
                                             long cols, bool log) {                                            \
    for (long r = r0; r < r1; ++r) softmax_backward_row(y + r * cols, dy + r * cols, dx + r * cols, cols, log); \
  }                                                                                                            \
  TARGET void cross_entropy_rows_##SUFFIX(float* x, const int32_t* targets, long r0, long r1, long cols,       \
                                          int32_t ignore, bool grad, float scale, float* nll) {                \
    for (long r = r0; r < r1; ++r) {                                                                           \
      float* xr = x + r * cols;                                                                                \
      if (targets[r] == ignore) {                                                                              \
        nll[r] = NAN;                                                                                          \
        if (grad) std::fill(xr, xr + cols, 0.f);                                                               \
        continue;                                                                                              \
      }                                                                                                        \
      nll[r] = cross_entropy_row(xr, cols, targets[r], grad, scale);                                           \
    }                                                                                                          \
  }

SAEKIT_ROW_KERNELS(generic, )
#if SAEKIT_X86
SAEKIT_ROW_KERNELS(avx2, SAEKIT_TARGET_AVX2)
SAEKIT_ROW_KERNELS(avx512, SAEKIT_TARGET_AVX512)
#define SAEKIT_DISPATCH(NAME, ...)                                               \
  do {                                                                           \
    const Isa isa = active_isa();                                                \
    if (isa == Isa::kAvx512) return NAME##_avx512(__VA_ARGS__);                  \
    if (isa == Isa::kAvx2) return NAME##_avx2(__VA_ARGS__);                      \
    return NAME##_generic(__VA_ARGS__);                                          \
  } while (0)
#else
#define SAEKIT_DISPATCH(NAME, ...) return NAME##_generic(__VA_ARGS__)
#endif

}  // namespace

void softmax_rows(const float* x, float* out, long rows, long cols, bool log) {
  parallel_chunks(rows, min_rows(cols), [&](long r0, long r1) { SAEKIT_DISPATCH(softmax_rows, x, out, r0, r1, cols, log); });
}

void softmax_rows_backward(const float* y, const float* dy, float* dx, long rows, long cols, bool log) {
  parallel_chunks(rows, min_rows(cols),
                  [&](long r0, long r1) { SAEKIT_DISPATCH(softmax_backward_rows, y, dy, dx, r0, r1, cols, log); });
}

void softmax_cross_entropy_rows(float* x, const int32_t* targets, long rows, long cols, int32_t ignore, bool grad,
                                float scale, float* nll) {
  parallel_chunks(rows, min_rows(cols), [&](long r0, long r1) {
    SAEKIT_DISPATCH(cross_entropy_rows, x, targets, r0, r1, cols, ignore, grad, scale, nll);
  });
}

}  // namespace saekit
