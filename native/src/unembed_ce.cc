// Fused unembedding + softmax cross-entropy on the AVX512-BF16 path (the training step's dominant cost: three
// [rows × 50,257] products and a softmax over every row).
//
// The per-chunk route (gemm, softmax, two more gemms) moves each fp32 logit through memory about ten times and
// re-packs the operands per chunk. Here each thread owns a range of vocabulary columns and walks it in tiles of
// kTile columns, so one tile of W (and of Wᵀ, and of dW) stays in L2 while every row passes by:
//   pass 1  logits tile = x·W_tile + b (12 rows at a time, in L1) → per-row running max and Σexp (online softmax);
//           the threads' partial sums are merged into lse per row, nll = lse − logit[target].
//   pass 2  the same logits tile again (bit-identical: same kernel, same order) → G = scale·(exp(logit − lse) −
//           onehot) for kRowBlock rows, then dW_tile += xᵀ·G and dX_rows += G·W_tileᵀ from bf16 panels of G, and
//           db_tile += Σ_r G. dX is summed per thread and reduced at the end in thread order (deterministic).
// Numerically this is the per-chunk route up to summation order: the same bf16 operands (x, W, G rounded to
// nearest even), float32 accumulation, the bias added in float32; one more logits product in exchange for never
// storing the logits.
#include "unembed_ce.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "aligned_buffer.h"
#include "cpu.h"
#include "gemm_bf16_kernels.h"
#include "thread_pool.h"

namespace saekit {

#if SAEKIT_X86
namespace {

using namespace bf16k;

constexpr long kTile = 256;      // vocabulary columns per tile (a multiple of 32): W, Wᵀ and dW tiles stay in L2
constexpr long kRowBlock = 96;   // rows per gradient block (a multiple of 12): the K of dW's product

long round_up(long n, long m) { return (n + m - 1) / m * m; }

// exp(x) as softmax.cc's fast_exp (Cody–Waite reduction, degree-6 polynomial), 16 lanes: 0 below −87.3 (so −inf
// gives 0), +inf above 88.7.
SAEKIT_TARGET_BF16 inline __m512 exp16(__m512 x) {
  const __m512 lo = _mm512_set1_ps(-87.3f), hi = _mm512_set1_ps(88.7f);
  const __m512 xc = _mm512_min_ps(_mm512_max_ps(x, lo), hi);
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), xc);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.f)));
  __m512 e = _mm512_scalef_ps(p, n);
  e = _mm512_mask_mov_ps(e, _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ), _mm512_setzero_ps());
  e = _mm512_mask_mov_ps(e, _mm512_cmp_ps_mask(x, hi, _CMP_GT_OQ), _mm512_set1_ps(INFINITY));
  return e;
}

// row[0:n] += bias[0:n]
SAEKIT_TARGET_BF16 void add_bias_row(float* row, const float* bias, long n) {
  for (long c = 0; c < n; c += 16) {
    const __mmask16 m = tail_mask(n - c);
    _mm512_mask_storeu_ps(row + c, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, row + c), _mm512_maskz_loadu_ps(m, bias + c)));
  }
}

SAEKIT_TARGET_BF16 float max_row(const float* row, long n) {
  __m512 mx = _mm512_set1_ps(-INFINITY);
  for (long c = 0; c < n; c += 16) {
    const __mmask16 m = tail_mask(n - c);
    mx = _mm512_mask_max_ps(mx, m, mx, _mm512_maskz_loadu_ps(m, row + c));
  }
  return _mm512_reduce_max_ps(mx);
}

SAEKIT_TARGET_BF16 float sum_exp_row(const float* row, long n, float shift) {
  const __m512 s = _mm512_set1_ps(shift);
  __m512 acc = _mm512_setzero_ps();
  for (long c = 0; c < n; c += 16) {
    const __mmask16 m = tail_mask(n - c);
    acc = _mm512_mask_add_ps(acc, m, acc, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, row + c), s)));
  }
  return _mm512_reduce_add_ps(acc);
}

