// Kernels for sparse SAE codes: row-wise top-k selection, and the gather/scatter products between k-sparse codes
// and a dense dictionary W [m × n]. They touch only the B·k active rows of W, never a dense B × m code matrix.
#include <algorithm>
#include <utility>
#include <vector>

#include "cpu.h"
#include "ops.h"
#include "simd.h"
#include "thread_pool.h"

namespace saekit {
namespace {

// ---- top-k ------------------------------------------------------------------------------------------------

struct Candidate {
  float value;
  int32_t index;
};

// "a ranks below b": smaller value, or equal value and larger index (ties go to the smaller index). NaN ranks
// above every number (as torch.topk), so a broken activation shows up instead of vanishing.
inline bool ranks_below(const Candidate& a, const Candidate& b) {
  const bool a_nan = a.value != a.value, b_nan = b.value != b.value;
  if (a_nan || b_nan) return a_nan && b_nan ? a.index > b.index : b_nan;
  return a.value < b.value || (a.value == b.value && a.index > b.index);
}

// A min-heap (by rank) of the best k candidates seen so far; heap[0] is the weakest kept.
class TopkHeap {
 public:
  explicit TopkHeap(long k) : k_(k) { heap_.reserve(static_cast<size_t>(k)); }
  void reset() { heap_.clear(); }
  bool full() const { return static_cast<long>(heap_.size()) == k_; }
  float threshold() const { return heap_[0].value; }
  void offer(float value, int32_t index) {
    const Candidate c{value, index};
    if (!full()) {
      heap_.push_back(c);
      std::push_heap(heap_.begin(), heap_.end(), [](const Candidate& a, const Candidate& b) { return ranks_below(b, a); });
    } else if (ranks_below(heap_[0], c)) {
      std::pop_heap(heap_.begin(), heap_.end(), [](const Candidate& a, const Candidate& b) { return ranks_below(b, a); });
      heap_.back() = c;
      std::push_heap(heap_.begin(), heap_.end(), [](const Candidate& a, const Candidate& b) { return ranks_below(b, a); });
    }
  }
  void write_sorted(float* values, int32_t* indices) {
    std::sort(heap_.begin(), heap_.end(), [](const Candidate& a, const Candidate& b) { return ranks_below(b, a); });
    for (size_t j = 0; j < heap_.size(); ++j) {
      values[j] = heap_[j].value;
      indices[j] = heap_[j].index;
    }
  }

 private:
  long k_;
  std::vector<Candidate> heap_;
};

// Once the heap is full, only entries strictly above its weakest value (or NaN) can enter: we scan in index
// order, so an equal value never beats an earlier index. "!(x <= t)" is that test, true for NaN on either side.
void topk_row_scalar(const float* x, long cols, TopkHeap& heap) {
  long c = 0;
  for (; c < cols && !heap.full(); ++c) heap.offer(x[c], static_cast<int32_t>(c));
  for (; c < cols; ++c)
    if (!(x[c] <= heap.threshold())) heap.offer(x[c], static_cast<int32_t>(c));
}

#if SAEKIT_X86
SAEKIT_TARGET_AVX512 void topk_row_avx512(const float* x, long cols, TopkHeap& heap) {
  long c = 0;
  for (; c < cols && !heap.full(); ++c) heap.offer(x[c], static_cast<int32_t>(c));
  for (; c + 16 <= cols; c += 16) {
    __mmask16 above = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + c), _mm512_set1_ps(heap.threshold()), _CMP_NLE_UQ);
    while (above) {
      const int lane = __builtin_ctz(above);
      above &= above - 1;
      if (!(x[c + lane] <= heap.threshold())) heap.offer(x[c + lane], static_cast<int32_t>(c + lane));
    }
  }
  for (; c < cols; ++c)
    if (!(x[c] <= heap.threshold())) heap.offer(x[c], static_cast<int32_t>(c));
}
#endif

