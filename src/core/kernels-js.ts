/**
 * Pure TypeScript kernels: the portable (browser) backend, the reference the native addon is tested against,
 * and the float64 path used by finite-difference gradient checks. Generic over Float32Array and Float64Array.
 *
 * Sums are accumulated in JS doubles (Float64Array scratch rows where a sum spans several loop iterations) and
 * rounded once when stored, so float32 results are at least as accurate as a float32 accumulation.
 * Argument checks (shared with the native wrapper) run once per call, never per element.
 */
import type { FloatArray, GeluApprox, Kernels, Precision } from "./kernels.js";
import { checkUnembedCrossEntropy, chunkedUnembedCrossEntropy } from "./kernels-unembed.js";
import { logitRowSummariesJs } from "./kernels-analyze.js";
import {
  checkDim, checkGemm, checkLayerNorm, checkLength, checkMatrix, checkRows, checkSameLength, checkSparse, checkSparseIndices,
  checkTopk,
  checkCrossEntropy,
  checkPositiveRows,
} from "./kernel-checks.js";

// ---------------------------------------------------------------------------------------------------------------
// erf / erfc (JS has no Math.erf). Accurate to ~1e-15 relative for erf, ~1e-13 for erfc, which keeps the exact
// GELU and its derivative consistent enough for float64 finite-difference checks.

const TWO_OVER_SQRT_PI = 1.1283791670955126;
const INV_SQRT_PI = 0.5641895835477563;
const INV_SQRT_2PI = 0.3989422804014327;
/** Below this |z| the series is used; above it the continued fraction for erfc (both converge quickly there). */
const ERF_SERIES_LIMIT = 2;
/** Terms of the erfc continued fraction; 30 gives full double precision for z ≥ 2. */
const ERFC_CF_TERMS = 30;

/** erf(z) = 2/√π · e^{−z²} · Σ_n 2ⁿ z^{2n+1} / (2n+1)!!  — all terms positive, so no cancellation. */
function erfSeries(z: number): number {
  const z2 = z * z;
  let term = z;
  let sum = z;
  for (let n = 0; Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
    term *= (2 * z2) / (2 * n + 3);
    sum += term;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-z2) * sum;
}

/** erfc(z) for z ≥ ERF_SERIES_LIMIT, by the even contraction of Laplace's continued fraction (evaluated bottom-up). */
function erfcContinuedFraction(z: number): number {
  if (z >= 27) return 0; // e^{-z²} underflows
  const t = 2 * z * z;
  let f = 0;
  for (let n = ERFC_CF_TERMS; n >= 1; n--) f = ((2 * n - 1) * (2 * n)) / (t + 4 * n + 1 - f);
  return (INV_SQRT_PI * Math.exp(-z * z) * 2 * z) / (t + 1 - f);
}

/** The error function. */
export function erf(z: number): number {
  if (z >= ERF_SERIES_LIMIT) return 1 - erfcContinuedFraction(z);
  if (z <= -ERF_SERIES_LIMIT) return erfcContinuedFraction(-z) - 1;
  return erfSeries(z);
}

/** The complementary error function 1 − erf(z), without cancellation for large positive z. */
export function erfc(z: number): number {
  if (z >= ERF_SERIES_LIMIT) return erfcContinuedFraction(z);
  if (z <= -ERF_SERIES_LIMIT) return 2 - erfcContinuedFraction(-z);
  return 1 - erfSeries(z);
}

// ---------------------------------------------------------------------------------------------------------------
// gemm