// g[0:n] = scale·exp(row − lse), zeros in g[n:width].
SAEKIT_TARGET_BF16 void grad_row(const float* row, long n, long width, float lse, float scale, float* g) {
  const __m512 s = _mm512_set1_ps(lse), vs = _mm512_set1_ps(scale);
  for (long c = 0; c < n; c += 16) {
    const __mmask16 m = tail_mask(n - c);
    const __m512 v = _mm512_mul_ps(vs, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, row + c), s)));
    _mm512_mask_storeu_ps(g + c, m, v);
  }
  std::fill(g + n, g + width, 0.f);
}

SAEKIT_TARGET_BF16 void add_row(float* dst, const float* src, long n) {
  for (long c = 0; c < n; c += 16) {
    const __mmask16 m = tail_mask(n - c);
    _mm512_mask_storeu_ps(dst + c, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, dst + c), _mm512_maskz_loadu_ps(m, src + c)));
  }
}

void merge(const float* tmp, float* c, long ldc, long rows, long cols, int mode) {
  for (long r = 0; r < rows; ++r)
    for (long j = 0; j < cols; ++j) c[r * ldc + j] = mode == kStore ? tmp[r * kNr + j] : c[r * ldc + j] + tmp[r * kNr + j];
}

struct Problem {
  const float* x;
  long rows, d;
  const float* w;
  long vocab;
  const float* bias;
  const int32_t* targets;
  int32_t ignore;
  bool grad;
  float scale;
  float* nll;
  float* dx;
  float* dw;
  float* db;
  long dp;      // d rounded up to even: k-pairs of the logits product
  long vp;      // vocab rounded up to 32: columns of W's panels, k of Wᵀ's
  long np;      // rows rounded up to kRowBlock: rows of x's panels, k of xᵀ's
  long dpan;    // d rounded up to 12: rows of xᵀ's panels (dW's row panels)
  long dxcols;  // d rounded up to 32: columns of Wᵀ's panels (dX's column panels)
  const uint16_t* xa;  // x: 12-row panels, k = d
  const uint16_t* wb;  // W: 32-column panels, k = d
  const uint16_t* xt;  // xᵀ: 12-row panels (over d), k = rows
  const uint16_t* wt;  // Wᵀ: 32-column panels (over d), k = vocab
};

// Per-thread scratch (pool workers and the caller keep theirs across calls).
struct Scratch {
  AlignedBuffer<float> strip, g, tmp;
  AlignedBuffer<uint16_t> gb, ga;
};
thread_local Scratch t_scratch;

// Logits of rows [ip, ip+12) × columns [t0, t0+tw) (tw a multiple of 32) into strip (ld kTile), bias added on the
// first `valid` columns.
SAEKIT_TARGET_BF16 void logits_strip(const Problem& p, long ip, long t0, long tw, long valid, float* strip) {
  const uint16_t* a = p.xa + ip * p.dp;
  for (long jp = 0; jp < tw; jp += kNr) kernel_bf16_12x32(p.dp / 2, a, p.wb + (t0 + jp) * p.dp, strip + jp, kTile, kStore, 0.f);
  if (p.bias)
    for (int i = 0; i < kMrPairs; ++i) add_bias_row(strip + i * kTile, p.bias + t0, valid);
}

// Pass 1 over columns [c0, c1): running max m[r] and Σexp s[r] per row; tl[r] = the target's logit (owner only).
SAEKIT_TARGET_BF16 void loss_pass(const Problem& p, long c0, long c1, float* m, float* s, float* tl) {
  float* strip = t_scratch.strip.get(kMrPairs * kTile);
  for (long r = 0; r < p.rows; ++r) {
    m[r] = -INFINITY;
    s[r] = 0.f;
  }
  for (long t0 = c0; t0 < c1; t0 += kTile) {
    const long tw = std::min(kTile, c1 - t0), valid = std::min(tw, p.vocab - t0);
    for (long ip = 0; ip < p.rows; ip += kMrPairs) {
      logits_strip(p, ip, t0, tw, valid, strip);
      for (long i = 0; i < kMrPairs && ip + i < p.rows; ++i) {
        const long r = ip + i;
        if (p.targets[r] == p.ignore) continue;
        const float* row = strip + i * kTile;
        const float mx = max_row(row, valid);
        if (mx > m[r]) {
          s[r] *= std::exp(m[r] - mx);
          m[r] = mx;
        }
        s[r] += sum_exp_row(row, valid, m[r]);
        const long t = p.targets[r] - t0;
        if (t >= 0 && t < valid) tl[r] = row[t];
      }
    }
  }
}

