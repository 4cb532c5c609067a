// bf16 GEMM with float32 accumulation: the same BLIS structure as gemm.cc (pack op(A) and op(B) once per cache
// block, a register- or tile-resident micro-kernel over the whole KC loop), with the operands converted to bf16
// (round to nearest even) while packing. alpha is folded into A before rounding; C, alpha and beta stay float32.
//
// Packed layouts (kc rounded up with zeros to kcp, a multiple of 2 or 32):
//   B, both hardware paths: panels of 32 columns, k in pairs: b[(k/2)·64 + 2·col + k%2]. That is the operand of
//     vdpbf16ps (a zmm = 16 columns × one k-pair) and, with a 128-byte row stride, the AMX B tile (16 k-pair rows
//     × 16 columns).
//   A, AVX512-BF16: panels of 12 rows, k in pairs: a[(k/2)·24 + 2·row + k%2] (one 32-bit broadcast per row).
//   A, AMX: panels of 32 rows, blocks of 32 k: a[(k/32)·1024 + row·32 + k%32] (two 16-row A tiles per block).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>

#include "aligned_buffer.h"
#include "bf16.h"
#include "cpu.h"
#include "gemm.h"
#include "gemm_bf16_kernels.h"
#include "simd.h"
#include "thread_pool.h"

namespace saekit {
namespace {

using namespace bf16k;

struct Bf16Blocking {
  int mr;
  long kc, mc, nc;
  int kalign;
};

Bf16Blocking blocking_for(Bf16Path path) {
  // KC = 512 covers the whole K of the d_in = 512 products; a 512×32 bf16 B micro-panel is 32 KiB (L1).
  if (path == Bf16Path::kAmx) return {32, 512, 512, 3072, 32};
  return {12, 512, 480, 3072, 2};
}

thread_local AlignedBuffer<uint16_t> t_pack_a;
thread_local AlignedBuffer<uint16_t> t_pack_b;

inline uint32_t pair_bits(float lo, float hi) {
  return static_cast<uint32_t>(f32_to_bf16(lo)) | (static_cast<uint32_t>(f32_to_bf16(hi)) << 16);
}

void merge_tile(const float* tmp, int ld, float* c, long ldc, long rows, long cols, int mode, float beta) {
  for (long r = 0; r < rows; ++r) {
    float* cr = c + r * ldc;
    const float* tr = tmp + r * ld;
    for (long j = 0; j < cols; ++j) {
      if (mode == kStore) cr[j] = tr[j];
      else if (mode == kAccumulate) cr[j] += tr[j];
      else cr[j] = beta * cr[j] + tr[j];
    }
  }
}

#if SAEKIT_X86
#define SAEKIT_TARGET_AMX \
  __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx512bf16,avx2,fma,amx-tile,amx-bf16")))

}  // namespace

namespace bf16k {

// Two rows of n ≤ 16 floats (r1 may be null: zeros) → n bf16 pairs (r0[i], r1[i]) at dst (alpha applied).
SAEKIT_TARGET_BF16 inline void pair_rows16(const float* r0, const float* r1, int n, float alpha, uint16_t* dst) {
  const __mmask16 m = static_cast<__mmask16>((1u << n) - 1);
  const __m512 va = _mm512_set1_ps(alpha);
  const __m512 x0 = _mm512_mul_ps(va, _mm512_maskz_loadu_ps(m, r0));
  const __m512 x1 = r1 ? _mm512_mul_ps(va, _mm512_maskz_loadu_ps(m, r1)) : _mm512_setzero_ps();
  // cvtne2ps: low 16 bf16 from x0, high 16 from x1; the permutation interleaves them into pairs.
  const __m512i both = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(x1, x0));
  const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6,
                                       21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i pairs = _mm512_permutexvar_epi16(idx, both);
  const __mmask32 sm = n == 16 ? 0xffffffffu : static_cast<__mmask32>((1u << (2 * n)) - 1);
  _mm512_mask_storeu_epi16(dst, sm, pairs);
}

// A contiguous run src[0:kc] (alpha applied) → kc/2 bf16 pairs (zero-padded), pair p written at dst[p·stride].
SAEKIT_TARGET_BF16 inline void pairs_strided(const float* src, long kc, float alpha, uint32_t* dst, long stride) {
  const __m512 va = _mm512_set1_ps(alpha);
  alignas(64) uint32_t tmp[16];
  long k = 0;
  for (; k + 32 <= kc; k += 32) {
    const __m512 lo = _mm512_mul_ps(va, _mm512_loadu_ps(src + k)), hi = _mm512_mul_ps(va, _mm512_loadu_ps(src + k + 16));
    _mm512_store_si512(tmp, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo)));
    uint32_t* d = dst + (k / 2) * stride;
    for (int p = 0; p < 16; ++p) d[p * stride] = tmp[p];
  }
  for (; k < kc; k += 2) dst[(k / 2) * stride] = pair_bits(alpha * src[k], k + 1 < kc ? alpha * src[k + 1] : 0.f);
}