/** acc[j] = Σ_p op(A)[i,p]·B[p,j] with op(A)[i,p] = a[aBase + p·aStep] (aStep 1: A is M×K; lda: A is K×M). */
function rowTimesB(
  a: FloatArray, aBase: number, aStep: number, K: number, b: FloatArray, ldb: number, N: number, acc: Float64Array,
): void {
  acc.fill(0);
  let p = 0;
  // Four rows of B per pass: a quarter of the loads/stores of acc.
  for (; p + 3 < K; p += 4) {
    const a0 = a[aBase + p * aStep]!;
    const a1 = a[aBase + (p + 1) * aStep]!;
    const a2 = a[aBase + (p + 2) * aStep]!;
    const a3 = a[aBase + (p + 3) * aStep]!;
    const b0 = p * ldb;
    const b1 = b0 + ldb;
    const b2 = b1 + ldb;
    const b3 = b2 + ldb;
    for (let j = 0; j < N; j++) {
      acc[j] += a0 * b[b0 + j]! + a1 * b[b1 + j]! + a2 * b[b2 + j]! + a3 * b[b3 + j]!;
    }
  }
  for (; p < K; p++) {
    const a0 = a[aBase + p * aStep]!;
    const b0 = p * ldb;
    for (let j = 0; j < N; j++) acc[j] += a0 * b[b0 + j]!;
  }
}

/**
 * acc[j] = Σ_p x[xBase + p]·B[j, p] for B stored N×K: contiguous dot products, four rows of B at a time so each
 * x[p] is loaded once per four outputs.
 */
function rowTimesBt(
  x: FloatArray | Float64Array, xBase: number, K: number, b: FloatArray, ldb: number, N: number, acc: Float64Array,
): void {
  let j = 0;
  for (; j + 3 < N; j += 4) {
    const r0 = j * ldb;
    const r1 = r0 + ldb;
    const r2 = r1 + ldb;
    const r3 = r2 + ldb;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let p = 0; p < K; p++) {
      const xp = x[xBase + p]!;
      s0 += xp * b[r0 + p]!;
      s1 += xp * b[r1 + p]!;
      s2 += xp * b[r2 + p]!;
      s3 += xp * b[r3 + p]!;
    }
    acc[j] = s0;
    acc[j + 1] = s1;
    acc[j + 2] = s2;
    acc[j + 3] = s3;
  }
  for (; j < N; j++) {
    const r0 = j * ldb;
    let s0 = 0;
    for (let p = 0; p < K; p++) s0 += x[xBase + p]! * b[r0 + p]!;
    acc[j] = s0;
  }
}

/** C[i, :] = alpha·acc + beta·C[i, :]; beta = 0 never reads C (so NaNs there are ignored). */
function storeRow(c: FloatArray, cBase: number, acc: Float64Array, N: number, alpha: number, beta: number): void {
  if (beta === 0) {
    for (let j = 0; j < N; j++) c[cBase + j] = alpha * acc[j]!;
  } else if (beta === 1) {
    for (let j = 0; j < N; j++) c[cBase + j] += alpha * acc[j]!;
  } else {
    for (let j = 0; j < N; j++) c[cBase + j] = alpha * acc[j]! + beta * c[cBase + j]!;
  }
}

function gemm(
  transA: boolean, transB: boolean, M: number, N: number, K: number,
  alpha: number, a: FloatArray, lda: number, b: FloatArray, ldb: number,
  beta: number, c: FloatArray, ldc: number,
): void {
  checkGemm(transA, transB, M, N, K, a, lda, b, ldb, c, ldc);
  if (M === 0 || N === 0) return;
  const acc = new Float64Array(N);
  // As in BLAS, alpha = 0 (or K = 0) does not read A or B: C = beta·C.
  const readsAB = K > 0 && alpha !== 0;
  // transA && transB: column i of A (stride lda) is copied once per row so the dot products walk memory.
  const aColumn = transA && transB ? new Float64Array(K) : null;
  for (let i = 0; i < M; i++) {
    if (!readsAB) {
      acc.fill(0);
    } else if (!transB) {
      // i-k-j order: op(A)[i, p] is a[i*lda + p] (transA=false) or a[p*lda + i] (transA=true).
      if (transA) rowTimesB(a, i, lda, K, b, ldb, N, acc);
      else rowTimesB(a, i * lda, 1, K, b, ldb, N, acc);
    } else if (aColumn) {
      for (let p = 0; p < K; p++) aColumn[p] = a[p * lda + i]!;
      rowTimesBt(aColumn, 0, K, b, ldb, N, acc);
    } else {
      rowTimesBt(a, i * lda, K, b, ldb, N, acc);
    }
    storeRow(c, i * ldc, acc, N, alpha, beta);
  }
}

