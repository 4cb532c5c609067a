/**
 * GEMM at the SAE shapes (d_in 512, d_sae 16384, batch 4096: the forward products and the transposed
 * products backprop needs) and the sparse TopK decoder, native next to the pure-TS backend.
 * The TS backend runs the same shapes with the batch cut to 256 rows (it would take minutes otherwise);
 * GFLOP/s is a rate, so the figures compare.
 *
 * Both precisions: fp32 against the measured FMA peak, bf16 (bf16 operands, float32 accumulation) against the
 * measured bf16 dot-product peak (vdpbf16ps chains or AMX tiles) — the roofline — and both against PyTorch's
 * matmul at the same shapes, float32 and under bf16 autocast (bench/torch_matmul.py, when torch is installed).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { backendInfo, jsKernels, measureBf16PeakGflops, measureFmaPeakGflops, nativeKernels } from "../src/core/backend.js";
import type { Kernels } from "../src/core/kernels.js";
import { Rng } from "../src/core/rng.js";
import { bestOf, table } from "./timing.js";

interface GemmShape {
  name: string;
  transA: boolean;
  transB: boolean;
  /** M, N, K as functions of the batch size, so the TS run can use a smaller batch. */
  dims: (batch: number) => [number, number, number];
}

const D_IN = 512, D_SAE = 16384, BATCH = 4096, TS_BATCH = 256;

const SHAPES: GemmShape[] = [
  { name: "encode  X·W_enc        [B×512]·[512×16384]", transA: false, transB: false, dims: (b) => [b, D_SAE, D_IN] },
  { name: "decode  F·W_dec        [B×16384]·[16384×512]", transA: false, transB: false, dims: (b) => [b, D_IN, D_SAE] },
  { name: "dX = dPre·W_encᵀ  (NT) [B×16384]·[16384×512]", transA: false, transB: true, dims: (b) => [b, D_IN, D_SAE] },
  { name: "dF = dX̂·W_decᵀ   (NT) [B×512]·[512×16384]", transA: false, transB: true, dims: (b) => [b, D_SAE, D_IN] },
  { name: "dW_enc = Xᵀ·dPre (TN) [512×B]·[B×16384]", transA: true, transB: false, dims: (b) => [D_IN, D_SAE, b] },
  { name: "dW_dec = Fᵀ·dX̂   (TN) [16384×B]·[B×512]", transA: true, transB: false, dims: (b) => [D_SAE, D_IN, b] },
];