// Pass 2 over columns [c0, c1): G per tile and row block, dW and db of these columns, this thread's dX sum.
SAEKIT_TARGET_BF16 void grad_pass(const Problem& p, long c0, long c1, const float* lse, float* dxt) {
  Scratch& sc = t_scratch;
  float* strip = sc.strip.get(kMrPairs * kTile);
  float* g = sc.g.get(kRowBlock * kTile);
  float* tmp = sc.tmp.get(kMrPairs * kNr);
  uint16_t* gb = sc.gb.get(kRowBlock * kTile);
  uint16_t* ga = sc.ga.get(kRowBlock * kTile);
  for (long t0 = c0; t0 < c1; t0 += kTile) {
    const long tw = std::min(kTile, c1 - t0), valid = std::min(tw, p.vocab - t0);
    float* db = p.db ? p.db + t0 : nullptr;
    if (db) std::fill(db, db + valid, 0.f);
    for (long r0 = 0; r0 < p.np; r0 += kRowBlock) {
      for (long ip = r0; ip < r0 + kRowBlock; ip += kMrPairs) {
        const bool any = ip < p.rows;
        if (any) logits_strip(p, ip, t0, tw, valid, strip);
        for (long i = 0; i < kMrPairs; ++i) {
          const long r = ip + i;
          float* gr = g + (r - r0) * kTile;
          if (r >= p.rows || p.targets[r] == p.ignore) {
            std::fill(gr, gr + tw, 0.f);
            continue;
          }
          grad_row(strip + i * kTile, valid, tw, lse[r], p.scale, gr);
          const long t = p.targets[r] - t0;
          if (t >= 0 && t < valid) gr[t] -= p.scale;
          if (db) add_row(db, gr, valid);
        }
      }
      if (p.dw) {
        const GemmArgs gbArgs{false, false, 0, tw, kRowBlock, 1.f, nullptr, 1, g, kTile, 0.f, nullptr, 1};
        pack_b(gbArgs, 0, tw, 0, kRowBlock, kRowBlock, gb);
        const int mode = r0 == 0 ? kStore : kAccumulate;
        for (long q = 0; q < p.dpan; q += kMrPairs) {
          const uint16_t* a = p.xt + q * p.np + (r0 / 2) * 2 * kMrPairs;
          const long qrows = std::min<long>(kMrPairs, p.d - q);
          for (long jp = 0; jp < tw; jp += kNr) {
            float* c = p.dw + q * p.vocab + t0 + jp;
            const long cols = std::min<long>(kNr, valid - jp);
            if (cols <= 0) break;
            if (qrows == kMrPairs && cols == kNr) {
              kernel_bf16_12x32(kRowBlock / 2, a, gb + jp * kRowBlock, c, p.vocab, mode, 0.f);
            } else {
              kernel_bf16_12x32(kRowBlock / 2, a, gb + jp * kRowBlock, tmp, kNr, kStore, 0.f);
              merge(tmp, c, p.vocab, qrows, cols, mode);
            }
          }
        }
      }
      if (p.dx) {
        const GemmArgs gaArgs{false, false, kRowBlock, 0, tw, 1.f, g, kTile, nullptr, 1, 0.f, nullptr, 1};
        pack_a_pairs(gaArgs, 0, kRowBlock, 0, tw, tw, ga);
        for (long ip = 0; ip < kRowBlock; ip += kMrPairs) {
          if (r0 + ip >= p.rows) break;
          for (long n = 0; n < p.dxcols; n += kNr)
            kernel_bf16_12x32(tw / 2, ga + ip * tw, p.wt + n * p.vp + (t0 / 2) * 2 * kNr, dxt + (r0 + ip) * p.dxcols + n,
                              p.dxcols, kAccumulate, 0.f);
        }
      }
    }
  }
}