// op(B)[p0:p0+kc, j0:j0+nc] → 32-column panels of k-pairs; rows kc..kcp are zeros.
void pack_b(const GemmArgs& g, long j0, long nc, long p0, long kc, long kcp, uint16_t* dst) {
  for (long jp = 0; jp < nc; jp += kNr) {
    const int cols = static_cast<int>(std::min<long>(kNr, nc - jp));
    uint16_t* d = dst + jp * kcp;
    if (!g.trans_b) {
      for (long k = 0; k < kc; k += 2) {
        const float* r0 = g.b + (p0 + k) * g.ldb + j0 + jp;
        const float* r1 = k + 1 < kc ? r0 + g.ldb : nullptr;
        uint16_t* dk = d + k * kNr;
        std::memset(dk, 0, sizeof(uint16_t) * 2 * kNr);
        pair_rows16(r0, r1, std::min(cols, 16), 1.f, dk);
        if (cols > 16) pair_rows16(r0 + 16, r1 ? r1 + 16 : nullptr, cols - 16, 1.f, dk + 32);
      }
    } else {
      uint32_t* d32 = reinterpret_cast<uint32_t*>(d);
      for (int c = 0; c < cols; ++c) pairs_strided(g.b + (j0 + jp + c) * g.ldb + p0, kc, 1.f, d32 + c, kNr);
      for (long kp = 0; kp < (kc + 1) / 2; ++kp)
        for (int c = cols; c < kNr; ++c) d32[kp * kNr + c] = 0;
    }
    const long kc_even = (kc + 1) & ~1L;
    std::memset(d + kc_even * kNr, 0, sizeof(uint16_t) * (kcp - kc_even) * kNr);
  }
}

// op(A)[i0:i0+mc, p0:p0+kc] → 12-row panels of k-pairs (alpha folded in).
void pack_a_pairs(const GemmArgs& g, long i0, long mc, long p0, long kc, long kcp, uint16_t* dst) {
  constexpr int mr = 12;
  for (long ip = 0; ip < mc; ip += mr) {
    const int rows = static_cast<int>(std::min<long>(mr, mc - ip));
    uint16_t* d = dst + ip * kcp;
    uint32_t* d32 = reinterpret_cast<uint32_t*>(d);
    if (!g.trans_a) {
      for (int r = 0; r < rows; ++r) pairs_strided(g.a + (i0 + ip + r) * g.lda + p0, kc, g.alpha, d32 + r, mr);
      for (long kp = 0; kp < kcp / 2; ++kp)
        for (int r = rows; r < mr; ++r) d32[kp * mr + r] = 0;
    } else {
      for (long k = 0; k < kc; k += 2) {
        const float* r0 = g.a + (p0 + k) * g.lda + i0 + ip;
        std::memset(d + k * mr, 0, sizeof(uint16_t) * 2 * mr);
        pair_rows16(r0, k + 1 < kc ? r0 + g.lda : nullptr, rows, g.alpha, d + k * mr);
      }
    }
  }
}

}  // namespace bf16k