const bf16Scratch = new Float32Array(1);
const bf16Bits = new Uint32Array(bf16Scratch.buffer);

/** The float32 value of the bfloat16 nearest to x (round to nearest, ties to even; NaN stays NaN). */
export function roundToBf16(x: number): number {
  bf16Scratch[0] = x;
  const u = bf16Bits[0]!;
  if ((u & 0x7fffffff) > 0x7f800000) return NaN;
  bf16Bits[0] = (((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) << 16) >>> 0;
  return bf16Scratch[0];
}

/**
 * The bf16 product reference: op(A) (alpha folded in) and op(B) rounded to bf16, their exact products summed in
 * float64, then C = that + beta·C. Dot-shaped calls (M·N ≤ 4) stay fp32, as in the native kernels.
 */
export function gemmBf16(
  transA: boolean, transB: boolean, M: number, N: number, K: number,
  alpha: number, a: FloatArray, lda: number, b: FloatArray, ldb: number,
  beta: number, c: FloatArray, ldc: number,
): void {
  checkGemm(transA, transB, M, N, K, a, lda, b, ldb, c, ldc);
  if (M * N <= 4 || K === 0 || alpha === 0) {
    gemm(transA, transB, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  const ar = new Float64Array(M * K), br = new Float64Array(K * N);
  for (let i = 0; i < M; i++)
    for (let p = 0; p < K; p++) ar[i * K + p] = roundToBf16(alpha * (transA ? a[p * lda + i]! : a[i * lda + p]!));
  for (let p = 0; p < K; p++)
    for (let j = 0; j < N; j++) br[p * N + j] = roundToBf16(transB ? b[j * ldb + p]! : b[p * ldb + j]!);
  gemm(false, false, M, N, K, 1, ar, K, br, N, beta, c, ldc);
}

// ---------------------------------------------------------------------------------------------------------------
// elementwise

const SQRT_2_OVER_PI = 0.7978845608028654;
const GELU_CUBIC = 0.044715;

function checkApprox(kernel: string, approx: GeluApprox): void {
  if (approx !== "tanh" && approx !== "erf") {
    throw new RangeError(`${kernel}: approx must be "tanh" or "erf", got ${String(approx)}`);
  }
}

function gelu(x: FloatArray, out: FloatArray, approx: GeluApprox): void {
  checkApprox("gelu", approx);
  checkSameLength("gelu", ["x", "out"], [x, out]);
  const n = x.length;
  if (approx === "tanh") {
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      out[i] = 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + GELU_CUBIC * v * v * v)));
    }
  } else {
    // x·Φ(x) with Φ(x) = erfc(−x/√2)/2, which stays accurate for very negative x.
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      out[i] = 0.5 * v * erfc(-v * Math.SQRT1_2);
    }
  }
}

function geluBackward(x: FloatArray, dy: FloatArray, dx: FloatArray, approx: GeluApprox): void {
  checkApprox("geluBackward", approx);
  checkSameLength("geluBackward", ["x", "dy", "dx"], [x, dy, dx]);
  const n = x.length;
  if (approx === "tanh") {
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      const t = Math.tanh(SQRT_2_OVER_PI * (v + GELU_CUBIC * v * v * v));
      const du = SQRT_2_OVER_PI * (1 + 3 * GELU_CUBIC * v * v);
      dx[i] = dy[i]! * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * du);
    }
  } else {
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      const cdf = 0.5 * erfc(-v * Math.SQRT1_2);
      const pdf = INV_SQRT_2PI * Math.exp(-0.5 * v * v);
      dx[i] = dy[i]! * (cdf + v * pdf);
    }
  }
}

