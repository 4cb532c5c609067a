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

}  // namespace saekit