namespace {

// op(A)[i0:i0+mc, p0:p0+kc] → 32-row panels of 32-k blocks, row-major inside a block (the AMX A tile layout).
SAEKIT_TARGET_BF16 void pack_a_tiles(const GemmArgs& g, long i0, long mc, long p0, long kc, long kcp, uint16_t* dst) {
  constexpr int mr = 32;
  const __m512 va = _mm512_set1_ps(g.alpha);
  for (long ip = 0; ip < mc; ip += mr) {
    const long rows = std::min<long>(mr, mc - ip);
    uint16_t* d = dst + ip * kcp;
    std::memset(d, 0, sizeof(uint16_t) * mr * kcp);
    if (!g.trans_a) {
      for (long r = 0; r < rows; ++r) {
        const float* src = g.a + (i0 + ip + r) * g.lda + p0;
        for (long kb = 0; kb < kc; kb += 32) {
          const int n = static_cast<int>(std::min<long>(32, kc - kb));
          const __mmask16 m0 = static_cast<__mmask16>(n >= 16 ? 0xffff : (1u << n) - 1);
          const __mmask16 m1 = static_cast<__mmask16>(n >= 32 ? 0xffff : n > 16 ? (1u << (n - 16)) - 1 : 0);
          const __m512 lo = _mm512_mul_ps(va, _mm512_maskz_loadu_ps(m0, src + kb));
          const __m512 hi = _mm512_mul_ps(va, _mm512_maskz_loadu_ps(m1, src + kb + 16));
          _mm512_storeu_si512(d + kb * mr + r * 32, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo)));
        }
      }
    } else {
      for (long k = 0; k < kc; ++k) {
        const float* src = g.a + (p0 + k) * g.lda + i0 + ip;
        uint16_t* dk = d + (k / 32) * 32 * mr + (k % 32);
        for (long r = 0; r < rows; ++r) dk[r * 32] = f32_to_bf16(g.alpha * src[r]);
      }
    }
  }
}

}  // namespace

