// Measures the machine's FMA throughput so benchmarks can report GEMM efficiency against a peak measured in
// the same run (clock speeds and SIMD widths differ between machines of the "same" kind).
#pragma once
#include "cpu.h"

namespace saekit {

// GFLOP/s of independent register-only FMAs on every pool thread at the active ISA, summed over threads.
double fma_peak_gflops();

// The same for bf16 dot products on a hardware bf16 path (vdpbf16ps chains, or tdpbf16ps on four C tiles);
// 0 for the emulated path.
double bf16_peak_gflops(Bf16Path path);

}  // namespace saekit