function relu(x: FloatArray, out: FloatArray): void {
  checkSameLength("relu", ["x", "out"], [x, out]);
  const n = x.length;
  for (let i = 0; i < n; i++) {
    const v = x[i]!;
    out[i] = v > 0 ? v : 0;
  }
}

function reluBackward(x: FloatArray, dy: FloatArray, dx: FloatArray): void {
  checkSameLength("reluBackward", ["x", "dy", "dx"], [x, dy, dx]);
  const n = x.length;
  for (let i = 0; i < n; i++) dx[i] = x[i]! > 0 ? dy[i]! : 0;
}

function addBias(x: FloatArray, rows: number, cols: number, bias: FloatArray): void {
  checkDim("addBias", "rows", rows);
  checkMatrix("addBias", "x", x, rows, cols, Math.max(cols, 1));
  checkLength("addBias", "bias", bias, cols);
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    for (let c = 0; c < cols; c++) x[off + c] += bias[c]!;
  }
}

function axpy(alpha: number, x: FloatArray, y: FloatArray): void {
  checkSameLength("axpy", ["x", "y"], [x, y]);
  const n = x.length;
  for (let i = 0; i < n; i++) y[i] += alpha * x[i]!;
}

function scale(x: FloatArray, alpha: number): void {
  const n = x.length;
  for (let i = 0; i < n; i++) x[i] *= alpha;
}

// ---------------------------------------------------------------------------------------------------------------
// row-wise softmax


/** Row maximum; NaN if the row holds a NaN (so it propagates), -Infinity if the row is fully masked. */
function rowMax(x: FloatArray, off: number, cols: number): number {
  let max = -Infinity;
  for (let c = 0; c < cols; c++) {
    const v = x[off + c]!;
    if (v > max || v !== v) max = v;
    if (max !== max) break;
  }
  return max;
}

function softmaxRows(x: FloatArray, out: FloatArray, rows: number, cols: number): void {
  checkRows("softmaxRows", rows, cols, [x, out], ["x", "out"]);
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    const max = rowMax(x, off, cols);
    if (max === -Infinity) {
      // Every entry masked: no probability mass anywhere (zeros rather than 0/0 = NaN).
      out.fill(0, off, off + cols);
      continue;
    }
    let sum = 0;
    for (let c = 0; c < cols; c++) {
      const e = Math.exp(x[off + c]! - max);
      out[off + c] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let c = 0; c < cols; c++) out[off + c] *= inv;
  }
}

function logSoftmaxRows(x: FloatArray, out: FloatArray, rows: number, cols: number): void {
  checkRows("logSoftmaxRows", rows, cols, [x, out], ["x", "out"]);
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    const max = rowMax(x, off, cols);
    if (max === -Infinity) {
      // log of the all-zero softmax row.
      out.fill(-Infinity, off, off + cols);
      continue;
    }
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += Math.exp(x[off + c]! - max);
    const logNorm = max + Math.log(sum);
    for (let c = 0; c < cols; c++) out[off + c] = x[off + c]! - logNorm;
  }
}

function softmaxRowsBackward(y: FloatArray, dy: FloatArray, dx: FloatArray, rows: number, cols: number): void {
  checkRows("softmaxRowsBackward", rows, cols, [y, dy, dx], ["y", "dy", "dx"]);
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    let dot = 0;
    for (let c = 0; c < cols; c++) dot += dy[off + c]! * y[off + c]!;
    for (let c = 0; c < cols; c++) dx[off + c] = y[off + c]! * (dy[off + c]! - dot);
  }
}

function logSoftmaxRowsBackward(y: FloatArray, dy: FloatArray, dx: FloatArray, rows: number, cols: number): void {
  checkRows("logSoftmaxRowsBackward", rows, cols, [y, dy, dx], ["y", "dy", "dx"]);
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += dy[off + c]!;
    for (let c = 0; c < cols; c++) dx[off + c] = dy[off + c]! - Math.exp(y[off + c]!) * sum;
  }
}

