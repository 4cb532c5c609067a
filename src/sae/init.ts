/**
 * SAE initialisation: decoder rows random unit vectors, encoder = decoder (tied at init, as SAELens and OpenAI),
 * b_enc = 0, b_dec = the geometric median of a sample of activations (Towards Monosemanticity; the mean is the
 * fallback), so the encoder starts on centred inputs.
 */
import { kernels } from "../core/backend.js";
import type { Rng } from "../core/rng.js";
import type { Sae } from "./sae.js";

/** Fills the SAE's weights in place. */
export function initSae(sae: Sae, rng: Rng, bDec: Float32Array | null): void {
  const { dIn, dSae } = sae.spec;
  rng.fillNormal(sae.dec, 0, 1);
  kernels().normalizeRows(sae.dec, dSae, dIn, null);
  sae.encT.set(sae.dec);
  sae.bEnc.fill(0);
  if (bDec) sae.bDec.set(bDec);
  else sae.bDec.fill(0);
}

/** Column means of x [rows, dIn]. */
export function meanRow(x: Float32Array, rows: number, dIn: number): Float32Array {
  const sum = new Float64Array(dIn);
  for (let r = 0; r < rows; r++) for (let c = 0; c < dIn; c++) sum[c]! += x[r * dIn + c]!;
  return Float32Array.from(sum, (v) => (rows > 0 ? v / rows : 0));
}

/**
 * Geometric median of the rows (the point minimising Σ ‖x_r − m‖) by Weiszfeld's iteration from the mean,
 * stopping when the step is below `tol` relative to the median's norm.
 */
export function geometricMedian(x: Float32Array, rows: number, dIn: number, maxIter = 100, tol = 1e-5): Float32Array {
  let m = Float64Array.from(meanRow(x, rows, dIn));
  for (let it = 0; it < maxIter; it++) {
    const next = new Float64Array(dIn);
    let weightSum = 0;
    for (let r = 0; r < rows; r++) {
      let d2 = 0;
      for (let c = 0; c < dIn; c++) {
        const d = x[r * dIn + c]! - m[c]!;
        d2 += d * d;
      }
      const w = 1 / Math.max(Math.sqrt(d2), 1e-8);
      weightSum += w;
      for (let c = 0; c < dIn; c++) next[c]! += w * x[r * dIn + c]!;
    }
    let step = 0;
    let norm = 0;
    for (let c = 0; c < dIn; c++) {
      next[c]! /= weightSum;
      step += (next[c]! - m[c]!) ** 2;
      norm += next[c]! ** 2;
    }
    m = next;
    if (Math.sqrt(step) <= tol * Math.max(Math.sqrt(norm), 1e-12)) break;
  }
  return Float32Array.from(m);
}
