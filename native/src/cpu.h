// CPU feature detection and the instruction set the kernels dispatch to.
#pragma once
#include <string>
#include <vector>

namespace saekit {

enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

// Best ISA this CPU and OS support (AVX-512 needs F+BW+DQ+VL; AVX2 needs FMA too).
Isa detect_isa();
std::vector<std::string> cpu_features();
const char* isa_name(Isa isa);

// The ISA the kernels use now; set once at init (may be lowered for testing, never raised above detect_isa()).
Isa active_isa();
void set_active_isa(Isa isa);

// How bf16 products are computed: on the fp32 kernels with operands rounded to bf16 (any CPU), with
// AVX512-BF16 dot products (vdpbf16ps), or on the AMX tiles (tdpbf16ps). Accumulation is float32 in all three.
enum class Bf16Path { kEmulated = 0, kAvx512Bf16 = 1, kAmx = 2 };

// Best bf16 path this CPU and OS support. AMX also needs the kernel's permission to use tile data
// (arch_prctl ARCH_REQ_XCOMP_PERM on Linux), requested here once per process.
Bf16Path detect_bf16_path();
const char* bf16_path_name(Bf16Path path);
// Why the AMX path is unavailable ("" when it is available), for doctor and the skipped tests.
std::string amx_unavailable_reason();
Bf16Path active_bf16_path();
void set_active_bf16_path(Bf16Path path);

}  // namespace saekit
