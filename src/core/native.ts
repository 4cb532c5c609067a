/**
 * Loads the C++ kernels (native/: built here by node-gyp, or the package's prebuilt binary; see native-loader.ts)
 * and wraps them in the Kernels interface. The wrapper checks every extent once per call so the C++ side can trust
 * its arguments.
 */
import { createRequire } from "node:module";
import { locateAddon, type AddonOrigin } from "./native-loader.js";
import type { GeluApprox, Kernels, PackedB, Precision } from "./kernels.js";
import {
  checkDim, checkGemm, checkLayerNorm, checkLength, checkMatrix, checkRows, checkSameLength, checkSparse, checkSparseIndices,
  checkTopk,
  checkCrossEntropy,
  checkPositiveRows,
} from "./kernel-checks.js";
import { checkUnembedCrossEntropy, chunkedUnembedCrossEntropy } from "./kernels-unembed.js";
import { checkLogitRowSummaries, logitRowSummariesJs, type LogitRowSummaryOut } from "./kernels-analyze.js";

/** What init reports: the ISA and bf16 path chosen, threads, CPU features, and why AMX is off ("" if on). */
interface AddonInfo {
  isa: string;
  threads: number;
  cpuFeatures: string[];
  bf16Path?: string;
  amxUnavailable?: string;
}

/** The raw addon surface (native/src/binding.cc). */
interface NativeAddon {
  init(threads: number, isa: string): AddonInfo;
  setThreads(n: number): number;
  gemm(tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number, a: Float32Array, lda: number,
    b: Float32Array, ldb: number, beta: number, c: Float32Array, ldc: number): void;
  gemmAsync(tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number, a: Float32Array, lda: number,
    b: Float32Array, ldb: number, beta: number, c: Float32Array, ldc: number): Promise<void>;
  /** bf16 products, float32 accumulation (absent from addons built before bf16 support). */
  gemmBf16?: NativeAddon["gemm"];
  gemmBf16Async?: NativeAddon["gemmAsync"];
  /** Lowers the bf16 path ("amx" | "avx512bf16" | "emulated") for tests; returns the path now in use. */
  setBf16Path?(path: string): string;
  bf16PeakGflops?(): number;
  /** op(B) packed for the bf16 kernels (an external), and the product that uses it. */
  packBf16?(transB: boolean, K: number, N: number, b: Float32Array, ldb: number): unknown;
  gemmBf16Packed?(tA: boolean, M: number, alpha: number, a: Float32Array, lda: number, packed: unknown, beta: number,
    c: Float32Array, ldc: number): void;
  addBias(x: Float32Array, rows: number, cols: number, bias: Float32Array): void;
  axpy(alpha: number, x: Float32Array, y: Float32Array): void;
  scale(x: Float32Array, alpha: number): void;
  gelu(x: Float32Array, out: Float32Array, tanh: boolean): void;
  geluBackward(x: Float32Array, dy: Float32Array, dx: Float32Array, tanh: boolean): void;
  relu(x: Float32Array, out: Float32Array): void;
  reluBackward(x: Float32Array, dy: Float32Array, dx: Float32Array): void;
  softmaxRows(x: Float32Array, out: Float32Array, rows: number, cols: number, log: boolean): void;
  softmaxRowsBackward(y: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, cols: number,
    log: boolean): void;
  softmaxCrossEntropyRows(x: Float32Array, targets: Int32Array, rows: number, cols: number, ignoreIndex: number,
    grad: boolean, gradScale: number, nll: Float32Array): void;
  positiveRowsToSparse(x: Float32Array, rows: number, cols: number, k: number, values: Float32Array,
    indices: Int32Array, counts: Int32Array): number;
  projectOutRows(g: Float32Array, w: Float32Array, rows: number, cols: number): void;
  normalizeRows(w: Float32Array, rows: number, cols: number, norms: Float32Array | null): void;
  layerNorm(x: Float32Array, rows: number, cols: number, w: Float32Array | null, b: Float32Array | null, eps: number,
    out: Float32Array, mean: Float32Array, rstd: Float32Array): void;
  layerNormBackward(x: Float32Array, dy: Float32Array, rows: number, cols: number, w: Float32Array | null,
    mean: Float32Array, rstd: Float32Array, dx: Float32Array, dw: Float32Array | null, db: Float32Array | null): void;
  topkRows(x: Float32Array, rows: number, cols: number, k: number, values: Float32Array, indices: Int32Array,
    bias: Float32Array | null): void;
  sparseDecode(rows: number, k: number, indices: Int32Array, values: Float32Array, w: Float32Array, n: number,
    out: Float32Array, accumulate: boolean): void;
  sparseDecodeBackward(rows: number, k: number, indices: Int32Array, values: Float32Array, w: Float32Array,
    n: number, dOut: Float32Array, dValues: Float32Array | null, dW: Float32Array | null): void;
  sumOverRows(x: Float32Array, rows: number, cols: number, out: Float32Array, accumulate: boolean): void;
  /** analyze_kernels.cc (absent from addons built before it). */
  logitRowSummaries?(x: Float32Array, rows: number, cols: number, centre: boolean, k: number, bins: number, topTok: Int32Array,
    topVal: Float32Array, botTok: Int32Array, botVal: Float32Array, counts: Int32Array, stats: Float64Array): number;
  sumOverCols(x: Float32Array, rows: number, cols: number, out: Float32Array, accumulate: boolean): void;
  adamwStep(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, lr: number, b1: number, b2: number,
    eps: number, wd: number, bc1: number, bc2: number): void;
  /** The fused bf16 unembedding + cross-entropy (native/src/unembed_ce.cc); false where AVX512-BF16 is off. Absent
   * from addons built before it. */
  unembedCrossEntropyBf16?(x: Float32Array, rows: number, d: number, w: Float32Array, vocab: number,
    bias: Float32Array | null, targets: Int32Array, ignoreIndex: number, grad: boolean, gradScale: number,
    nll: Float32Array, dX: Float32Array | null, dW: Float32Array | null, dB: Float32Array | null): boolean;
  fmaPeakGflops(): number;
}