// The packed operands, kept by the calling thread across calls (they only grow).
struct Packs {
  AlignedBuffer<uint16_t> xa, wb, xt, wt;
  AlignedBuffer<float> lse, tl;
  std::vector<float> m, s, dxt;  // per task: m, s (rows each) and dX sums (np × dxcols each)
};
thread_local Packs t_packs;

}  // namespace
#endif

bool unembed_cross_entropy_bf16(const float* x, long rows, long d, const float* w, long vocab, const float* bias,
                                const int32_t* targets, int32_t ignore, bool grad, float scale, float* nll, float* dx,
                                float* dw, float* db) {
#if SAEKIT_X86
  const Bf16Path path = active_isa() == Isa::kAvx512 ? active_bf16_path() : Bf16Path::kEmulated;
  if (path == Bf16Path::kEmulated) return false;
  if (!grad) dx = dw = db = nullptr;
  if (rows <= 0 || d <= 0 || vocab <= 0) {
    if (dx) std::fill(dx, dx + rows * d, 0.f);
    if (dw) std::fill(dw, dw + d * vocab, 0.f);
    if (db) std::fill(db, db + vocab, 0.f);
    for (long r = 0; r < rows; ++r) nll[r] = NAN;  // no columns: no distribution
    return true;
  }
  Packs& pk = t_packs;
  Problem p{x, rows, d, w, vocab, bias, targets, ignore, grad, scale, nll, dx, dw, db,
            round_up(d, 2), round_up(vocab, kNr), round_up(rows, kRowBlock), round_up(d, kMrPairs), round_up(d, kNr),
            nullptr, nullptr, nullptr, nullptr};
  const bool needT = dw != nullptr, needWt = dx != nullptr;
  uint16_t* xa = pk.xa.get(p.np * p.dp);
  uint16_t* wb = pk.wb.get(p.vp * p.dp);
  uint16_t* xt = needT ? pk.xt.get(p.dpan * p.np) : nullptr;
  uint16_t* wt = needWt ? pk.wt.get(p.dxcols * p.vp) : nullptr;
  p.xa = xa;
  p.wb = wb;
  p.xt = xt;
  p.wt = wt;

  std::shared_ptr<ThreadPool> pl = pool();
  const long panels = p.vp / kNr;
  const int parts = static_cast<int>(std::max<long>(1, std::min<long>(pl->threads(), panels)));
  auto cols_of = [&](int t, long& c0, long& c1) {
    c0 = panels * t / parts * kNr;
    c1 = std::min(p.vp, panels * (t + 1) / parts * kNr);
  };

  // ---- pack x, W (and xᵀ, Wᵀ for the gradients); each task packs its share
  pl->parallel_for(parts, [&](int t, int) {
    long c0, c1;
    cols_of(t, c0, c1);
    if (c0 < c1) {
      const GemmArgs wArgs{false, false, 0, vocab, d, 1.f, nullptr, 1, w, vocab, 0.f, nullptr, 1};
      // The last panel's columns past vocab are zeros (pack_b writes whole panels).
      pack_b(wArgs, c0, std::min(c1, vocab) - c0, 0, d, p.dp, wb + c0 * p.dp);
    }
    // x's row panels, split by panel between tasks; panels past rows are zeros (rows of the last gradient block).
    const long xpanels = p.np / kMrPairs;
    const long i0 = xpanels * t / parts * kMrPairs, i1 = xpanels * (t + 1) / parts * kMrPairs;
    const GemmArgs xArgs{false, false, rows, 0, d, 1.f, x, d, nullptr, 1, 0.f, nullptr, 1};
    if (i0 < std::min(i1, rows)) {
      std::memset(xa + i0 * p.dp, 0, sizeof(uint16_t) * (std::min(i1, round_up(rows, kMrPairs)) - i0) * p.dp);
      pack_a_pairs(xArgs, i0, std::min(i1, rows) - i0, 0, d, p.dp, xa + i0 * p.dp);
    }
    const long zero0 = std::max(i0, round_up(rows, kMrPairs));
    if (zero0 < i1) std::memset(xa + zero0 * p.dp, 0, sizeof(uint16_t) * (i1 - zero0) * p.dp);
    if (needT) {
      // xᵀ: 12-row panels over d, k = rows (padded with zeros to np).
      const long dpanels = p.dpan / kMrPairs;
      const long q0 = dpanels * t / parts * kMrPairs, q1 = dpanels * (t + 1) / parts * kMrPairs;
      if (q0 < q1) {
        std::memset(xt + q0 * p.np, 0, sizeof(uint16_t) * (q1 - q0) * p.np);
        const GemmArgs tArgs{true, false, d, 0, rows, 1.f, x, d, nullptr, 1, 0.f, nullptr, 1};
        if (q0 < d) pack_a_pairs(tArgs, q0, std::min(q1, d) - q0, 0, rows, p.np, xt + q0 * p.np);
      }
    }
    if (needWt) {
      // Wᵀ: 32-column panels over d, k = vocab (padded with zeros to vp).
      const long npanels = p.dxcols / kNr;
      const long n0 = npanels * t / parts * kNr, n1 = npanels * (t + 1) / parts * kNr;
      const GemmArgs tArgs{false, true, 0, d, vocab, 1.f, nullptr, 1, w, vocab, 0.f, nullptr, 1};
      if (n0 < n1) pack_b(tArgs, n0, std::min(n1, d) - n0, 0, vocab, p.vp, wt + n0 * p.vp);
      // Columns past d inside the last panel are zeros (pack_b writes whole panels).
    }
  });

  // ---- pass 1: the loss
  pk.m.resize(static_cast<size_t>(parts * rows));
  pk.s.resize(static_cast<size_t>(parts * rows));
  float* tl = pk.tl.get(rows);
  float* lse = pk.lse.get(rows);
  pl->parallel_for(parts, [&](int t, int) {
    long c0, c1;
    cols_of(t, c0, c1);
    float* m = pk.m.data() + t * rows;
    float* s = pk.s.data() + t * rows;
    if (c0 < c1) {
      loss_pass(p, c0, c1, m, s, tl);
    } else {
      std::fill(m, m + rows, -INFINITY);
      std::fill(s, s + rows, 0.f);
    }
  });
  for (long r = 0; r < rows; ++r) {
    if (targets[r] == ignore) {
      nll[r] = NAN;
      lse[r] = 0.f;
      continue;
    }
    float mx = -INFINITY;
    for (int t = 0; t < parts; ++t) mx = std::max(mx, pk.m[t * rows + r]);
    float sum = 0.f;
    for (int t = 0; t < parts; ++t) {
      const float st = pk.s[t * rows + r];
      if (st != 0.f) sum += st * std::exp(pk.m[t * rows + r] - mx);
    }
    lse[r] = mx + std::log(sum);
    nll[r] = lse[r] - tl[r];
  }
  if (!grad || (!dx && !dw && !db)) return true;

  // ---- pass 2: the gradients
  if (dx) {
    pk.dxt.assign(static_cast<size_t>(parts * p.np * p.dxcols), 0.f);
  }
  pl->parallel_for(parts, [&](int t, int) {
    long c0, c1;
    cols_of(t, c0, c1);
    if (c0 < c1) grad_pass(p, c0, c1, lse, dx ? pk.dxt.data() + t * p.np * p.dxcols : nullptr);
  });
  if (dx) {
    for (long r = 0; r < rows; ++r) {
      float* out = dx + r * d;
      std::memcpy(out, pk.dxt.data() + r * p.dxcols, sizeof(float) * d);
      for (int t = 1; t < parts; ++t) add_row(out, pk.dxt.data() + (t * p.np + r) * p.dxcols, d);
    }
  }
  return true;
#else
  (void)x, (void)rows, (void)d, (void)w, (void)vocab, (void)bias, (void)targets, (void)ignore, (void)grad, (void)scale;
  (void)nll, (void)dx, (void)dw, (void)db;
  return false;
#endif
}

}  // namespace saekit