#if SAEKIT_X86
// Fast path for k ≪ cols: a threshold from a strided sample (expected ~2k entries above it), one vectorised pass
// that compress-stores the entries above it, then an exact selection among those few. Returns false (caller
// falls back to the heap) when fewer than k entries pass or a NaN is present, so the result is always exact.
SAEKIT_TARGET_AVX512 bool topk_row_sampled_avx512(const float* x, long cols, long k, std::vector<float>& sample,
                                                  std::vector<Candidate>& cand, float* values, int32_t* indices) {
  // The first entries of the row are the sample (feature order carries no meaning, and a prefix costs no extra
  // pass over memory): the rank-th largest of them has ≈ 2k entries of the whole row above it.
  const long samples = std::min<long>(cols, 256);
  const long rank = std::max<long>(1, (2 * k * samples) / cols);
  if (k * 16 > cols) return false;
  sample.assign(x, x + samples);
  std::nth_element(sample.begin(), sample.begin() + (rank - 1), sample.end(), [](float a, float b) { return a > b; });
  const float thr = sample[static_cast<size_t>(rank - 1)];
  if (thr != thr) return false;
  cand.resize(static_cast<size_t>(cols) + 16);
  alignas(64) float vals[16];
  alignas(64) int32_t idxs[16];
  const __m512 t = _mm512_set1_ps(thr);
  const __m512i step = _mm512_set1_epi32(16);
  __m512i col = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  long n = 0;
  long c = 0;
  for (; c + 16 <= cols; c += 16, col = _mm512_add_epi32(col, step)) {
    const __m512 v = _mm512_loadu_ps(x + c);
    if (_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q)) return false;  // NaN: let the exact path rank it
    const __mmask16 m = _mm512_cmp_ps_mask(v, t, _CMP_GT_OQ);
    if (!m) continue;
    const int p = __builtin_popcount(static_cast<unsigned>(m));
    _mm512_mask_compressstoreu_ps(vals, m, v);
    _mm512_mask_compressstoreu_epi32(idxs, m, col);
    for (int l = 0; l < p; ++l) cand[static_cast<size_t>(n + l)] = Candidate{vals[l], idxs[l]};
    n += p;
  }
  for (; c < cols; ++c) {
    if (x[c] != x[c]) return false;
    if (x[c] > thr) cand[static_cast<size_t>(n++)] = Candidate{x[c], static_cast<int32_t>(c)};
  }
  if (n < k) return false;
  const auto better = [](const Candidate& a, const Candidate& b) { return ranks_below(b, a); };
  std::nth_element(cand.begin(), cand.begin() + (k - 1), cand.begin() + n, better);
  std::sort(cand.begin(), cand.begin() + k, better);
  for (long j = 0; j < k; ++j) {
    values[j] = cand[static_cast<size_t>(j)].value;
    indices[j] = cand[static_cast<size_t>(j)].index;
  }
  return true;
}
#endif

// ---- sparse decode: out[r] (+)= Σ_j v[r,j] · W[idx[r,j]] --------------------------------------------------

void decode_rows_generic(long r0, long r1, long k, const int32_t* indices, const float* values, const float* w,
                         long n, float* out, bool accumulate) {
  for (long r = r0; r < r1; ++r) {
    float* o = out + r * n;
    if (!accumulate) std::fill(o, o + n, 0.f);
    for (long j = 0; j < k; ++j) {
      const int32_t f = indices[r * k + j];
      if (f < 0) continue;
      const float a = values[r * k + j];
      const float* wr = w + static_cast<long>(f) * n;
      for (long c = 0; c < n; ++c) o[c] += a * wr[c];
    }
  }
}

#if SAEKIT_X86
SAEKIT_TARGET_AVX2 void decode_rows_avx2(long r0, long r1, long k, const int32_t* indices, const float* values,
                                         const float* w, long n, float* out, bool accumulate) {
  decode_rows_generic(r0, r1, k, indices, values, w, n, out, accumulate);
}

// The dictionary rows are random accesses the hardware prefetcher cannot predict: fetch the row needed
// kPrefetchDistance latents ahead (4 measured best here: 4.9 ms vs 6.0 ms without, 4096×32 of 16384 → 512).
constexpr long kPrefetchDistance = 4;
// 256 output columns held in 16 zmm accumulators while the row's k dictionary rows stream through.
SAEKIT_TARGET_AVX512 void decode_rows_avx512(long r0, long r1, long k, const int32_t* indices, const float* values,
                                             const float* w, long n, float* out, bool accumulate) {
  constexpr long kChunk = 256;
  for (long r = r0; r < r1; ++r) {
    float* o = out + r * n;
    const int32_t* idx = indices + r * k;
    const float* val = values + r * k;
    long c0 = 0;
    for (; c0 + kChunk <= n; c0 += kChunk) {
      __m512 acc[16];
      for (int v = 0; v < 16; ++v) acc[v] = accumulate ? _mm512_loadu_ps(o + c0 + 16 * v) : _mm512_setzero_ps();
      for (long j = 0; j < k; ++j) {
        const int32_t f = idx[j];
        if (f < 0) continue;
        if (j + kPrefetchDistance < k && idx[j + kPrefetchDistance] >= 0) {
          const char* next = reinterpret_cast<const char*>(w + static_cast<long>(idx[j + kPrefetchDistance]) * n + c0);
          for (int line = 0; line < 16; ++line) _mm_prefetch(next + 64 * line, _MM_HINT_T0);
        }
        const __m512 a = _mm512_set1_ps(val[j]);
        const float* wr = w + static_cast<long>(f) * n + c0;
        for (int v = 0; v < 16; ++v) acc[v] = _mm512_fmadd_ps(a, _mm512_loadu_ps(wr + 16 * v), acc[v]);
      }
      for (int v = 0; v < 16; ++v) _mm512_storeu_ps(o + c0 + 16 * v, acc[v]);
    }
    if (c0 < n) {
      // Tail columns (n not a multiple of 256): masked vectors, accumulated in memory.
      for (long c = c0; c < n; c += 16) {
        const __mmask16 mask = tail_mask(n - c);
        __m512 acc = accumulate ? _mm512_maskz_loadu_ps(mask, o + c) : _mm512_setzero_ps();
        for (long j = 0; j < k; ++j) {
          const int32_t f = idx[j];
          if (f < 0) continue;
          acc = _mm512_fmadd_ps(_mm512_set1_ps(val[j]), _mm512_maskz_loadu_ps(mask, w + static_cast<long>(f) * n + c), acc);
        }
        _mm512_mask_storeu_ps(o + c, mask, acc);
      }
    }
  }
}
#endif

