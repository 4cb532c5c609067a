// Memory-bound kernels: plain loops (the compiler vectorises them), split over the pool when large.
#include <algorithm>
#include <cmath>
#include <vector>

#include "ops.h"
#include "thread_pool.h"

namespace saekit {
namespace {
constexpr long kMinElementsPerThread = 1 << 15;
constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kGeluCoeff = 0.044715f;
constexpr float kInvSqrt2 = 0.7071067811865476f;
constexpr float kInvSqrt2Pi = 0.3989422804014327f;

// Rows per thread so each thread gets at least kMinElementsPerThread elements.
long min_rows(long cols) { return std::max<long>(1, kMinElementsPerThread / std::max<long>(1, cols)); }
}  // namespace

void add_bias(float* x, long rows, long cols, const float* bias) {
  parallel_chunks(rows, min_rows(cols), [&](long r0, long r1) {
    for (long r = r0; r < r1; ++r) {
      float* row = x + r * cols;
      for (long c = 0; c < cols; ++c) row[c] += bias[c];
    }
  });
}

void axpy(float alpha, const float* x, float* y, long n) {
  parallel_chunks(n, kMinElementsPerThread, [&](long i0, long i1) {
    for (long i = i0; i < i1; ++i) y[i] += alpha * x[i];
  });
}

void scale(float* x, long n, float alpha) {
  parallel_chunks(n, kMinElementsPerThread, [&](long i0, long i1) {
    for (long i = i0; i < i1; ++i) x[i] *= alpha;
  });
}

void gelu(const float* x, float* out, long n, bool tanh_approx) {
  parallel_chunks(n, kMinElementsPerThread / 4, [&](long i0, long i1) {
    if (tanh_approx) {
      for (long i = i0; i < i1; ++i) {
        const float v = x[i];
        out[i] = 0.5f * v * (1.f + std::tanh(kSqrt2OverPi * (v + kGeluCoeff * v * v * v)));
      }
    } else {
      for (long i = i0; i < i1; ++i) {
        const float v = x[i];
        out[i] = 0.5f * v * (1.f + std::erf(v * kInvSqrt2));
      }
    }
  });
}

void gelu_backward(const float* x, const float* dy, float* dx, long n, bool tanh_approx) {
  parallel_chunks(n, kMinElementsPerThread / 4, [&](long i0, long i1) {
    if (tanh_approx) {
      for (long i = i0; i < i1; ++i) {
        const float v = x[i];
        const float t = std::tanh(kSqrt2OverPi * (v + kGeluCoeff * v * v * v));
        const float du = kSqrt2OverPi * (1.f + 3.f * kGeluCoeff * v * v);
        dx[i] = dy[i] * (0.5f * (1.f + t) + 0.5f * v * (1.f - t * t) * du);
      }
    } else {
      for (long i = i0; i < i1; ++i) {
        const float v = x[i];
        const float cdf = 0.5f * (1.f + std::erf(v * kInvSqrt2));
        const float pdf = kInvSqrt2Pi * std::exp(-0.5f * v * v);
        dx[i] = dy[i] * (cdf + v * pdf);
      }
    }
  });
}

void relu(const float* x, float* out, long n) {
  parallel_chunks(n, kMinElementsPerThread, [&](long i0, long i1) {
    for (long i = i0; i < i1; ++i) out[i] = x[i] > 0.f ? x[i] : 0.f;
  });
}

void relu_backward(const float* x, const float* dy, float* dx, long n) {
  parallel_chunks(n, kMinElementsPerThread, [&](long i0, long i1) {
    for (long i = i0; i < i1; ++i) dx[i] = x[i] > 0.f ? dy[i] : 0.f;
  });
}

void layer_norm(const float* x, long rows, long cols, const float* w, const float* b, float eps, float* out,
                float* mean, float* rstd) {
  parallel_chunks(rows, min_rows(cols), [&](long r0, long r1) {
    for (long r = r0; r < r1; ++r) {
      const float* xr = x + r * cols;
      float* yr = out + r * cols;
      double s = 0;
      for (long c = 0; c < cols; ++c) s += xr[c];
      const double mu = s / static_cast<double>(cols);
      double ss = 0;
      for (long c = 0; c < cols; ++c) {
        const double d = xr[c] - mu;
        ss += d * d;
      }
      const float rs = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(cols) + eps));
      const float m = static_cast<float>(mu);
      mean[r] = m;
      rstd[r] = rs;
      for (long c = 0; c < cols; ++c) {
        float v = (xr[c] - m) * rs;
        if (w) v *= w[c];
        if (b) v += b[c];
        yr[c] = v;
      }
    }
  });
}