/** The Python that has torch (Debian: python3-torch + libopenblas0-pthread), as bench/sae.ts uses. */
export function pythonWithTorch(): string {
  return process.env.SAEKIT_PYTHON ?? (existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3");
}

interface TorchMatmul {
  fp32: number;
  bf16: number;
}

/** PyTorch's matmul GFLOP/s at our shapes (float32 and bf16 autocast), or why it could not run. */
function torchMatmul(threads: number): TorchMatmul[] | string {
  // From dist/bench (npm run bench) or bench/ itself (vite-node).
  const here = dirname(fileURLToPath(import.meta.url));
  const script = [resolve(here, "torch_matmul.py"), resolve(here, "..", "..", "bench", "torch_matmul.py")].find(existsSync);
  if (!script) return "bench/torch_matmul.py not found";
  const args = SHAPES.map((s, i) => {
    const [M, N, K] = s.dims(BATCH);
    return `s${i}:${M}:${N}:${K}:${s.transA ? 1 : 0}:${s.transB ? 1 : 0}`;
  });
  const run = spawnSync(pythonWithTorch(), [script, `--threads=${threads}`, ...args], { encoding: "utf8", timeout: 600_000 });
  if (run.status !== 0) return `PyTorch not run (${(run.stderr || run.error?.message || "").trim().split("\n").pop()})`;
  const parsed = JSON.parse(run.stdout.trim().split("\n").pop()!) as { shapes: { fp32_gflops: number; bf16_gflops: number }[] };
  return parsed.shapes.map((x) => ({ fp32: x.fp32_gflops, bf16: x.bf16_gflops }));
}

function gemmGflops(k: Kernels, shape: GemmShape, batch: number, reps: number, rng: Rng): number {
  const [M, N, K] = shape.dims(batch);
  const a = new Float32Array(M * K), b = new Float32Array(K * N), c = new Float32Array(M * N);
  rng.fillUniform(a, -1, 1);
  rng.fillUniform(b, -1, 1);
  const lda = shape.transA ? M : K, ldb = shape.transB ? K : N;
  const ms = bestOf(reps, () => k.gemm(shape.transA, shape.transB, M, N, K, 1, a, lda, b, ldb, 0, c, N));
  return (2 * M * N * K) / (ms / 1000) / 1e9;
}

function sparseDecodeMs(k: Kernels, rows: number, active: number, rng: Rng): { ms: number; gbps: number } {
  const w = new Float32Array(D_SAE * D_IN);
  rng.fillUniform(w, -1, 1);
  const indices = new Int32Array(rows * active), values = new Float32Array(rows * active);
  for (let r = 0; r < rows; r++) {
    // Distinct latents per row, as TopK produces.
    const perm = rng.permutation(D_SAE);
    for (let j = 0; j < active; j++) indices[r * active + j] = perm[j]!;
  }
  rng.fillUniform(values, 0, 2);
  const out = new Float32Array(rows * D_IN);
  const ms = bestOf(5, () => k.sparseDecode(rows, active, indices, values, w, D_IN, out, false));
  // Bytes of W_dec rows gathered (the traffic that bounds this kernel).
  return { ms, gbps: (rows * active * D_IN * 4) / (ms / 1000) / 1e9 };
}

/**
 * The weight gradient of a sparse code, dW = codesᵀ·dOut (an SAE's decoder and encoder gradients), at a ReLU run's
 * L0 (4,096 latents, as A/1): the native sparse kernel next to the dense bf16 GEMM of the same product, which it
 * replaces. Distinct latents per row, drawn uniformly.
 */
function sparseWeightGradRow(native: Kernels, bf16: Kernels | undefined, l0: number, rng: Rng): (string | number)[] {
  const rows = BATCH, latents = 4096;
  const indices = new Int32Array(rows * l0), values = new Float32Array(rows * l0);
  for (let r = 0; r < rows; r++) {
    const perm = rng.permutation(latents);
    for (let j = 0; j < l0; j++) indices[r * l0 + j] = perm[j]!;
  }
  rng.fillUniform(values, 0, 2);
  const dOut = new Float32Array(rows * D_IN), dW = new Float32Array(latents * D_IN), w = new Float32Array(latents * D_IN);
  rng.fillUniform(dOut, -1, 1);
  const sparseMs = bestOf(5, () => native.sparseDecodeBackward(rows, l0, indices, values, w, D_IN, dOut, null, dW));
  let denseMs = NaN;
  if (bf16) {
    const codes = new Float32Array(rows * latents);
    for (let i = 0; i < indices.length; i++) codes[Math.floor(i / l0) * latents + indices[i]!] = values[i]!;
    denseMs = bestOf(3, () => bf16.gemm(true, false, latents, D_IN, rows, 1, codes, latents, dOut, D_IN, 0, dW, D_IN));
  }
  const gflops = (2 * rows * l0 * D_IN) / (sparseMs / 1000) / 1e9;
  return [l0, sparseMs.toFixed(2), gflops.toFixed(1), denseMs.toFixed(2), `${(denseMs / sparseMs).toFixed(1)}×`];
}

export function benchKernels(): void {
  const info = backendInfo();
  const native = nativeKernels();
  console.log(`# kernels — active backend: ${info.name}${native ? ` (native isa ${native.isa}, ${native.threads} threads)` : ""}`);
  if (!native) console.log(`native addon unavailable: ${info.fallbackReason ?? "not built"}; TS figures only`);
  const rng = new Rng(42);
  // Best of 5: a ~0.1 s register-only loop is easily cut short by other processes on a shared machine.
  const bestPeak = (measure: () => number | undefined) => {
    const runs = Array.from({ length: 5 }, measure).filter((x): x is number => x !== undefined);
    return runs.length ? Math.max(...runs) : undefined;
  };
  const peak = bestPeak(measureFmaPeakGflops);
  if (peak) console.log(`machine FMA peak (register-only FMAs on ${native!.threads} threads, ${native!.isa}): ${peak.toFixed(1)} GFLOP/s`);
  const bf16 = native?.withPrecision("bf16");
  const peak16 = native && native.bf16Path !== "emulated" ? bestPeak(measureBf16PeakGflops) : undefined;
  if (native) {
    console.log(
      peak16
        ? `machine bf16 peak (register-only ${native.bf16Path === "amx" ? "tdpbf16ps tile products" : "vdpbf16ps dot products"} on ${native.threads} threads): ` +
            `${peak16.toFixed(1)} GFLOP/s = ${peak ? (peak16 / peak).toFixed(2) : "?"}× the FMA peak`
        : `bf16 products are emulated on this CPU (no AVX512-BF16 or AMX): bf16 runs at the fp32 rate`,
    );
  }
  const torch = torchMatmul(native?.threads ?? 1);
  if (typeof torch === "string") console.log(torch);
  const rows: (string | number)[][] = [];
  SHAPES.forEach((shape, i) => {
    const nat = native ? gemmGflops(native, shape, BATCH, 3, rng) : NaN;
    const nat16 = bf16 ? gemmGflops(bf16, shape, BATCH, 3, rng) : NaN;
    const ts = gemmGflops(jsKernels as Kernels, shape, TS_BATCH, 1, rng);
    const t = typeof torch === "string" ? undefined : torch[i];
    rows.push([
      shape.name, nat.toFixed(1), peak ? `${((100 * nat) / peak).toFixed(0)}%` : "-",
      nat16.toFixed(1), peak16 ? `${((100 * nat16) / peak16).toFixed(0)}%` : "-",
      t ? t.fp32.toFixed(1) : "-", t ? t.bf16.toFixed(1) : "-", t ? `${(nat16 / t.bf16).toFixed(2)}×` : "-",
      ts.toFixed(2), native ? `${(nat / ts).toFixed(0)}×` : "-",
    ]);
  });
  console.log(`\nGEMM GFLOP/s (batch B = ${BATCH} native and PyTorch, ${TS_BATCH} TS); target: saekit bf16 ≥ 1.0× PyTorch bf16`);
  console.log(table(
    ["shape", "fp32", "% FMA peak", "bf16", "% bf16 peak", "torch fp32", "torch bf16", "bf16/torch bf16", "ts", "fp32/ts"], rows,
  ));

  const nat = native ? sparseDecodeMs(native, BATCH, 32, rng) : undefined;
  const ts = sparseDecodeMs(jsKernels as Kernels, BATCH, 32, rng);
  console.log(`\nsparse decoder: ${BATCH} rows × 32 active of ${D_SAE} latents → ${D_IN}`);
  console.log(
    table(["backend", "ms", "GB/s of W_dec rows"], [
      ...(nat ? [["native", nat.ms.toFixed(2), nat.gbps.toFixed(1)]] : []),
      ["ts", ts.ms.toFixed(2), ts.gbps.toFixed(1)],
    ]),
  );
  if (nat) console.log(`native/ts: ${(ts.ms / nat.ms).toFixed(0)}×`);

  if (native) {
    console.log(`\nsparse weight gradient codesᵀ·dOut: ${BATCH} rows, 4096 latents → ${D_IN} (a ReLU SAE's decoder and encoder gradients)`);
    console.log(table(
      ["L0", "sparse ms", "sparse GFLOP/s (useful)", "dense bf16 GEMM ms", "sparse speed-up"],
      [200, 110, 57, 24].map((l0) => sparseWeightGradRow(native, bf16, l0, rng)),
    ));
  }
}