// ---- sparse decode backward -------------------------------------------------------------------------------

inline float dot(const float* a, const float* b, long n) {
  float s = 0.f;
#pragma omp simd reduction(+ : s)
  for (long c = 0; c < n; ++c) s += a[c] * b[c];
  return s;
}

void values_grad_rows(long r0, long r1, long k, const int32_t* indices, const float* w, long n, const float* d_out,
                      float* d_values) {
  for (long r = r0; r < r1; ++r) {
    for (long j = 0; j < k; ++j) {
      const int32_t f = indices[r * k + j];
      d_values[r * k + j] = f < 0 ? 0.f : dot(d_out + r * n, w + static_cast<long>(f) * n, n);
    }
  }
}

#if SAEKIT_X86
// Dot products of dOut rows with random dictionary rows: four independent accumulators (one FMA chain would be
// latency-bound) and the dictionary row kPrefetchDistance slots ahead fetched early, as in the decoder.
SAEKIT_TARGET_AVX512 void values_grad_rows_avx512(long r0, long r1, long k, const int32_t* indices, const float* w,
                                                  long n, const float* d_out, float* d_values) {
  for (long r = r0; r < r1; ++r) {
    const float* g = d_out + r * n;
    const int32_t* idx = indices + r * k;
    for (long j = 0; j < k; ++j) {
      const int32_t f = idx[j];
      if (f < 0) {
        d_values[r * k + j] = 0.f;
        continue;
      }
      if (j + kPrefetchDistance < k && idx[j + kPrefetchDistance] >= 0) {
        const char* next = reinterpret_cast<const char*>(w + static_cast<long>(idx[j + kPrefetchDistance]) * n);
        for (long line = 0; line < n * 4; line += 64) _mm_prefetch(next + line, _MM_HINT_T0);
      }
      const float* wr = w + static_cast<long>(f) * n;
      __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
      long c = 0;
      for (; c + 64 <= n; c += 64) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(g + c), _mm512_loadu_ps(wr + c), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(g + c + 16), _mm512_loadu_ps(wr + c + 16), a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(g + c + 32), _mm512_loadu_ps(wr + c + 32), a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(g + c + 48), _mm512_loadu_ps(wr + c + 48), a3);
      }
      for (; c < n; c += 16) {
        const __mmask16 mask = tail_mask(n - c);
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, g + c), _mm512_maskz_loadu_ps(mask, wr + c), a0);
      }
      d_values[r * k + j] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
    }
  }
}
SAEKIT_TARGET_AVX2 void values_grad_rows_avx2(long r0, long r1, long k, const int32_t* indices, const float* w,
                                              long n, const float* d_out, float* d_values) {
  values_grad_rows(r0, r1, k, indices, w, n, d_out, d_values);
}
#endif

// One slot of a bucket: its code value and the dOut row it scales (no division by k, no gather from values).
struct BucketSlot {
  float value;
  int32_t row;
};

