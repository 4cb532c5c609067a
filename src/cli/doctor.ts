/** `saekit doctor`: which kernel backend is active, what the CPU offers, and a quick correctness/speed check. */
import type { Command } from "commander";
import os from "node:os";
import path from "node:path";
import { backendInfo, jsKernels, kernels } from "../core/backend.js";
import { jsKernelsBf16 } from "../core/kernels-js.js";
import { Rng } from "../core/rng.js";
import { packageInfo } from "../package-info.js";

export interface DoctorReport {
  saekit: string;
  node: string;
  platform: string;
  cpu: string;
  logicalCpus: number;
  backend: ReturnType<typeof backendInfo>;
  env: Record<string, string | undefined>;
  selfCheck: {
    /** fp32 products vs the TS kernels. */
    maxAbsDiffVsTs: number;
    /** bf16 products vs the TS bf16 reference (same rounded operands; only the float32 summation order differs). */
    maxAbsDiffBf16VsTs: number;
    /** GFLOP/s of the products at the active precision, and at fp32 for comparison. */
    gemmGflops: number;
    gemmGflopsFp32: number;
    shape: string;
  };
}

/** bf16 self-check bound for the 256×256×256 product of values in [−1, 1]: (K+2)·2⁻²⁴·Σ|a·b| ≤ 258·2⁻²⁴·256. */
const BF16_SELF_CHECK_TOL = (258 * 256) / 2 ** 24;

/**
 * Multiplies random 256×256 matrices on the active backend at both precisions, compares with the TS kernels (fp32)
 * and the TS bf16 reference, and times a larger product at the active precision and at fp32.
 */
function selfCheck(): DoctorReport["selfCheck"] {
  const active = kernels();
  const k = active.withPrecision("fp32");
  const rng = new Rng(1);
  const n = 256;
  const a = new Float32Array(n * n), b = new Float32Array(n * n);
  rng.fillUniform(a, -1, 1);
  rng.fillUniform(b, -1, 1);
  const c = new Float32Array(n * n), ref = new Float32Array(n * n);
  k.gemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n);
  jsKernels.gemm(false, false, n, n, n, 1, a, n, b, n, 0, ref, n);
  let maxDiff = 0;
  for (let i = 0; i < c.length; i++) maxDiff = Math.max(maxDiff, Math.abs(c[i]! - ref[i]!));
  active.withPrecision("bf16").gemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n);
  jsKernelsBf16.gemm(false, false, n, n, n, 1, a, n, b, n, 0, ref, n);
  let maxDiffBf16 = 0;
  for (let i = 0; i < c.length; i++) maxDiffBf16 = Math.max(maxDiffBf16, Math.abs(c[i]! - ref[i]!));
  const m = k.name === "native" ? 1024 : 256;
  const x = new Float32Array(m * m), y = new Float32Array(m * m), z = new Float32Array(m * m);
  rng.fillUniform(x, -1, 1);
  rng.fillUniform(y, -1, 1);
  const rate = (kk: typeof k): number => {
    kk.gemm(false, false, m, m, m, 1, x, m, y, m, 0, z, m); // warm-up
    const reps = 3;
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) kk.gemm(false, false, m, m, m, 1, x, m, y, m, 0, z, m);
    return (2 * m * m * m * reps) / ((performance.now() - t0) / 1000) / 1e9;
  };
  return {
    maxAbsDiffVsTs: maxDiff, maxAbsDiffBf16VsTs: maxDiffBf16, gemmGflops: rate(active),
    gemmGflopsFp32: active.precision === "fp32" ? NaN : rate(k), shape: `${m}×${m}×${m}`,
  };
}

export function doctorReport(): DoctorReport {
  const cpus = os.cpus();
  return {
    saekit: packageInfo().version,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpu: cpus[0]?.model ?? "unknown",
    logicalCpus: os.availableParallelism(),
    backend: backendInfo(),
    env: {
      SAEKIT_BACKEND: process.env.SAEKIT_BACKEND,
      SAEKIT_THREADS: process.env.SAEKIT_THREADS,
      SAEKIT_ISA: process.env.SAEKIT_ISA,
      SAEKIT_PRECISION: process.env.SAEKIT_PRECISION,
    },
    selfCheck: selfCheck(),
  };
}

