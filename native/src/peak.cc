#include "peak.h"

#include <atomic>
#include <chrono>
#include <cstdint>

#include "cpu.h"
#include "simd.h"
#include "thread_pool.h"

namespace saekit {
namespace {

constexpr long kIterations = 20'000'000;
constexpr int kChains = 12;  // independent accumulators: enough to cover FMA latency × pipes

#if SAEKIT_X86
SAEKIT_TARGET_AVX512 float chains_avx512(long n) {
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(1e-3f * i);
  const __m512 m = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-4f);
  for (long k = 0; k < n; ++k) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], m, b);
  }
  alignas(64) float out[16];
  __m512 s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm512_add_ps(s, acc[i]);
  _mm512_store_ps(out, s);
  return out[0];
}

SAEKIT_TARGET_AVX2 float chains_avx2(long n) {
  __m256 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_ps(1e-3f * i);
  const __m256 m = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-4f);
  for (long k = 0; k < n; ++k) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], m, b);
  }
  alignas(32) float out[8];
  __m256 s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm256_add_ps(s, acc[i]);
  _mm256_store_ps(out, s);
  return out[0];
}

// vdpbf16ps chains: each instruction is 16 lanes × 2 products × 2 flops = 64 flops. 24 chains, as many as the
// GEMM micro-kernel's accumulators, so a longer latency than the FMA's cannot hide the peak.
constexpr int kBf16Chains = 24;
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) float chains_bf16(long n) {
  __m512 acc[kBf16Chains];
  for (int i = 0; i < kBf16Chains; ++i) acc[i] = _mm512_set1_ps(1e-3f * i);
  const __m512bh m = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(1e-3f));
  for (long k = 0; k < n; ++k) {
#pragma GCC unroll 24
    for (int i = 0; i < kBf16Chains; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], m, m);
  }
  alignas(64) float out[16];
  __m512 s = acc[0];
  for (int i = 1; i < kBf16Chains; ++i) s = _mm512_add_ps(s, acc[i]);
  _mm512_store_ps(out, s);
  return out[0];
}

// AMX: independent tdpbf16ps into four C tiles (16×16 outputs × 32 products × 2 flops = 16,384 flops each).
__attribute__((target("avx512f,amx-tile,amx-bf16"))) float tiles_amx(long n) {
  struct alignas(64) {
    uint8_t palette, start;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
  } cfg{};
  cfg.palette = 1;
  for (int t = 0; t < 8; ++t) {
    cfg.rows[t] = 16;
    cfg.colsb[t] = 64;
  }
  _tile_loadconfig(&cfg);
  alignas(64) uint16_t ones[16 * 32];
  for (uint16_t& v : ones) v = 0x3f80;  // bf16 1.0 (no zero operands: the timing must not depend on data)
  alignas(64) float out[16 * 16];
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  _tile_loadd(4, ones, 64);
  _tile_loadd(5, ones, 64);
  _tile_loadd(6, ones, 64);
  _tile_loadd(7, ones, 64);
  for (long k = 0; k < n; ++k) {
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  _tile_stored(0, out, 64);
  _tile_release();
  return out[0];
}
#endif

float chains_scalar(long n) {
  float acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = 1e-3f * i;
  for (long k = 0; k < n; ++k)
    for (int i = 0; i < kChains; ++i) acc[i] = acc[i] * 0.999f + 1e-4f;
  float s = 0;
  for (float a : acc) s += a;
  return s;
}

}  // namespace

double fma_peak_gflops() {
  const Isa isa = active_isa();
  const int lanes = isa == Isa::kAvx512 ? 16 : isa == Isa::kAvx2 ? 8 : 1;
  auto p = pool();
  std::atomic<double> total{0.0};
  std::atomic<float> sink{0.f};
  p->parallel_for(p->threads(), [&](int, int) {
    const auto t0 = std::chrono::steady_clock::now();
    float r;
#if SAEKIT_X86
    if (isa == Isa::kAvx512) r = chains_avx512(kIterations);
    else if (isa == Isa::kAvx2) r = chains_avx2(kIterations);
    else
#endif
      r = chains_scalar(kIterations / 8);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const long iters = isa == Isa::kScalar ? kIterations / 8 : kIterations;
    const double gflops = 2.0 * lanes * kChains * static_cast<double>(iters) / s / 1e9;
    double cur = total.load();
    while (!total.compare_exchange_weak(cur, cur + gflops)) {
    }
    sink.store(r);  // keeps the loop from being optimised away
  });
  return total.load();
}

double bf16_peak_gflops(Bf16Path path) {
  if (path == Bf16Path::kEmulated) return 0.0;
  auto p = pool();
  std::atomic<double> total{0.0};
  std::atomic<float> sink{0.f};
  p->parallel_for(p->threads(), [&](int, int) {
    const auto t0 = std::chrono::steady_clock::now();
    float r = 0.f;
    double flops = 0.0;
#if SAEKIT_X86
    if (path == Bf16Path::kAmx) {
      const long n = kIterations / 40;
      r = tiles_amx(n);
      flops = 4.0 * 16 * 16 * 32 * 2 * static_cast<double>(n);
    } else {
      const long n = kIterations / 4;
      r = chains_bf16(n);
      flops = 64.0 * kBf16Chains * static_cast<double>(n);
    }
#endif
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double gflops = flops / s / 1e9;
    double cur = total.load();
    while (!total.compare_exchange_weak(cur, cur + gflops)) {
    }
    sink.store(r);
  });
  return total.load();
}

}  // namespace saekit