// dW[f] += Σ v·dOut[r] over feature f's bucketed slots, for features f0..f1 (see weight_grad_by_feature).
__attribute__((always_inline)) inline void accumulate_features(long f0, long f1, const int32_t* start, const BucketSlot* slots,
                                                               long n, const float* d_out, float* d_w) {
  for (long f = f0; f < f1; ++f) {
    float* dw = d_w + f * n;
    for (int32_t i = start[f]; i < start[f + 1]; ++i) {
      const float a = slots[i].value;
      const float* g = d_out + static_cast<long>(slots[i].row) * n;
#pragma omp simd
      for (long c = 0; c < n; ++c) dw[c] += a * g[c];
    }
  }
}
void accumulate_features_generic(long f0, long f1, const int32_t* start, const BucketSlot* slots, long n, const float* d_out,
                                 float* d_w) {
  accumulate_features(f0, f1, start, slots, n, d_out, d_w);
}
#if SAEKIT_X86
// dW[f] held in 16 zmm accumulators (256 columns at a time) while the bucket's dOut rows stream through: per slot only
// loads and FMAs, where the loop above re-loads and re-stores dW[f] per slot. The same per-slot FMAs in the same order.
SAEKIT_TARGET_AVX512 void accumulate_features_avx512(long f0, long f1, const int32_t* start, const BucketSlot* slots, long n,
                                                     const float* d_out, float* d_w) {
  constexpr long kChunk = 256;
  for (long f = f0; f < f1; ++f) {
    const int32_t i0 = start[f], i1 = start[f + 1];
    if (i0 == i1) continue;
    float* dw = d_w + f * n;
    long c0 = 0;
    for (; c0 + kChunk <= n; c0 += kChunk) {
      __m512 acc[16];
      for (int v = 0; v < 16; ++v) acc[v] = _mm512_loadu_ps(dw + c0 + 16 * v);
      for (int32_t i = i0; i < i1; ++i) {
        const __m512 a = _mm512_set1_ps(slots[i].value);
        const float* g = d_out + static_cast<long>(slots[i].row) * n + c0;
        for (int v = 0; v < 16; ++v) acc[v] = _mm512_fmadd_ps(a, _mm512_loadu_ps(g + 16 * v), acc[v]);
      }
      for (int v = 0; v < 16; ++v) _mm512_storeu_ps(dw + c0 + 16 * v, acc[v]);
    }
    for (long c = c0; c < n; c += 16) {  // tail columns (n not a multiple of 256), one masked vector at a time
      const __mmask16 mask = tail_mask(n - c);
      __m512 acc = _mm512_maskz_loadu_ps(mask, dw + c);
      for (int32_t i = i0; i < i1; ++i)
        acc = _mm512_fmadd_ps(_mm512_set1_ps(slots[i].value),
                              _mm512_maskz_loadu_ps(mask, d_out + static_cast<long>(slots[i].row) * n + c), acc);
      _mm512_mask_storeu_ps(dw + c, mask, acc);
    }
  }
}
SAEKIT_TARGET_AVX2 void accumulate_features_avx2(long f0, long f1, const int32_t* start, const BucketSlot* slots, long n,
                                                 const float* d_out, float* d_w) {
  accumulate_features(f0, f1, start, slots, n, d_out, d_w);
}
#endif

// dW[f] += Σ_{slots (r, j) with idx = f} v · dOut[r]. The slots are bucketed by feature first (counting sort), so
// each dictionary row is read and written once per bucket, accumulated in a cache-resident buffer, instead of a
// random read-modify-write of a 2 KB row per slot; threads own disjoint feature ranges, so nothing races.
// The buckets are also split by blocks of rows: within one block, the dOut rows that all features read stay in
// cache, where over the whole batch every slot was a random read of a 2 KB row from a dOut of several MB. Blocks
// only pay while a feature has several slots per block (each costs one more pass over its dW row), hence their
// count. Slots still meet dW[f] in increasing slot order, block after block: the same sums as one bucket per feature.
void weight_grad_by_feature(long rows, long k, const int32_t* indices, const float* values, long n, const float* d_out,
                            float* d_w, long m) {
  long live = 0;
  for (long s = 0; s < rows * k; ++s) live += indices[s] >= 0;
  constexpr long kSlotsPerBucket = 32;  // below this a block's extra dW pass costs more than its cached dOut saves
  constexpr long kMinBlockRows = 64;
  const long blocks = std::max<long>(1, std::min<long>(live / (kSlotsPerBucket * m), rows / kMinBlockRows));
  const long block_rows = (rows + blocks - 1) / blocks;
  // Bucket of slot (r, j): its row block, then its feature.
  std::vector<int32_t> start(static_cast<size_t>(blocks * m) + 1, 0);
  for (long r = 0; r < rows; ++r) {
    int32_t* counts = start.data() + 1 + (r / block_rows) * m;
    for (long j = 0; j < k; ++j)
      if (indices[r * k + j] >= 0) ++counts[indices[r * k + j]];
  }
  for (long b = 0; b < blocks * m; ++b) start[static_cast<size_t>(b) + 1] += start[static_cast<size_t>(b)];
  std::vector<BucketSlot> slots(static_cast<size_t>(live));
  {
    std::vector<int32_t> fill(start.begin(), start.end() - 1);
    for (long r = 0; r < rows; ++r) {
      int32_t* next = fill.data() + (r / block_rows) * m;
      for (long j = 0; j < k; ++j) {
        const int32_t f = indices[r * k + j];
        if (f >= 0) slots[static_cast<size_t>(next[f]++)] = BucketSlot{values[r * k + j], static_cast<int32_t>(r)};
      }
    }
  }
  const long work = live * n;
  const Isa isa = active_isa();
  parallel_chunks(m, std::max<long>(1, m * (1 << 15) / std::max<long>(1, work)), [&](long f0, long f1) {
    for (long b = 0; b < blocks; ++b) {
      const int32_t* block_start = start.data() + b * m;  // block_start[f]..block_start[f + 1]: f's slots in block b
#if SAEKIT_X86
      if (isa == Isa::kAvx512) {
        accumulate_features_avx512(f0, f1, block_start, slots.data(), n, d_out, d_w);
        continue;
      }
      if (isa == Isa::kAvx2) {
        accumulate_features_avx2(f0, f1, block_start, slots.data(), n, d_out, d_w);
        continue;
      }
#endif
      accumulate_features_generic(f0, f1, block_start, slots.data(), n, d_out, d_w);
    }
  });
  (void)isa;
}

}  // namespace