export interface NativeLoadResult {
  kernels?: Kernels;
  error?: string;
  cpuFeatures: string[];
  addonPath?: string;
  /** Whether the addon file was built on this machine or shipped prebuilt with the package. */
  origin?: AddonOrigin;
  /** Measures this machine's FMA throughput (GFLOP/s over all pool threads) at the active ISA; ~0.1 s. */
  fmaPeakGflops?: () => number;
  /** The same for bf16 dot products on the active bf16 path (vdpbf16ps chains or AMX tiles); 0 when emulated. */
  bf16PeakGflops?: () => number;
  /** Why the AMX-BF16 path is off on this machine ("" when it is available), e.g. "CPU lacks amx_tile/amx_bf16". */
  amxUnavailable?: string;
  /** Lowers the bf16 path of the loaded addon (tests: "amx" | "avx512bf16" | "emulated"); returns the path in use. */
  setBf16Path?: (path: string) => string;
}

export function loadNativeKernels(threads?: number): NativeLoadResult {
  const found = locateAddon();
  if ("error" in found) return { error: found.error, cpuFeatures: [] };
  const { path, origin } = found.location;
  let addon: NativeAddon;
  try {
    addon = createRequire(import.meta.url)(path) as NativeAddon;
  } catch (e) {
    return { error: `the ${origin} addon ${path} failed to load: ${(e as Error).message}`, cpuFeatures: [], addonPath: path, origin };
  }
  const isaRequest = (process.env.SAEKIT_ISA ?? "").trim().toLowerCase();
  if (isaRequest && !["avx512", "avx2", "scalar"].includes(isaRequest)) {
    return { error: `SAEKIT_ISA must be avx512, avx2 or scalar, got "${isaRequest}"`, cpuFeatures: [] };
  }
  const info = addon.init(threads ?? 0, isaRequest);
  return {
    kernels: wrapAddon(addon, info),
    cpuFeatures: info.cpuFeatures,
    addonPath: path,
    origin,
    fmaPeakGflops: () => addon.fmaPeakGflops(),
    bf16PeakGflops: () => addon.bf16PeakGflops?.() ?? 0,
    amxUnavailable: info.amxUnavailable ?? "this addon build predates bf16 support",
    setBf16Path: (p: string) => {
      if (!addon.setBf16Path) throw new Error("this addon build predates bf16 support; rebuild it (node scripts/build-native.mjs)");
      info.bf16Path = addon.setBf16Path(p);
      return info.bf16Path;
    },
  };
}

