#include "cpu.h"

#include <mutex>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace saekit {

namespace {
Isa g_active = Isa::kScalar;
Bf16Path g_bf16 = Bf16Path::kEmulated;

bool x86_has(const char* feature) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  // __builtin_cpu_supports needs a string literal, hence the explicit list.
  std::string f(feature);
  if (f == "avx512f") return __builtin_cpu_supports("avx512f");
  if (f == "avx512bw") return __builtin_cpu_supports("avx512bw");
  if (f == "avx512dq") return __builtin_cpu_supports("avx512dq");
  if (f == "avx512vl") return __builtin_cpu_supports("avx512vl");
  if (f == "avx2") return __builtin_cpu_supports("avx2");
  if (f == "fma") return __builtin_cpu_supports("fma");
  if (f == "avx") return __builtin_cpu_supports("avx");
  if (f == "sse4.2") return __builtin_cpu_supports("sse4.2");
  if (f == "f16c") return __builtin_cpu_supports("f16c");
#endif
  (void)feature;
  return false;
}

#if defined(__x86_64__) || defined(__i386__)
// CPUID leaf 7: subleaf 1 EAX bit 5 = AVX512_BF16; subleaf 0 EDX bit 22 = AMX-BF16, bit 24 = AMX-TILE.
bool cpuid7(unsigned subleaf, unsigned& eax, unsigned& ebx, unsigned& ecx, unsigned& edx) {
  if (__get_cpuid_max(0, nullptr) < 7) return false;
  __cpuid_count(7, subleaf, eax, ebx, ecx, edx);
  return true;
}
unsigned long long xcr0() {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & (1u << 27))) return 0;  // no OSXSAVE
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<unsigned long long>(hi) << 32) | lo;
}
#endif

bool has_avx512_bf16() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned a, b, c, d;
  return detect_isa() == Isa::kAvx512 && cpuid7(1, a, b, c, d) && (a & (1u << 5));
#else
  return false;
#endif
}

bool cpu_has_amx(bool& tile, bool& bf16) {
  tile = bf16 = false;
#if defined(__x86_64__)
  unsigned a, b, c, d;
  if (!cpuid7(0, a, b, c, d)) return false;
  bf16 = d & (1u << 22);
  tile = d & (1u << 24);
#endif
  return tile && bf16;
}

// Linux keeps AMX tile data off until a process asks (XFEATURE_XTILEDATA = 18); the answer holds process-wide.
std::string request_amx_permission() {
#if defined(__linux__) && defined(__x86_64__)
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0)
    return "the kernel refused arch_prctl(ARCH_REQ_XCOMP_PERM, XTILEDATA)";
  return "";
#elif defined(__x86_64__)
  return "AMX tile permission is only requested on Linux";
#else
  return "not an x86-64 CPU";
#endif
}

std::string compute_amx_reason() {
  bool tile, bf16;
  cpu_has_amx(tile, bf16);
  if (!tile || !bf16) {
    std::string missing;
    if (!tile) missing = "amx_tile";
    if (!bf16) missing += missing.empty() ? "amx_bf16" : "/amx_bf16";
    return "CPU lacks " + missing;
  }
#if defined(__x86_64__)
  if ((xcr0() & (3ull << 17)) != (3ull << 17)) return "the OS does not enable AMX tile state (XCR0 bits 17-18)";
#endif
  return request_amx_permission();
}
}  // namespace

std::vector<std::string> cpu_features() {
  std::vector<std::string> found;
  for (const char* f : {"sse4.2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512dq", "avx512vl"}) {
    if (x86_has(f)) found.emplace_back(f);
  }
  if (has_avx512_bf16()) found.emplace_back("avx512_bf16");
  bool tile, bf16;
  cpu_has_amx(tile, bf16);
  if (tile) found.emplace_back("amx_tile");
  if (bf16) found.emplace_back("amx_bf16");
  return found;
}

Isa detect_isa() {
  if (x86_has("avx512f") && x86_has("avx512bw") && x86_has("avx512dq") && x86_has("avx512vl")) return Isa::kAvx512;
  if (x86_has("avx2") && x86_has("fma")) return Isa::kAvx2;
  return Isa::kScalar;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kAvx512: return "avx512";
    case Isa::kAvx2: return "avx2";
    default: return "scalar";
  }
}

std::string amx_unavailable_reason() {
  static std::once_flag once;
  static std::string reason;
  std::call_once(once, [] { reason = compute_amx_reason(); });
  return reason;
}

Bf16Path detect_bf16_path() {
  // The AMX kernels pack with AVX512-BF16 conversions (every AMX CPU so far has them).
  if (has_avx512_bf16() && amx_unavailable_reason().empty()) return Bf16Path::kAmx;
  if (has_avx512_bf16()) return Bf16Path::kAvx512Bf16;
  return Bf16Path::kEmulated;
}

const char* bf16_path_name(Bf16Path path) {
  switch (path) {
    case Bf16Path::kAmx: return "amx";
    case Bf16Path::kAvx512Bf16: return "avx512bf16";
    default: return "emulated";
  }
}

Isa active_isa() { return g_active; }
void set_active_isa(Isa isa) { g_active = isa; }
Bf16Path active_bf16_path() { return g_bf16; }
void set_active_bf16_path(Bf16Path path) { g_bf16 = path; }

}  // namespace saekit
