/**
 * Backend selection: the native addon when it loaded, else the pure-TS kernels.
 *
 * SAEKIT_BACKEND=js forces the TS backend; SAEKIT_BACKEND=native requires the addon (error if missing).
 * SAEKIT_THREADS sets the native thread pool size (default: available parallelism).
 */
import type { FloatArray, Kernels } from "./kernels.js";
import { jsKernels } from "./kernels-js.js";
import { loadNativeKernels, type NativeLoadResult } from "./native.js";

export interface BackendInfo {
  name: "native" | "js";
  isa: string;
  threads: number;
  /** Why the native backend is not active, when it is not. */
  fallbackReason?: string;
  /** CPU features the native addon detected (empty on the js backend). */
  cpuFeatures: string[];
  /** Where the native addon came from (whichever backend is active): its file, or why there is none. */
  addon: { origin: "built here" | "prebuilt"; path: string; error?: string } | { origin: "missing"; error: string };
}

let active: Kernels | undefined;
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

function native(): NativeLoadResult {
  nativeResult ??= loadNativeKernels(requestedThreads());
  return nativeResult;
}

/** The active float32 kernels (chosen once per process). */
export function kernels(): Kernels {
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

/** The native kernels if the addon loads (regardless of SAEKIT_BACKEND), for tests and benchmarks. */
export function nativeKernels(): Kernels | undefined {
  return native().kernels;
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
  const info: BackendInfo = { name: k.name, isa: k.isa, threads: k.threads, cpuFeatures: n.cpuFeatures, addon };
  if (k.name === "js") {
    info.fallbackReason = requestedBackend() === "js" ? "SAEKIT_BACKEND=js" : n.error ?? "unknown";
  }
  return info;
}

export { jsKernels };