void layer_norm_backward(const float* x, const float* dy, long rows, long cols, const float* w, const float* mean,
                         const float* rstd, float* dx, float* dw, float* db) {
  // dx = rstd · (g − mean(g) − x̂ · mean(g·x̂)) with g = dy·w; rows are independent.
  parallel_chunks(rows, min_rows(cols), [&](long r0, long r1) {
    for (long r = r0; r < r1; ++r) {
      const float* xr = x + r * cols;
      const float* gr = dy + r * cols;
      float* dr = dx + r * cols;
      const float m = mean[r], rs = rstd[r];
      double sum_g = 0, sum_gx = 0;
      for (long c = 0; c < cols; ++c) {
        const float g = w ? gr[c] * w[c] : gr[c];
        sum_g += g;
        sum_gx += static_cast<double>(g) * ((xr[c] - m) * rs);
      }
      const float mg = static_cast<float>(sum_g / cols), mgx = static_cast<float>(sum_gx / cols);
      for (long c = 0; c < cols; ++c) {
        const float g = w ? gr[c] * w[c] : gr[c];
        dr[c] = rs * (g - mg - (xr[c] - m) * rs * mgx);
      }
    }
  });
  // Parameter gradients reduce over rows: split by columns so threads never write the same entry.
  if (!dw && !db) return;
  parallel_chunks(cols, std::max<long>(16, kMinElementsPerThread / std::max<long>(1, rows)), [&](long c0, long c1) {
    std::vector<double> acc_w(static_cast<size_t>(c1 - c0), 0.0), acc_b(static_cast<size_t>(c1 - c0), 0.0);
    for (long r = 0; r < rows; ++r) {
      const float* xr = x + r * cols;
      const float* gr = dy + r * cols;
      const float m = mean[r], rs = rstd[r];
      for (long c = c0; c < c1; ++c) {
        acc_w[c - c0] += static_cast<double>(gr[c]) * ((xr[c] - m) * rs);
        acc_b[c - c0] += gr[c];
      }
    }
    for (long c = c0; c < c1; ++c) {
      if (dw) dw[c] += static_cast<float>(acc_w[c - c0]);
      if (db) db[c] += static_cast<float>(acc_b[c - c0]);
    }
  });
}

void sum_over_rows(const float* x, long rows, long cols, float* out, bool accumulate) {
  parallel_chunks(cols, std::max<long>(16, kMinElementsPerThread / std::max<long>(1, rows)), [&](long c0, long c1) {
    std::vector<double> acc(static_cast<size_t>(c1 - c0), 0.0);
    for (long r = 0; r < rows; ++r) {
      const float* xr = x + r * cols;
      for (long c = c0; c < c1; ++c) acc[c - c0] += xr[c];
    }
    for (long c = c0; c < c1; ++c) out[c] = static_cast<float>((accumulate ? out[c] : 0.0) + acc[c - c0]);
  });
}

void sum_over_cols(const float* x, long rows, long cols, float* out, bool accumulate) {
  parallel_chunks(rows, min_rows(cols), [&](long r0, long r1) {
    for (long r = r0; r < r1; ++r) {
      const float* xr = x + r * cols;
      double s = 0;
      for (long c = 0; c < cols; ++c) s += xr[c];
      out[r] = static_cast<float>((accumulate ? out[r] : 0.0) + s);
    }
  });
}

void adamw_step(float* p, const float* g, float* m, float* v, long n, float lr, float beta1, float beta2, float eps,
                float weight_decay, float bc1, float bc2) {
  const float inv_bc1 = 1.f / bc1, inv_bc2 = 1.f / bc2;
  parallel_chunks(n, kMinElementsPerThread, [&](long i0, long i1) {
    for (long i = i0; i < i1; ++i) {
      const float gi = g[i];
      const float mi = beta1 * m[i] + (1.f - beta1) * gi;
      const float vi = beta2 * v[i] + (1.f - beta2) * gi * gi;
      m[i] = mi;
      v[i] = vi;
      p[i] -= lr * ((mi * inv_bc1) / (std::sqrt(vi * inv_bc2) + eps) + weight_decay * p[i]);
    }
  });
}

}  // namespace saekit