/** Where the addon came from: prebuilt (shipped in prebuilds/), built here (build/Release), or missing and why. */
function addonLine(a: DoctorReport["backend"]["addon"]): string {
  if (a.origin === "missing") return `missing: ${a.error}`;
  return a.error ?? `${a.origin} (${path.relative(packageInfo().root, a.path)})`;
}

export function formatDoctor(r: DoctorReport): string {
  const b = r.backend;
  const lines = [
    `saekit ${r.saekit}  (node ${r.node}, ${r.platform})`,
    `CPU:           ${r.cpu}, ${r.logicalCpus} logical CPUs`,
    `CPU features:  ${b.cpuFeatures.length ? b.cpuFeatures.join(" ") : "(native addon not loaded)"}`,
    `backend:       ${b.name}${b.name === "native" ? ` (${b.isa}, ${b.threads} threads)` : ""}`,
  ];
  if (b.fallbackReason) lines.push(`               using the TypeScript kernels because: ${b.fallbackReason}`);
  lines.push(`native addon:  ${addonLine(b.addon)}`);
  const env = Object.entries(r.env).filter(([, v]) => v !== undefined);
  lines.push(`environment:   ${env.length ? env.map(([k, v]) => `${k}=${v}`).join(" ") : "(no SAEKIT_* variables set)"}`);
  const why = b.precisionSource === "SAEKIT_PRECISION" ? "set by SAEKIT_PRECISION" : `${b.precisionSource}; SAEKIT_PRECISION=fp32|bf16 overrides`;
  lines.push(`precision:     ${b.precision} products (${why})`);
  lines.push(`bf16 path:     ${bf16PathLine(b)}`);
  const sc = r.selfCheck;
  lines.push(
    `self-check:    gemm vs TS reference max |diff| ${sc.maxAbsDiffVsTs.toExponential(2)} ${selfCheckOk(r) ? "OK" : "MISMATCH"}` +
      `, bf16 gemm vs TS bf16 reference ${sc.maxAbsDiffBf16VsTs.toExponential(2)}; ` +
      `${sc.gemmGflops.toFixed(1)} GFLOP/s (${b.precision}) on ${sc.shape}` +
      (Number.isNaN(sc.gemmGflopsFp32) ? "" : `, ${sc.gemmGflopsFp32.toFixed(1)} at fp32`),
  );
  return lines.join("\n");
}

const BF16_PATHS: Record<string, string> = {
  amx: "AMX-BF16 tiles (tdpbf16ps)",
  avx512bf16: "AVX512-BF16 dot products (vdpbf16ps)",
  emulated: "emulated: fp32 kernels on bf16-rounded operands (no hardware bf16; same numbers, no speed-up)",
};

function bf16PathLine(b: DoctorReport["backend"]): string {
  const path = BF16_PATHS[b.bf16Path] ?? b.bf16Path;
  return b.amxUnavailable ? `${path}; AMX not used: ${b.amxUnavailable}` : path;
}

function selfCheckOk(r: DoctorReport): boolean {
  return r.selfCheck.maxAbsDiffVsTs < 1e-3 && r.selfCheck.maxAbsDiffBf16VsTs <= BF16_SELF_CHECK_TOL;
}

export function registerDoctor(program: Command): void {
  program
    .command("doctor")
    .description("show the active kernel backend, CPU features, threads and versions, and self-check the kernels")
    .option("--json", "print the report as JSON")
    .action((opts: { json?: boolean }) => {
      const report = doctorReport();
      console.log(opts.json ? JSON.stringify(report, null, 2) : formatDoctor(report));
      if (!selfCheckOk(report)) process.exitCode = 1;
    });
}
