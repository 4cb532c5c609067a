#!/usr/bin/env python3
"""PyTorch's matmul at the SAE shapes, float32 and under bf16 autocast (oneDNN: AMX or AVX512-BF16), for bench/kernels.ts.

Prints one JSON line: {"impl", "threads", "shapes": [{"name", "m", "n", "k", "ta", "tb", "fp32_gflops", "bf16_gflops"}]}.
Shapes are read from argv as name:m:n:k:ta:tb (ta/tb 0 or 1: the operand is stored transposed, as in saekit's gemm).
"""
import json, sys, time
import torch

threads = 2
shapes = []
for arg in sys.argv[1:]:
    if arg.startswith("--threads="):
        threads = int(arg.split("=", 1)[1])
        continue
    name, m, n, k, ta, tb = arg.split(":")
    shapes.append((name, int(m), int(n), int(k), ta == "1", tb == "1"))
torch.set_num_threads(threads)
torch.manual_seed(0)

def best(fn, reps=3):
    fn()
    t = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        t = min(t, time.perf_counter() - t0)
    return t

out = []
for name, m, n, k, ta, tb in shapes:
    a = torch.randn(k, m) if ta else torch.randn(m, k)
    b = torch.randn(n, k) if tb else torch.randn(k, n)
    op_a = a.t() if ta else a
    op_b = b.t() if tb else b
    flops = 2.0 * m * n * k
    fp32 = flops / best(lambda: op_a @ op_b) / 1e9
    def bf16():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return op_a @ op_b
    out.append({"name": name, "m": m, "n": n, "k": k, "ta": ta, "tb": tb, "fp32_gflops": round(fp32, 1),
                "bf16_gflops": round(flops / best(bf16) / 1e9, 1)})
print(json.dumps({"impl": "pytorch-" + torch.__version__, "threads": threads, "shapes": out}))