function softmaxCrossEntropyRows(
  x: FloatArray, rows: number, cols: number, targets: Int32Array, ignoreIndex: number, gradScale: number | null,
  nll: FloatArray,
): void {
  checkCrossEntropy(rows, cols, x, targets, ignoreIndex, nll);
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    const t = targets[r]!;
    if (t === ignoreIndex) {
      nll[r] = NaN;
      if (gradScale !== null) x.fill(0, off, off + cols);
      continue;
    }
    const max = rowMax(x, off, cols);
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += Math.exp(x[off + c]! - max);
    const lse = max + Math.log(sum);
    nll[r] = lse - x[off + t]!;
    if (gradScale !== null) {
      for (let c = 0; c < cols; c++) x[off + c] = gradScale * Math.exp(x[off + c]! - lse);
      x[off + t] = x[off + t]! - gradScale;
    }
  }
}

function positiveRowsToSparse(
  x: FloatArray, rows: number, cols: number, k: number, values: FloatArray, indices: Int32Array, counts: Int32Array,
): number {
  checkPositiveRows(rows, cols, k, x, values, indices, counts);
  let most = 0;
  for (let r = 0; r < rows; r++) {
    let n = 0;
    for (let c = 0; c < cols; c++) {
      const v = x[r * cols + c]!;
      if (v > 0) {
        if (n < k) {
          values[r * k + n] = v;
          indices[r * k + n] = c;
        }
        n++;
      }
    }
    for (let j = n; j < k; j++) {
      values[r * k + j] = 0;
      indices[r * k + j] = -1;
    }
    counts[r] = n;
    most = Math.max(most, n);
  }
  return most;
}

function projectOutRows(g: FloatArray, w: FloatArray, rows: number, cols: number): void {
  checkRows("projectOutRows", rows, cols, [g, w], ["g", "w"]);
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    let dot = 0;
    let norm2 = 0;
    for (let c = 0; c < cols; c++) {
      dot += g[off + c]! * w[off + c]!;
      norm2 += w[off + c]! * w[off + c]!;
    }
    if (norm2 === 0) continue;
    const s = dot / norm2;
    for (let c = 0; c < cols; c++) g[off + c] = g[off + c]! - s * w[off + c]!;
  }
}

function normalizeRows(w: FloatArray, rows: number, cols: number, norms: FloatArray | null): void {
  checkRows("normalizeRows", rows, cols, [w], ["w"]);
  if (norms) checkLength("normalizeRows", "norms", norms, rows);
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    let norm2 = 0;
    for (let c = 0; c < cols; c++) norm2 += w[off + c]! * w[off + c]!;
    const norm = Math.sqrt(norm2);
    if (norms) norms[r] = norm;
    if (norm === 0) continue;
    for (let c = 0; c < cols; c++) w[off + c] = w[off + c]! / norm;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// layer norm

function layerNorm(
  x: FloatArray, rows: number, cols: number, w: FloatArray | null, b: FloatArray | null, eps: number,
  out: FloatArray, mean: FloatArray, rstd: FloatArray,
): void {
  checkLayerNorm("layerNorm", rows, cols, { x, out }, { w, b }, mean, rstd);
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += x[off + c]!;
    const mu = sum / cols;
    // Two passes: the centred sum of squares does not cancel catastrophically.
    let sq = 0;
    for (let c = 0; c < cols; c++) {
      const d = x[off + c]! - mu;
      sq += d * d;
    }
    const rs = 1 / Math.sqrt(sq / cols + eps);
    mean[r] = mu;
    rstd[r] = rs;
    // Each out[i] is computed from x[i] alone, so out may alias x.
    if (w === null && b === null) {
      for (let c = 0; c < cols; c++) out[off + c] = (x[off + c]! - mu) * rs;
    } else {
      for (let c = 0; c < cols; c++) {
        const xhat = (x[off + c]! - mu) * rs;
        out[off + c] = (w === null ? xhat : xhat * w[c]!) + (b === null ? 0 : b[c]!);
      }
    }
  }
}

