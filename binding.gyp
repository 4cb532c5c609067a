{
  "targets": [
    {
      "target_name": "saekit_native",
      "sources": [
        "native/src/analyze_kernels.cc",
        "native/src/binding.cc",
        "native/src/cpu.cc",
        "native/src/elementwise.cc",
        "native/src/gemm.cc",
        "native/src/gemm_bf16.cc",
        "native/src/peak.cc",
        "native/src/rows.cc",
        "native/src/softmax.cc",
        "native/src/sparse.cc",
        "native/src/thread_pool.cc",
        "native/src/unembed_ce.cc"
      ],
      "cflags_cc!": ["-fno-exceptions", "-O2"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-fopenmp-simd", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "ldflags": ["-pthread"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
