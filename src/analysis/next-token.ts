/**
 * The model's most probable next tokens at each row of final-residual activations: ln_final, the unembedding,
 * softmax and a top-k, all in the numeric core (one GEMM per chunk of rows).
 */
import { kernels } from "../core/backend.js";
import { unembed } from "../model/readout.js";
import type { HookedTransformer } from "../model/transformer.js";

export interface TopNextTokens {
  k: number;
  /** [rows × k] token ids, by probability desc (ties: lower id first). */
  ids: Int32Array;
  /** [rows × k] their probabilities. */
  probs: Float32Array;
  /** [rows] the probability of `targets[r]` (NaN where no target was given). */
  targetProbs: Float32Array;
}

/**
 * Top-`k` next tokens of `rows` residual rows [rows × d_model], and the probability of each row's target token
 * (targets[r] < 0: none).
 */
export function topNextTokens(model: HookedTransformer, resid: Float32Array, rows: number, k: number, targets: Int32Array, chunkRows = 64): TopNextTokens {
  const u = unembed(model);
  const { dModel: d, dVocab: v } = u;
  if (!(k >= 1 && k <= v)) throw new RangeError(`topNextTokens: k must be in [1, ${v}], got ${k}`);
  if (resid.length < rows * d) throw new RangeError(`topNextTokens: ${rows} rows of ${d} need ${rows * d} values, got ${resid.length}`);
  const kern = kernels();
  const ids = new Int32Array(rows * k);
  const probs = new Float32Array(rows * k);
  const targetProbs = new Float32Array(rows).fill(NaN);
  const chunk = Math.max(1, Math.min(chunkRows, rows));
  const logits = new Float32Array(chunk * v);
  const p = new Float32Array(chunk * v);
  const normed = new Float32Array(chunk * d);
  const mean = new Float32Array(chunk);
  const rstd = new Float32Array(chunk);
  for (let first = 0; first < rows; first += chunk) {
    const m = Math.min(chunk, rows - first);
    let x = resid.subarray(first * d, (first + m) * d);
    if (u.norm !== null) {
      const out = normed.subarray(0, m * d);
      kern.layerNorm(x, m, d, u.lnW, u.lnB, u.eps, out, mean.subarray(0, m), rstd.subarray(0, m));
      x = out;
    }
    const l = logits.subarray(0, m * v);
    kern.gemm(false, false, m, v, d, 1, x, d, u.wU, v, 0, l, v);
    kern.addBias(l, m, v, u.bU);
    const pm = p.subarray(0, m * v);
    kern.softmaxRows(l, pm, m, v);
    kern.topkRows(pm, m, v, k, probs.subarray(first * k, (first + m) * k), ids.subarray(first * k, (first + m) * k));
    for (let r = 0; r < m; r++) {
      const t = targets[first + r] ?? -1;
      if (t >= 0 && t < v) targetProbs[first + r] = pm[r * v + t]!;
    }
  }
  return { k, ids, probs, targetProbs };
}
