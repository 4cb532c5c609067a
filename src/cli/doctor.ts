/** `saekit doctor`: which kernel backend is active, what the CPU offers, and a quick correctness/speed check. */
import type { Command } from "commander";
import os from "node:os";
import path from "node:path";
import { backendInfo, jsKernels, kernels } from "../core/backend.js";
import { Rng } from "../core/rng.js";
import { packageInfo } from "./package-info.js";

export interface DoctorReport {
  saekit: string;
  node: string;
  platform: string;
  cpu: string;
  logicalCpus: number;
  backend: ReturnType<typeof backendInfo>;
  env: Record<string, string | undefined>;
  selfCheck: { maxAbsDiffVsTs: number; gemmGflops: number; shape: string };
}

/** Multiplies random 256×256 matrices on the active backend, compares with the TS kernels, times a larger one. */
function selfCheck(): DoctorReport["selfCheck"] {
  const k = kernels();
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
  const m = k.name === "native" ? 1024 : 256;
  const x = new Float32Array(m * m), y = new Float32Array(m * m), z = new Float32Array(m * m);
  rng.fillUniform(x, -1, 1);
  rng.fillUniform(y, -1, 1);
  k.gemm(false, false, m, m, m, 1, x, m, y, m, 0, z, m); // warm-up
  const reps = 3;
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) k.gemm(false, false, m, m, m, 1, x, m, y, m, 0, z, m);
  const seconds = (performance.now() - t0) / 1000;
  return { maxAbsDiffVsTs: maxDiff, gemmGflops: (2 * m * m * m * reps) / seconds / 1e9, shape: `${m}×${m}×${m}` };
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
  const ok = r.selfCheck.maxAbsDiffVsTs < 1e-3;
  lines.push(
    `self-check:    gemm vs TS reference max |diff| ${r.selfCheck.maxAbsDiffVsTs.toExponential(2)} ${ok ? "OK" : "MISMATCH"}; ` +
      `${r.selfCheck.gemmGflops.toFixed(1)} GFLOP/s on ${r.selfCheck.shape}`,
  );
  return lines.join("\n");
}

export function registerDoctor(program: Command): void {
  program
    .command("doctor")
    .description("show the active kernel backend, CPU features, threads and versions, and self-check the kernels")
    .option("--json", "print the report as JSON")
    .action((opts: { json?: boolean }) => {
      const report = doctorReport();
      console.log(opts.json ? JSON.stringify(report, null, 2) : formatDoctor(report));
      if (report.selfCheck.maxAbsDiffVsTs >= 1e-3) process.exitCode = 1;
    });
}
