// Measures the machine's FMA throughput so benchmarks can report GEMM efficiency against a peak measured in
// the same run (clock speeds and SIMD widths differ between machines of the "same" kind).
#pragma once

namespace saekit {

// GFLOP/s of independent register-only FMAs on every pool thread at the active ISA, summed over threads.
double fma_peak_gflops();

}  // namespace saekit