namespace bf16k {

#define SAEKIT_ROWS12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

SAEKIT_TARGET_BF16 inline void store_row(float* c, __m512 lo, __m512 hi, int mode, __m512 beta) {
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

// 12×32 tile of C in 24 zmm accumulators; per k-pair: 2 B vectors, 12 broadcast A pairs, 24 vdpbf16ps.
void kernel_bf16_12x32(long kpairs, const uint16_t* __restrict a, const uint16_t* __restrict b,
                                          float* __restrict c, long ldc, int mode, float beta) {
#define SAEKIT_DECL(i) __m512 c##i##lo = _mm512_setzero_ps(), c##i##hi = _mm512_setzero_ps();
  SAEKIT_ROWS12(SAEKIT_DECL)
#undef SAEKIT_DECL
  const int32_t* a32 = reinterpret_cast<const int32_t*>(a);
  for (long p = 0; p < kpairs; ++p) {
    const __m512bh b0 = reinterpret_cast<__m512bh>(_mm512_load_si512(b));
    const __m512bh b1 = reinterpret_cast<__m512bh>(_mm512_load_si512(b + 32));
    _mm_prefetch(reinterpret_cast<const char*>(b + 512), _MM_HINT_T0);
#define SAEKIT_DP(i)                                                               \
  {                                                                                \
    const __m512bh ai = reinterpret_cast<__m512bh>(_mm512_set1_epi32(a32[i]));     \
    c##i##lo = _mm512_dpbf16_ps(c##i##lo, ai, b0);                                 \
    c##i##hi = _mm512_dpbf16_ps(c##i##hi, ai, b1);                                 \
  }
    SAEKIT_ROWS12(SAEKIT_DP)
#undef SAEKIT_DP
    a32 += 12;
    b += 64;
  }
  const __m512 vbeta = _mm512_set1_ps(beta);
#define SAEKIT_STORE(i) store_row(c + (i) * ldc, c##i##lo, c##i##hi, mode, vbeta);
  SAEKIT_ROWS12(SAEKIT_STORE)
#undef SAEKIT_STORE
}

}  // namespace bf16k

namespace {

// ---- AMX ------------------------------------------------------------------------------------------------

struct alignas(64) TileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};

// Tiles 0-3: the 2×2 C tiles (16×16 float32); 4-5: A (16 rows × 32 bf16); 6-7: B (16 k-pairs × 16 columns).
SAEKIT_TARGET_AMX void amx_begin() {
  TileConfig cfg;
  std::memset(&cfg, 0, sizeof(cfg));
  cfg.palette_id = 1;
  for (int t = 0; t < 8; ++t) {
    cfg.rows[t] = 16;
    cfg.colsb[t] = 64;
  }
  _tile_loadconfig(&cfg);
}

SAEKIT_TARGET_AMX void amx_end() { _tile_release(); }

// 32×32 tile of C over kcp (a multiple of 32) into tmp (ld 32).
SAEKIT_TARGET_AMX void kernel_amx_32x32(long kcp, const uint16_t* a, const uint16_t* b, float* tmp) {
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (long kb = 0; kb < kcp; kb += 32) {
    _tile_loadd(4, a, 64);
    _tile_loadd(5, a + 16 * 32, 64);
    _tile_loadd(6, b, 128);
    _tile_loadd(7, b + 32, 128);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
    a += 32 * 32;
    b += 16 * 64;
  }
  _tile_stored(0, tmp, 128);
  _tile_stored(1, tmp + 16, 128);
  _tile_stored(2, tmp + 16 * 32, 128);
  _tile_stored(3, tmp + 16 * 32 + 16, 128);
}

// C[m0:m1, n0:n1] for the whole K on a hardware bf16 path.
void gemm_bf16_range(const GemmArgs& g, Bf16Path path, const PackedB* pre, long m0, long m1, long n0, long n1) {
  const Bf16Blocking bl = blocking_for(path);
  const bool amx = path == Bf16Path::kAmx;
  const long kcp_max = ((std::min(bl.kc, g.k) + bl.kalign - 1) / bl.kalign) * bl.kalign;
  const long mc_max = std::min(bl.mc, ((m1 - m0 + bl.mr - 1) / bl.mr) * bl.mr);
  const long nc_max = std::min(bl.nc, ((n1 - n0 + kNr - 1) / kNr) * kNr);
  uint16_t* pa = t_pack_a.get(static_cast<size_t>(mc_max * kcp_max));
  uint16_t* pb = pre ? nullptr : t_pack_b.get(static_cast<size_t>(nc_max * kcp_max));
  alignas(64) float tmp[32 * 32];
  if (amx) amx_begin();
  for (long jc = n0; jc < n1; jc += bl.nc) {
    const long nc = std::min(bl.nc, n1 - jc);
    for (long pc = 0; pc < g.k; pc += bl.kc) {
      const long kc = std::min(bl.kc, g.k - pc);
      const long kcp = ((kc + bl.kalign - 1) / bl.kalign) * bl.kalign;
      // A pre-packed B holds every K block's panels for all N columns: this block's start, then column jc's panel.
      if (pre) pb = const_cast<uint16_t*>(pre->data.get()) + pre->block_offset[pc / bl.kc] + jc * kcp;
      else pack_b(g, jc, nc, pc, kc, kcp, pb);
      const int mode = pc > 0 ? kAccumulate : (g.beta == 0.f ? kStore : (g.beta == 1.f ? kAccumulate : kScaleAccumulate));
      for (long ic = m0; ic < m1; ic += bl.mc) {
        const long mc = std::min(bl.mc, m1 - ic);
        if (amx) pack_a_tiles(g, ic, mc, pc, kc, kcp, pa);
        else pack_a_pairs(g, ic, mc, pc, kc, kcp, pa);
        for (long jr = 0; jr < nc; jr += kNr) {
          const long cols = std::min<long>(kNr, nc - jr);
          const uint16_t* bp = pb + jr * kcp;
          for (long ir = 0; ir < mc; ir += bl.mr) {
            const long rows = std::min<long>(bl.mr, mc - ir);
            const uint16_t* ap = pa + ir * kcp;
            float* cp = g.c + (ic + ir) * g.ldc + jc + jr;
            if (amx) {
              kernel_amx_32x32(kcp, ap, bp, tmp);
              merge_tile(tmp, 32, cp, g.ldc, rows, cols, mode, g.beta);
            } else if (rows == bl.mr && cols == kNr) {
              kernel_bf16_12x32(kcp / 2, ap, bp, cp, g.ldc, mode, g.beta);
            } else {
              kernel_bf16_12x32(kcp / 2, ap, bp, tmp, kNr, kStore, 0.f);
              merge_tile(tmp, kNr, cp, g.ldc, rows, cols, mode, g.beta);
            }
          }
        }
      }
    }
  }
  if (amx) amx_end();
}
#endif

}  // namespace

