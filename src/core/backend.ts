/**
 * Backend selection: the native addon when it loaded, else the pure-TS kernels.
 *
 * SAEKIT_BACKEND=js forces the TS backend; SAEKIT_BACKEND=native requires the addon (error if missing).
 * SAEKIT_THREADS sets the native thread pool size (default: available parallelism).
 * SAEKIT_PRECISION=fp32|bf16 sets the precision of the matrix products (default: bf16 where the CPU computes bf16
 * natively — AMX-BF16 or AVX512-BF16 — else fp32); setPrecision() changes it for the rest of the process.
 */
import type { FloatArray, Kernels, Precision } from "./kernels.js";
import os from "node:os";
import { jsKernels } from "./kernels-js.js";
import { loadNativeKernels, type NativeLoadResult } from "./native.js";

export interface BackendInfo {
  name: "native" | "js";
  isa: string;
  threads: number;
  /** The host's CPU model and logical CPU count (os.cpus()): what training records and cards name as the host. */
  cpuModel: string;
  cpus: number;
  /** Why the native backend is not active, when it is not. */
  fallbackReason?: string;
  /** CPU features the native addon detected (empty on the js backend). */
  cpuFeatures: string[];
  /** Precision of the matrix products, and why (SAEKIT_PRECISION, setPrecision, or the CPU default). */
  precision: Precision;
  precisionSource: string;
  /** How bf16 products run: "amx", "avx512bf16" or "emulated" (see Kernels.bf16Path). */
  bf16Path: string;
  /** Why the AMX-BF16 path is off ("" when it is on; absent without the addon). */
  amxUnavailable?: string;
  /** Where the native addon came from (whichever backend is active): its file, or why there is none. */
  addon: { origin: "built here" | "prebuilt"; path: string; error?: string } | { origin: "missing"; error: string };
}

let active: Kernels | undefined;
let precisionOverride: Precision | undefined;
let activeAtPrecision: Kernels | undefined;
let nativeResult: NativeLoadResult | undefined;
let warned = false;

function requestedBackend(): "native" | "js" | "auto" {
  const v = (process.env.SAEKIT_BACKEND ?? "").trim().toLowerCase();
  if (v === "" || v === "auto") return "auto";
  if (v === "native" || v === "js") return v;
  throw new Error(`SAEKIT_BACKEND must be "native", "js" or "auto", got "${process.env.SAEKIT_BACKEND}"`);
}

function requestedThreads(): number | undefined {
  const v = process.env.SAEKIT_THREADS;
  if (v === undefined || v.trim() === "") return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 256) {
    throw new Error(`SAEKIT_THREADS must be an integer between 1 and 256, got "${v}"`);
  }
  return n;
}

function requestedPrecision(): Precision | "auto" {
  const v = (process.env.SAEKIT_PRECISION ?? "").trim().toLowerCase();
  if (v === "" || v === "auto") return "auto";
  if (v === "fp32" || v === "bf16") return v;
  throw new Error(`SAEKIT_PRECISION must be "fp32", "bf16" or "auto", got "${process.env.SAEKIT_PRECISION}"`);
}

/** bf16 by default only where it is faster: a native hardware bf16 path (not the emulation). */
function defaultPrecision(k: Kernels): Precision {
  return k.name === "native" && (k.bf16Path === "amx" || k.bf16Path === "avx512bf16") ? "bf16" : "fp32";
}

function precisionChoice(k: Kernels): { precision: Precision; source: string } {
  if (precisionOverride) return { precision: precisionOverride, source: "setPrecision()" };
  const want = requestedPrecision();
  if (want !== "auto") return { precision: want, source: "SAEKIT_PRECISION" };
  const precision = defaultPrecision(k);
  return {
    precision,
    source: precision === "bf16" ? `default: the CPU computes bf16 (${k.bf16Path})` : "default: no hardware bf16 path",
  };
}

/**
 * Sets the precision of kernels()'s matrix products for the rest of the process ("auto": back to
 * SAEKIT_PRECISION or the CPU default). Objects already obtained from kernels() keep theirs.
 */