/**
 * With x̂ = (x − mean)·rstd and g = dy·w (or dy): dx = rstd · (g − mean(g) − x̂ · mean(g·x̂)).
 * dw/db sums are gathered in float64 over all rows and added once.
 */
function layerNormBackward(
  x: FloatArray, dy: FloatArray, rows: number, cols: number, w: FloatArray | null, mean: FloatArray, rstd: FloatArray,
  dx: FloatArray, dw: FloatArray | null, db: FloatArray | null,
): void {
  checkLayerNorm("layerNormBackward", rows, cols, { x, dy, dx }, { w, dw, db }, mean, rstd);
  const dwSum = dw ? new Float64Array(cols) : null;
  const dbSum = db ? new Float64Array(cols) : null;
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    const mu = mean[r]!;
    const rs = rstd[r]!;
    let sumG = 0;
    let sumGXhat = 0;
    for (let c = 0; c < cols; c++) {
      const xhat = (x[off + c]! - mu) * rs;
      const d = dy[off + c]!;
      const g = w === null ? d : d * w[c]!;
      sumG += g;
      sumGXhat += g * xhat;
      if (dwSum) dwSum[c] += d * xhat;
      if (dbSum) dbSum[c] += d;
    }
    const meanG = sumG / cols;
    const meanGXhat = sumGXhat / cols;
    // Reads dy[i] before writing dx[i], so dx may alias dy.
    for (let c = 0; c < cols; c++) {
      const xhat = (x[off + c]! - mu) * rs;
      const g = w === null ? dy[off + c]! : dy[off + c]! * w[c]!;
      dx[off + c] = rs * (g - meanG - xhat * meanGXhat);
    }
  }
  if (dw && dwSum) for (let c = 0; c < cols; c++) dw[c] += dwSum[c]!;
  if (db && dbSum) for (let c = 0; c < cols; c++) db[c] += dbSum[c]!;
}

// ---------------------------------------------------------------------------------------------------------------
// top-k

/**
 * Ranking for top-k: larger value first, ties → smaller column index. NaN ranks above everything (as torch.topk
 * does), so a NaN activation shows up in the output instead of vanishing.
 */
function ranksBelow(va: number, ia: number, vb: number, ib: number): boolean {
  if (va !== va) return vb !== vb && ia > ib;
  if (vb !== vb) return true;
  return va < vb || (va === vb && ia > ib);
}

/** Restores the heap (root = lowest-ranked entry) downward from slot `pos`. */
function siftDown(hv: Float64Array, hi: Int32Array, size: number, pos: number): void {
  const v = hv[pos]!;
  const idx = hi[pos]!;
  for (;;) {
    let child = 2 * pos + 1;
    if (child >= size) break;
    if (child + 1 < size && ranksBelow(hv[child + 1]!, hi[child + 1]!, hv[child]!, hi[child]!)) child++;
    if (!ranksBelow(hv[child]!, hi[child]!, v, idx)) break;
    hv[pos] = hv[child]!;
    hi[pos] = hi[child]!;
    pos = child;
  }
  hv[pos] = v;
  hi[pos] = idx;
}

function siftUp(hv: Float64Array, hi: Int32Array, pos: number): void {
  const v = hv[pos]!;
  const idx = hi[pos]!;
  while (pos > 0) {
    const parent = (pos - 1) >> 1;
    if (!ranksBelow(v, idx, hv[parent]!, hi[parent]!)) break;
    hv[pos] = hv[parent]!;
    hi[pos] = hi[parent]!;
    pos = parent;
  }
  hv[pos] = v;
  hi[pos] = idx;
}

