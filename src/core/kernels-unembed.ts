/**
 * Kernels.unembedCrossEntropy's argument checks and its generic route: the rows in chunks of chunkRows, each
 * through gemm (logits), addBias, softmaxCrossEntropyRows (nll, and the logits overwritten by G), then
 * dW += xᵀ G, dB += Σ G and dX = G Wᵀ. The TS kernels and the native fp32 / emulated-bf16 paths run this; the native
 * AVX512-BF16 path has one fused kernel instead (native/src/unembed_ce.cc), equal up to summation order.
 */
import { checkDim, checkLength } from "./kernel-checks.js";
import type { FloatArray, Kernels, UnembedCrossEntropyArgs } from "./kernels.js";

const KERNEL = "unembedCrossEntropy";

export function checkUnembedCrossEntropy(a: UnembedCrossEntropyArgs<FloatArray>): void {
  const { rows, d, vocab } = a;
  checkDim(KERNEL, "rows", rows);
  checkDim(KERNEL, "d", d);
  checkDim(KERNEL, "vocab", vocab);
  checkLength(KERNEL, "x", a.x, rows * d);
  checkLength(KERNEL, "w", a.w, d * vocab);
  if (a.bias) checkLength(KERNEL, "bias", a.bias, vocab);
  checkLength(KERNEL, "targets", a.targets, rows);
  checkLength(KERNEL, "nll", a.nll, rows);
  if (a.dX) checkLength(KERNEL, "dX", a.dX, rows * d);
  if (a.dW) checkLength(KERNEL, "dW", a.dW, d * vocab);
  if (a.dB) checkLength(KERNEL, "dB", a.dB, vocab);
  if (a.gradScale !== null && !Number.isFinite(a.gradScale)) throw new RangeError(`${KERNEL}: gradScale must be finite or null, got ${a.gradScale}`);
  if (a.chunkRows !== undefined && (!Number.isInteger(a.chunkRows) || a.chunkRows < 1)) {
    throw new RangeError(`${KERNEL}: chunkRows must be a positive integer, got ${a.chunkRows}`);
  }
  if (!Number.isInteger(a.ignoreIndex)) throw new RangeError(`${KERNEL}: ignoreIndex must be an integer, got ${a.ignoreIndex}`);
  for (let r = 0; r < rows; r++) {
    const t = a.targets[r]!;
    if (t !== a.ignoreIndex && !(t >= 0 && t < vocab)) {
      throw new RangeError(`${KERNEL}: target ${t} at row ${r} is outside [0, ${vocab}) and not ignoreIndex ${a.ignoreIndex}`);
    }
  }
}

/** Reused logits scratch (kernels are synchronous, so one buffer per dtype is safe). */
const scratch: { f32: Float32Array | null; f64: Float64Array | null } = { f32: null, f64: null };

function logitsScratch<A extends FloatArray>(like: A, size: number): A {
  const f64 = like instanceof Float64Array;
  const have = f64 ? scratch.f64 : scratch.f32;
  if (have && have.length >= size) return have.subarray(0, size) as A;
  if (f64) return (scratch.f64 = new Float64Array(size)) as A;
  return (scratch.f32 = new Float32Array(size)) as A;
}

/** The generic route (arguments already checked). */
export function chunkedUnembedCrossEntropy<A extends FloatArray>(k: Kernels<A>, a: UnembedCrossEntropyArgs<A>): void {
  const { x, rows, d, w, vocab, bias, targets, ignoreIndex, gradScale, nll } = a;
  const grad = gradScale !== null;
  const dX = grad ? a.dX : null, dW = grad ? a.dW : null, dB = grad ? a.dB : null;
  const chunkRows = a.chunkRows ?? 256;
  dW?.fill(0, 0, d * vocab);
  dB?.fill(0, 0, vocab);
  const logits = logitsScratch(x, Math.min(chunkRows, Math.max(rows, 1)) * vocab);
  for (let r0 = 0; r0 < rows; r0 += chunkRows) {
    const n = Math.min(chunkRows, rows - r0);
    const chunk = logits.subarray(0, n * vocab) as A;
    const xChunk = x.subarray(r0 * d, (r0 + n) * d) as A;
    k.gemm(false, false, n, vocab, d, 1, xChunk, d, w, vocab, 0, chunk, vocab);
    if (bias) k.addBias(chunk, n, vocab, bias);
    k.softmaxCrossEntropyRows(chunk, n, vocab, targets.subarray(r0, r0 + n), ignoreIndex, gradScale, nll.subarray(r0, r0 + n) as A);
    if (!grad) continue;
    if (dW) k.gemm(true, false, d, vocab, n, 1, xChunk, d, chunk, vocab, 1, dW, vocab);
    if (dB) k.sumOverRows(chunk, n, vocab, dB, true);
    if (dX) k.gemm(false, true, n, d, vocab, 1, chunk, vocab, w, vocab, 0, dX.subarray(r0 * d, (r0 + n) * d) as A, d);
  }
}