export function setPrecision(p: Precision | "auto"): void {
  if (p !== "auto" && p !== "fp32" && p !== "bf16") throw new RangeError(`setPrecision: expected fp32, bf16 or auto, got ${String(p)}`);
  precisionOverride = p === "auto" ? undefined : p;
  activeAtPrecision = undefined;
}

function native(): NativeLoadResult {
  nativeResult ??= loadNativeKernels(requestedThreads());
  return nativeResult;
}

/** The active kernels (backend chosen once per process), with products at the current precision. */
export function kernels(): Kernels {
  if (activeAtPrecision) return activeAtPrecision;
  const base = baseKernels();
  activeAtPrecision = base.withPrecision(precisionChoice(base).precision);
  return activeAtPrecision;
}

function baseKernels(): Kernels {
  if (active) return active;
  const want = requestedBackend();
  if (want === "js") {
    active = jsKernels;
    return active;
  }
  const n = native();
  if (n.kernels) {
    active = n.kernels;
    return active;
  }
  if (want === "native") {
    throw new Error(`SAEKIT_BACKEND=native but the native addon is unavailable: ${n.error}`);
  }
  if (!warned) {
    warned = true;
    process.emitWarning(
      `saekit: native kernels unavailable (${n.error}); using the pure TypeScript backend (much slower). ` +
        "Rebuild with `npm rebuild saekit` or set SAEKIT_BACKEND=js to silence this.",
      { code: "SAEKIT_NO_NATIVE" },
    );
  }
  active = jsKernels;
  return active;
}

/** Kernels for a given array type: float64 data always runs on the TS kernels (used for gradient checks). */
export function kernelsFor(data: FloatArray): Kernels<FloatArray> {
  return data instanceof Float64Array ? jsKernels : (kernels() as Kernels<FloatArray>);
}

/** The native fp32 kernels if the addon loads (regardless of SAEKIT_BACKEND), for tests and benchmarks. */
export function nativeKernels(): Kernels | undefined {
  return native().kernels;
}

/** The machine's measured bf16 dot-product peak on the native bf16 path (GFLOP/s, all threads); 0 if emulated. */
export function measureBf16PeakGflops(): number | undefined {
  return native().bf16PeakGflops?.();
}

/** The machine's measured FMA peak (GFLOP/s, all native threads), to put GEMM figures in proportion. */
export function measureFmaPeakGflops(): number | undefined {
  return native().fmaPeakGflops?.();
}

export function backendInfo(): BackendInfo {
  const k = kernels();
  const n = native();
  const addon: BackendInfo["addon"] = n.origin && n.addonPath
    ? { origin: n.origin, path: n.addonPath, ...(n.error ? { error: n.error } : {}) }
    : { origin: "missing", error: n.error ?? "unknown" };
  const { precision, source } = precisionChoice(baseKernels());
  const info: BackendInfo = {
    name: k.name, isa: k.isa, threads: k.threads, cpuModel: os.cpus()[0]?.model.trim() || "unknown", cpus: os.cpus().length, cpuFeatures: n.cpuFeatures, addon,
    precision, precisionSource: source, bf16Path: k.bf16Path,
    ...(n.amxUnavailable !== undefined ? { amxUnavailable: n.amxUnavailable } : {}),
  };
  if (k.name === "js") {
    info.fallbackReason = requestedBackend() === "js" ? "SAEKIT_BACKEND=js" : n.error ?? "unknown";
  }
  return info;
}

/**
 * What a training record (training.json) keeps of backendInfo: the backend, CPU and precision, without the addon's
 * file path, so that a shipped artefact does not name the machine that made it.
 */
export function backendRecord(): Omit<BackendInfo, "addon"> & { addon: string } {
  const { addon, ...rest } = backendInfo();
  // A fallback reason can quote the addon's path ("the built addon /…/saekit_native.node failed to load"): keep its file name.
  if (rest.fallbackReason) rest.fallbackReason = rest.fallbackReason.replace(/(?:[A-Za-z]:)?[\\/][^\s:]*[\\/]([^\s\\/:]+)/g, "$1");
  return { ...rest, addon: addon.origin };
}

export { jsKernels };
