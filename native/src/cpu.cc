#include "cpu.h"

namespace saekit {

namespace {
Isa g_active = Isa::kScalar;

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
}  // namespace

std::vector<std::string> cpu_features() {
  std::vector<std::string> found;
  for (const char* f : {"sse4.2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512dq", "avx512vl"}) {
    if (x86_has(f)) found.emplace_back(f);
  }
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

Isa active_isa() { return g_active; }
void set_active_isa(Isa isa) { g_active = isa; }

}  // namespace saekit