void topk_rows(const float* x, long rows, long cols, long k, float* values, int32_t* indices, const float* bias) {
  const Isa isa = active_isa();
  parallel_chunks(rows, std::max<long>(1, (1 << 16) / std::max<long>(1, cols)), [&](long r0, long r1) {
    TopkHeap heap(k);
    std::vector<float> sample;
    std::vector<Candidate> cand;
    std::vector<float> biased(bias ? static_cast<size_t>(cols) : 0);
    for (long r = r0; r < r1; ++r) {
      // With a bias the row is x + bias, formed once in an L1-resident buffer (the same float32 sums as addBias).
      const float* row = x + r * cols;
      if (bias) {
        for (long c = 0; c < cols; ++c) biased[static_cast<size_t>(c)] = row[c] + bias[c];
        row = biased.data();
      }
#if SAEKIT_X86
      if (isa == Isa::kAvx512 && topk_row_sampled_avx512(row, cols, k, sample, cand, values + r * k, indices + r * k)) continue;
#endif
      heap.reset();
#if SAEKIT_X86
      if (isa == Isa::kAvx512) topk_row_avx512(row, cols, heap);
      else
#endif
        topk_row_scalar(row, cols, heap);
      heap.write_sorted(values + r * k, indices + r * k);
    }
  });
  (void)isa;
}

void sparse_decode(long rows, long k, const int32_t* indices, const float* values, const float* w, long n,
                   float* out, bool accumulate) {
  const Isa isa = active_isa();
  parallel_chunks(rows, std::max<long>(1, (1 << 14) / std::max<long>(1, k * n / 16)), [&](long r0, long r1) {
#if SAEKIT_X86
    if (isa == Isa::kAvx512) return decode_rows_avx512(r0, r1, k, indices, values, w, n, out, accumulate);
    if (isa == Isa::kAvx2) return decode_rows_avx2(r0, r1, k, indices, values, w, n, out, accumulate);
#endif
    decode_rows_generic(r0, r1, k, indices, values, w, n, out, accumulate);
  });
  (void)isa;
}

void sparse_decode_backward(long rows, long k, const int32_t* indices, const float* values, const float* w, long m,
                            long n, const float* d_out, float* d_values, float* d_w) {
  const Isa isa = active_isa();
  if (d_values) {
    parallel_chunks(rows, std::max<long>(1, (1 << 14) / std::max<long>(1, k * n / 16)), [&](long r0, long r1) {
#if SAEKIT_X86
      if (isa == Isa::kAvx512) return values_grad_rows_avx512(r0, r1, k, indices, w, n, d_out, d_values);
      if (isa == Isa::kAvx2) return values_grad_rows_avx2(r0, r1, k, indices, w, n, d_out, d_values);
#endif
      values_grad_rows(r0, r1, k, indices, w, n, d_out, d_values);
    });
  }
  if (d_w) weight_grad_by_feature(rows, k, indices, values, n, d_out, d_w, m);
}

}  // namespace saekit