/** O(cols · log k) per row: a size-k heap of the best entries seen so far, then heap-sort into place. */
function topkRows(
  x: FloatArray, rows: number, cols: number, k: number, values: FloatArray, indices: Int32Array, bias: FloatArray | null = null,
): void {
  checkTopk(rows, cols, k);
  if (bias) checkLength("topkRows", "bias", bias, cols);
  // x + bias rounded as the float32 kernels round it.
  const round = x instanceof Float32Array ? Math.fround : (v: number) => v;
  const at = bias ? (off: number, c: number) => round(x[off + c]! + bias[c]!) : (off: number, c: number) => x[off + c]!;
  checkLength("topkRows", "x", x, rows * cols);
  checkLength("topkRows", "values", values, rows * k);
  checkLength("topkRows", "indices", indices, rows * k);
  const hv = new Float64Array(k);
  const hi = new Int32Array(k);
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    for (let c = 0; c < k; c++) {
      hv[c] = at(off, c);
      hi[c] = c;
      siftUp(hv, hi, c);
    }
    for (let c = k; c < cols; c++) {
      const v = at(off, c);
      const worst = hv[0]!;
      // Columns arrive in increasing order, so an equal value never outranks the root (it has a larger index).
      if (v > worst || (v !== v && worst === worst)) {
        hv[0] = v;
        hi[0] = c;
        siftDown(hv, hi, k, 0);
      }
    }
    const outOff = r * k;
    for (let size = k; size > 0; size--) {
      values[outOff + size - 1] = hv[0]!;
      indices[outOff + size - 1] = hi[0]!;
      hv[0] = hv[size - 1]!;
      hi[0] = hi[size - 1]!;
      siftDown(hv, hi, size - 1, 0);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// sparse decode

function sparseDecode(
  rows: number, k: number, indices: Int32Array, values: FloatArray, w: FloatArray, n: number,
  out: FloatArray, accumulate: boolean,
): void {
  checkSparse("sparseDecode", rows, k, indices, values, w, n, out, "out");
  checkSparseIndices("sparseDecode", indices, rows * k, w.length / n);
  const acc = new Float64Array(n);
  for (let r = 0; r < rows; r++) {
    acc.fill(0);
    for (let j = 0; j < k; j++) {
      const idx = indices[r * k + j]!;
      if (idx < 0) continue;
      const v = values[r * k + j]!;
      const wOff = idx * n;
      for (let c = 0; c < n; c++) acc[c] += v * w[wOff + c]!;
    }
    const off = r * n;
    if (accumulate) for (let c = 0; c < n; c++) out[off + c] += acc[c]!;
    else for (let c = 0; c < n; c++) out[off + c] = acc[c]!;
  }
}

function sparseDecodeBackward(
  rows: number, k: number, indices: Int32Array, values: FloatArray, w: FloatArray, n: number,
  dOut: FloatArray, dValues: FloatArray | null, dW: FloatArray | null,
): void {
  checkSparse("sparseDecodeBackward", rows, k, indices, values, w, n, dOut, "dOut");
  checkSparseIndices("sparseDecodeBackward", indices, rows * k, w.length / n);
  if (dValues) checkLength("sparseDecodeBackward", "dValues", dValues, rows * k);
  if (dW) checkLength("sparseDecodeBackward", "dW", dW, w.length);
  for (let r = 0; r < rows; r++) {
    const dOff = r * n;
    for (let j = 0; j < k; j++) {
      const slot = r * k + j;
      const idx = indices[slot]!;
      if (idx < 0) {
        if (dValues) dValues[slot] = 0;
        continue;
      }
      const wOff = idx * n;
      if (dValues) {
        let dot = 0;
        for (let c = 0; c < n; c++) dot += dOut[dOff + c]! * w[wOff + c]!;
        dValues[slot] = dot;
      }
      if (dW) {
        const v = values[slot]!;
        for (let c = 0; c < n; c++) dW[wOff + c] += v * dOut[dOff + c]!;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// reductions and the optimiser

function sumOverRows(x: FloatArray, rows: number, cols: number, out: FloatArray, accumulate: boolean): void {
  checkRows("sumOverRows", rows, cols, [x], ["x"]);
  checkLength("sumOverRows", "out", out, cols);
  const acc = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    for (let c = 0; c < cols; c++) acc[c] += x[off + c]!;
  }
  if (accumulate) for (let c = 0; c < cols; c++) out[c] += acc[c]!;
  else for (let c = 0; c < cols; c++) out[c] = acc[c]!;
}

function sumOverCols(x: FloatArray, rows: number, cols: number, out: FloatArray, accumulate: boolean): void {
  checkRows("sumOverCols", rows, cols, [x], ["x"]);
  checkLength("sumOverCols", "out", out, rows);
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += x[off + c]!;
    if (accumulate) out[r] += sum;
    else out[r] = sum;
  }
}

function adamwStep(
  param: FloatArray, grad: FloatArray, m: FloatArray, v: FloatArray,
  lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, bc1: number, bc2: number,
): void {
  checkSameLength("adamwStep", ["param", "grad", "m", "v"], [param, grad, m, v]);
  const n = param.length;
  for (let i = 0; i < n; i++) {
    const g = grad[i]!;
    const mi = beta1 * m[i]! + (1 - beta1) * g;
    const vi = beta2 * v[i]! + (1 - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    const p = param[i]!;
    param[i] = p - lr * (mi / bc1 / (Math.sqrt(vi / bc2) + eps) + weightDecay * p);
  }
}

// ---------------------------------------------------------------------------------------------------------------

function jsKernelsAt(precision: Precision): Kernels<FloatArray> {
  const product = precision === "bf16" ? gemmBf16 : gemm;
  const kernels: Kernels<FloatArray> = {
    name: "js",
    isa: "js",
    threads: 1,
    setThreads(_n: number): void {
      // Single-threaded by design; the call is accepted so callers need not know the backend.
    },
    precision,
    bf16Path: "emulated",
    withPrecision: (p: Precision) => (p === "bf16" ? jsKernelsBf16 : jsKernels),
    gemm: product,
    packB(transB, K, N, b, ldb) {
      if (transB) checkMatrix("packB", "B (transposed, N×K)", b, N, K, ldb);
      else checkMatrix("packB", "B (K×N)", b, K, N, ldb);
      return { transB, K, N, b, ldb };
    },
    gemmPackedB(transA, M, alpha, a, lda, p, beta, c, ldc) {
      product(transA, p.transB, M, p.N, p.K, alpha, a, lda, p.b, p.ldb, beta, c, ldc);
    },
    gemmAsync(transA, transB, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc): Promise<void> {
      try {
        product(transA, transB, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
        return Promise.resolve();
      } catch (e) {
        return Promise.reject(e);
      }
    },
    addBias,
    axpy,
    scale,
    gelu,
    geluBackward,
    relu,
    reluBackward,
    softmaxRows,
    logSoftmaxRows,
    softmaxRowsBackward,
    logSoftmaxRowsBackward,
    softmaxCrossEntropyRows,
    positiveRowsToSparse,
    projectOutRows,
    normalizeRows,
    layerNorm,
    layerNormBackward,
    topkRows,
    sparseDecode,
    sparseDecodeBackward,
    sumOverRows,
    sumOverCols,
    adamwStep,
    logitRowSummaries: logitRowSummariesJs,
    unembedCrossEntropy(args) {
      checkUnembedCrossEntropy(args);
      chunkedUnembedCrossEntropy(kernels, args);
    },
  };
  return kernels;
}

export const jsKernels: Kernels<FloatArray> = jsKernelsAt("fp32");
/** The TS kernels with bf16 products (the reference the native bf16 paths are tested against). */
export const jsKernelsBf16: Kernels<FloatArray> = jsKernelsAt("bf16");