/** The fp32 kernels; withPrecision gives the bf16 twin (one object per precision, sharing threads). */
function wrapAddon(addon: NativeAddon, info: AddonInfo): Kernels {
  const shared = { threads: info.threads };
  const variants: Partial<Record<Precision, Kernels>> = {};
  const variant = (p: Precision): Kernels => (variants[p] ??= wrapAt(addon, info, shared, p, variant));
  return variant("fp32");
}

function wrapAt(
  addon: NativeAddon, info: AddonInfo, shared: { threads: number }, precision: Precision,
  variant: (p: Precision) => Kernels,
): Kernels {
  const elementwise = (kernel: string, names: string[], arrays: Float32Array[]) =>
    checkSameLength(kernel, names, arrays);
  const stale = "this addon build predates bf16 support; rebuild it (node scripts/build-native.mjs) or set SAEKIT_PRECISION=fp32";
  if (precision === "bf16" && (!addon.gemmBf16 || !addon.gemmBf16Async)) throw new Error(stale);
  const product = precision === "bf16" ? addon.gemmBf16! : addon.gemm;
  const productAsync = precision === "bf16" ? addon.gemmBf16Async! : addon.gemmAsync;
  const kernels: Kernels = {
    name: "native",
    isa: info.isa,
    get threads() {
      return shared.threads;
    },
    setThreads(n: number) {
      if (!Number.isInteger(n) || n < 1 || n > 256) throw new RangeError(`setThreads: n must be in [1, 256], got ${n}`);
      shared.threads = addon.setThreads(n);
    },
    precision,
    get bf16Path() {
      return info.bf16Path ?? "none (addon predates bf16 support)";
    },
    withPrecision: variant,
    gemm(tA, tB, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc) {
      checkGemm(tA, tB, M, N, K, a, lda, b, ldb, c, ldc);
      product(tA, tB, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
    },
    async gemmAsync(tA, tB, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc) {
      checkGemm(tA, tB, M, N, K, a, lda, b, ldb, c, ldc);
      await productAsync(tA, tB, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
    },
    packB(transB, K, N, b, ldb): PackedB {
      checkGemm(false, transB, 0, N, K, b, K, b, ldb, b, Math.max(N, 1));
      // Only the bf16 kernels repack B per product; fp32 products read B as it is.
      const handle = precision === "bf16" && addon.packBf16 ? addon.packBf16(transB, K, N, b, ldb) : undefined;
      return handle === undefined ? { transB, K, N, b, ldb } : { transB, K, N, b, ldb, handle };
    },
    gemmPackedB(tA, M, alpha, a, lda, p, beta, c, ldc) {
      if (!(p.b instanceof Float32Array)) throw new TypeError("gemmPackedB: the native kernels need a pack of a Float32Array");
      checkGemm(tA, p.transB, M, p.N, p.K, a, lda, p.b, p.ldb, c, ldc);
      if (precision === "bf16" && p.handle !== undefined && addon.gemmBf16Packed) {
        addon.gemmBf16Packed(tA, M, alpha, a, lda, p.handle, beta, c, ldc);
      } else {
        product(tA, p.transB, M, p.N, p.K, alpha, a, lda, p.b, p.ldb, beta, c, ldc);
      }
    },
    addBias(x, rows, cols, bias) {
      checkDim("addBias", "rows", rows);
      checkMatrix("addBias", "x", x, rows, cols, Math.max(cols, 1));
      checkLength("addBias", "bias", bias, cols);
      addon.addBias(x, rows, cols, bias);
    },
    axpy(alpha, x, y) {
      elementwise("axpy", ["x", "y"], [x, y]);
      addon.axpy(alpha, x, y);
    },
    scale(x, alpha) {
      addon.scale(x, alpha);
    },
    gelu(x, out, approx: GeluApprox) {
      elementwise("gelu", ["x", "out"], [x, out]);
      addon.gelu(x, out, geluIsTanh(approx));
    },
    geluBackward(x, dy, dx, approx: GeluApprox) {
      elementwise("geluBackward", ["x", "dy", "dx"], [x, dy, dx]);
      addon.geluBackward(x, dy, dx, geluIsTanh(approx));
    },
    relu(x, out) {
      elementwise("relu", ["x", "out"], [x, out]);
      addon.relu(x, out);
    },
    reluBackward(x, dy, dx) {
      elementwise("reluBackward", ["x", "dy", "dx"], [x, dy, dx]);
      addon.reluBackward(x, dy, dx);
    },
    softmaxRows(x, out, rows, cols) {
      checkRows("softmaxRows", rows, cols, [x, out], ["x", "out"]);
      addon.softmaxRows(x, out, rows, cols, false);
    },
    logSoftmaxRows(x, out, rows, cols) {
      checkRows("logSoftmaxRows", rows, cols, [x, out], ["x", "out"]);
      addon.softmaxRows(x, out, rows, cols, true);
    },
    softmaxRowsBackward(y, dy, dx, rows, cols) {
      checkRows("softmaxRowsBackward", rows, cols, [y, dy, dx], ["y", "dy", "dx"]);
      addon.softmaxRowsBackward(y, dy, dx, rows, cols, false);
    },
    logSoftmaxRowsBackward(y, dy, dx, rows, cols) {
      checkRows("logSoftmaxRowsBackward", rows, cols, [y, dy, dx], ["y", "dy", "dx"]);
      addon.softmaxRowsBackward(y, dy, dx, rows, cols, true);
    },
    softmaxCrossEntropyRows(x, rows, cols, targets, ignoreIndex, gradScale, nll) {
      checkCrossEntropy(rows, cols, x, targets, ignoreIndex, nll);
      addon.softmaxCrossEntropyRows(x, targets, rows, cols, ignoreIndex, gradScale !== null, gradScale ?? 0, nll);
    },
    positiveRowsToSparse(x, rows, cols, k, values, indices, counts) {
      checkPositiveRows(rows, cols, k, x, values, indices, counts);
      return addon.positiveRowsToSparse(x, rows, cols, k, values, indices, counts);
    },
    projectOutRows(g, w, rows, cols) {
      checkRows("projectOutRows", rows, cols, [g, w], ["g", "w"]);
      addon.projectOutRows(g, w, rows, cols);
    },
    normalizeRows(w, rows, cols, norms) {
      checkRows("normalizeRows", rows, cols, [w], ["w"]);
      if (norms) checkLength("normalizeRows", "norms", norms, rows);
      addon.normalizeRows(w, rows, cols, norms);
    },
    layerNorm(x, rows, cols, w, b, eps, out, mean, rstd) {
      checkLayerNorm("layerNorm", rows, cols, { x, out }, { w, b }, mean, rstd);
      addon.layerNorm(x, rows, cols, w, b, eps, out, mean, rstd);
    },
    layerNormBackward(x, dy, rows, cols, w, mean, rstd, dx, dw, db) {
      checkLayerNorm("layerNormBackward", rows, cols, { x, dy, dx }, { w, dw, db }, mean, rstd);
      addon.layerNormBackward(x, dy, rows, cols, w, mean, rstd, dx, dw, db);
    },
    topkRows(x, rows, cols, k, values, indices, bias = null) {
      checkTopk(rows, cols, k);
      if (bias) checkLength("topkRows", "bias", bias, cols);
      checkLength("topkRows", "x", x, rows * cols);
      checkLength("topkRows", "values", values, rows * k);
      checkLength("topkRows", "indices", indices, rows * k);
      addon.topkRows(x, rows, cols, k, values, indices, bias);
    },
    sparseDecode(rows, k, indices, values, w, n, out, accumulate) {
      checkSparse("sparseDecode", rows, k, indices, values, w, n, out, "out");
      checkSparseIndices("sparseDecode", indices, rows * k, w.length / n);
      addon.sparseDecode(rows, k, indices, values, w, n, out, accumulate);
    },
    sparseDecodeBackward(rows, k, indices, values, w, n, dOut, dValues, dW) {
      checkSparse("sparseDecodeBackward", rows, k, indices, values, w, n, dOut, "dOut");
      checkSparseIndices("sparseDecodeBackward", indices, rows * k, w.length / n);
      if (dValues) checkLength("sparseDecodeBackward", "dValues", dValues, rows * k);
      if (dW) checkLength("sparseDecodeBackward", "dW", dW, w.length);
      addon.sparseDecodeBackward(rows, k, indices, values, w, n, dOut, dValues, dW);
    },
    sumOverRows(x, rows, cols, out, accumulate) {
      checkRows("sumOverRows", rows, cols, [x], ["x"]);
      checkLength("sumOverRows", "out", out, cols);
      addon.sumOverRows(x, rows, cols, out, accumulate);
    },
    sumOverCols(x, rows, cols, out, accumulate) {
      checkRows("sumOverCols", rows, cols, [x], ["x"]);
      checkLength("sumOverCols", "out", out, rows);
      addon.sumOverCols(x, rows, cols, out, accumulate);
    },
    adamwStep(p, g, m, v, lr, b1, b2, eps, wd, bc1, bc2) {
      elementwise("adamwStep", ["param", "grad", "m", "v"], [p, g, m, v]);
      addon.adamwStep(p, g, m, v, lr, b1, b2, eps, wd, bc1, bc2);
    },
    logitRowSummaries(x, rows, cols, centre, k, bins, out: LogitRowSummaryOut) {
      if (!addon.logitRowSummaries) return logitRowSummariesJs(x, rows, cols, centre, k, bins, out);
      checkLogitRowSummaries(x, rows, cols, k, bins, out);
      return addon.logitRowSummaries(x, rows, cols, centre, k, bins, out.topTok, out.topVal, out.botTok, out.botVal, out.counts, out.stats);
    },
    unembedCrossEntropy(args) {
      checkUnembedCrossEntropy(args);
      const { x, rows, d, w, vocab, bias, targets, ignoreIndex, gradScale, nll } = args;
      // The fused kernel answers false (computing nothing) where the AVX512-BF16 path is off (e.g. lowered for tests).
      const fused = precision === "bf16" && addon.unembedCrossEntropyBf16 !== undefined &&
        addon.unembedCrossEntropyBf16(x, rows, d, w, vocab, bias, targets, ignoreIndex, gradScale !== null, gradScale ?? 0,
          nll, args.dX, args.dW, args.dB);
      if (!fused) chunkedUnembedCrossEntropy(kernels, args);
    },
  };
  return kernels;
}

function geluIsTanh(approx: GeluApprox): boolean {
  if (approx !== "tanh" && approx !== "erf") throw new RangeError(`gelu: approx must be "tanh" or "erf", got ${approx}`);
  return approx === "tanh";
}