namespace {
Bf16Path current_path() {
  // The hardware kernels pack and merge with AVX-512; a lowered ISA (testing) lowers bf16 to the emulation too.
  return active_isa() == Isa::kAvx512 ? active_bf16_path() : Bf16Path::kEmulated;
}

void gemm_bf16_impl(const GemmArgs& g, const PackedB* pre) {
  const Bf16Path path = current_path();
  if (path == Bf16Path::kEmulated || g.m * g.n <= 4 || g.k <= 0 || g.alpha == 0.f || g.m <= 0 || g.n <= 0) {
    GemmArgs e = g;
    e.round_bf16 = true;
    sgemm(e);
    return;
  }
#if SAEKIT_X86
  const Bf16Blocking bl = blocking_for(path);
  std::shared_ptr<ThreadPool> p = pool();
  const double flops = 2.0 * static_cast<double>(g.m) * static_cast<double>(g.n) * static_cast<double>(g.k);
  const long col_panels = (g.n + kNr - 1) / kNr, row_panels = (g.m + bl.mr - 1) / bl.mr;
  int parts = flops < 4.0e6 ? 1 : p->threads();
  const bool split_cols = col_panels >= row_panels;
  parts = static_cast<int>(std::min<long>(parts, split_cols ? col_panels : row_panels));
  if (parts <= 1) {
    gemm_bf16_range(g, path, pre, 0, g.m, 0, g.n);
    return;
  }
  p->parallel_for(parts, [&](int t, int) {
    if (split_cols) {
      const long begin = col_panels * t / parts * kNr, end = std::min(g.n, col_panels * (t + 1) / parts * kNr);
      if (begin < end) gemm_bf16_range(g, path, pre, 0, g.m, begin, end);
    } else {
      const long begin = row_panels * t / parts * bl.mr, end = std::min(g.m, row_panels * (t + 1) / parts * bl.mr);
      if (begin < end) gemm_bf16_range(g, path, pre, begin, end, 0, g.n);
    }
  });
#endif
}
}  // namespace

void gemm_bf16(const GemmArgs& g) { gemm_bf16_impl(g, nullptr); }

std::unique_ptr<PackedB> pack_b_bf16(bool trans_b, long k, long n, const float* b, long ldb) {
  auto packed = std::make_unique<PackedB>();
  packed->path = current_path();
  packed->trans_b = trans_b;
  packed->k = k;
  packed->n = n;
  packed->b = b;
  packed->ldb = ldb;
#if SAEKIT_X86
  if (packed->path == Bf16Path::kEmulated || k <= 0 || n <= 0) return packed;  // used through the fp32 kernels
  const Bf16Blocking bl = blocking_for(packed->path);
  const long n_pad = ((n + kNr - 1) / kNr) * kNr;
  size_t total = 0;
  for (long pc = 0; pc < k; pc += bl.kc) {
    packed->block_offset.push_back(total);
    const long kc = std::min(bl.kc, k - pc);
    total += static_cast<size_t>(n_pad * (((kc + bl.kalign - 1) / bl.kalign) * bl.kalign));
  }
  void* mem = std::aligned_alloc(64, ((total * sizeof(uint16_t) + 63) / 64) * 64);
  if (!mem) throw std::bad_alloc();
  packed->data.reset(static_cast<uint16_t*>(mem));
  GemmArgs g{false, trans_b, 0, n, k, 1.f, nullptr, 1, b, ldb, 0.f, nullptr, 1};
  // Blocks × column halves over the pool (the panels of one block are independent).
  const long blocks = static_cast<long>(packed->block_offset.size());
  const long panels = n_pad / kNr;
  std::shared_ptr<ThreadPool> p = pool();
  const int parts = static_cast<int>(std::min<long>(p->threads(), panels));
  p->parallel_for(parts, [&](int t, int) {
    const long j0 = panels * t / parts * kNr, j1 = std::min(n, panels * (t + 1) / parts * kNr);
    if (j0 >= j1) return;
    for (long blk = 0; blk < blocks; ++blk) {
      const long pc = blk * bl.kc, kc = std::min(bl.kc, k - pc);
      const long kcp = ((kc + bl.kalign - 1) / bl.kalign) * bl.kalign;
      pack_b(g, j0, j1 - j0, pc, kc, kcp, packed->data.get() + packed->block_offset[blk] + j0 * kcp);
    }
  });
#endif
  return packed;
}

void gemm_bf16_packed(const GemmArgs& g, const PackedB& packed) {
  if (g.trans_b != packed.trans_b || g.k != packed.k || g.n != packed.n) throw std::invalid_argument("packed B does not match the product's K, N or transB");
  if (!packed.data) {
    GemmArgs e = g;
    e.b = packed.b;
    e.ldb = packed.ldb;
    gemm_bf16_impl(e, nullptr);
    return;
  }
  if (packed.path != current_path()) throw std::invalid_argument("packed B was made for another bf16 path; pack it again");
  GemmArgs e = g;
  e.b = packed.b;
  e.ldb = packed.ldb;
  gemm_bf16_impl(e, &packed);
}

}  // namespace saekit
