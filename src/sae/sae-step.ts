/**
 * Loss and gradients of one SAE training batch, written out by hand so the sparsity of the codes is used:
 * the encoder is one dense gemm; decoding, the decoder gradient, the code gradients and the encoder's weight
 * gradient each touch only the active (row, feature) pairs — O(B·L0·d_in) instead of O(B·d_sae·d_in). While the
 * codes are still dense (early in training, or during the L1 warm-up) a dense-gemm path is used instead.
 *
 * Losses (all averaged over the batch, summed over d_in — SAELens' convention):
 *   standard: ‖x̂ − x‖² + λ · Σ_j f_j ‖W_dec_j‖            (decoder rows are kept at unit norm, so Σ_j f_j)
 *   topk:     ‖x̂ − x‖² + α · ‖ê − (x − x̂)‖²                 (AuxK: ê decodes the top k_aux dead latents, no b_dec;
 *                                                           x − x̂ is a constant for it, as in OpenAI's recipe)
 *   standard + AuxK (α > 0 and a dead mask): the same auxiliary term added to the standard loss. A ReLU latent
 *   that is dead has pre-activations ≤ 0, so ReLU aux codes would carry no gradient: its aux code is instead its
 *   pre-activation minus the row's (k_aux+1)-th largest among dead latents (positive, slope 1, the threshold held
 *   constant), i.e. a TopK over the dead latents measured from its own threshold. Not on the dense path (the
 *   early, still-dense steps, when no latent is dead yet).
 *   AuxK's codes are decoded and back-propagated with gemms over a [rows, dead] matrix while the dead latents are
 *   few (auxPath; a ReLU run's few hundred dead latents with k_aux = 256 otherwise cost 8× more as gather/scatter).
 *   AuxK trains only the dead latents' own parameters (encoder rows, b_enc, decoder rows): b_dec is held constant
 *   in the auxiliary term. Every latent's pre-activation depends on b_dec, and the aux gradient on it has the same
 *   sign on every token, so Adam moves b_dec at its full rate along it; in a 20M-token ReLU+L1 run (λ 3, 4,096
 *   features) that drift silenced half the dictionary within ~300 steps of AuxK switching on.
 * Gradients are written into SaeGradients (overwritten each call).
 */
import { kernels } from "../core/backend.js";
import { reluCodesBounded, topkCodes, type ReluRowSplit, type Sae, type SparseCodes } from "./sae.js";

export interface SaeGradients {
  encT: Float32Array;
  bEnc: Float32Array;
  dec: Float32Array;
  bDec: Float32Array;
}

export interface SaeBatchOptions {
  /** λ of the L1 penalty (standard). */
  l1Coefficient: number;
  /** Features that count as dead for AuxK (topk, or standard with auxCoefficient > 0): a mask over d_sae, or null. */
  deadMask?: Uint8Array | null;
  /** k_aux: dead latents used by AuxK per token (default d_in / 2). */
  auxK?: number;
  /** α of the AuxK loss (default 1/32). */
  auxCoefficient?: number;
  /** Density (L0 / d_sae) above which the dense path is used (default 0.1: about where the two paths cost the same). */
  denseThreshold?: number;
  /**
   * Pad the few heavy rows apart from the rest when that saves most of the padding (default true; sae.ts
   * splitReluCodes). The same numbers up to summation order.
   */
  splitHeavyRows?: boolean;
  /** Compute stats.totalVariance (a pass over the batch; default true). */
  withVariance?: boolean;
  /**
   * How AuxK decodes and back-propagates its codes: "sparse" (gather/scatter over the k_aux selected latents per
   * row), "dense" (gemms over a [rows, dead] code matrix), or "auto" (default: dense while dead ≤
   * AUX_DENSE_MAX_DEAD_PER_K · k_aux). The same numbers up to the gemms' precision and summation order.
   */
  auxPath?: "auto" | "sparse" | "dense";
}

/**
 * AuxK's dense path while the dead latents number at most this many times k_aux. A ReLU run has a few hundred dead
 * latents and k_aux = 256 selects most of them on every row: four gemms over [rows, dead] then cost a fraction of
 * the four gather/scatter passes over rows × k_aux slots (~2 GMAC per 4,096-row batch, which doubled the step).
 */
export const AUX_DENSE_MAX_DEAD_PER_K = 8;

export interface SaeBatchStats {
  /** Total loss that was differentiated. */
  loss: number;
  /** Mean over tokens of ‖x̂ − x‖². */
  mse: number;
  /** Mean over tokens of Σ_j f_j (the unweighted L1 of the codes). */
  l1: number;
  /** AuxK loss before α (0 when unused). */
  auxLoss: number;
  /** Mean active features per token. */
  l0: number;
  /** Σ over tokens of ‖x − mean(x)‖² of this batch (for explained variance; NaN when not computed). */
  totalVariance: number;
  /** Whether the dense path ran. */
  dense: boolean;
}

export function allocateGradients(sae: Sae): SaeGradients {
  return {
    encT: new Float32Array(sae.encT.length),
    bEnc: new Float32Array(sae.bEnc.length),
    dec: new Float32Array(sae.dec.length),
    bDec: new Float32Array(sae.bDec.length),
  };
}

/** Reusable scratch so steady-state training allocates little. */
class Scratch {
  private readonly buffers = new Map<string, Float32Array>();
  get(name: string, size: number): Float32Array {
    let b = this.buffers.get(name);
    if (!b || b.length < size) {
      b = new Float32Array(size);
      this.buffers.set(name, b);
    }
    return b.subarray(0, size);
  }
}

/**
 * Computes loss and gradients for x [rows, d_in]; returns the statistics and the codes (for dead-feature tracking).
 */
export class SaeBatchStep {
  private readonly scratch = new Scratch();
  private lastSlots = 32;

  constructor(readonly sae: Sae, readonly grads: SaeGradients = allocateGradients(sae)) {}

  /**
   * firedCounts: on the dense path (codes = null), how many rows each feature fired on (the sparse path's codes say
   * it already); density tracking needs counts, not just "fired in this batch".
   */
  run(x: Float32Array, rows: number, options: SaeBatchOptions): { stats: SaeBatchStats; codes: SparseCodes | null; activeFeatures: Uint8Array; firedCounts?: Float32Array } {
    const sae = this.sae;
    const k = kernels();
    const { dIn, dSae } = sae.spec;
    const g = this.grads;
    g.encT.fill(0);
    g.bEnc.fill(0);
    g.dec.fill(0);
    g.bDec.fill(0);

    const xc = sae.centred(x, rows, this.scratch.get("xc", rows * dIn));
    // TopK ranks pre + b_enc inside its selection; `pre` then holds the product without b_enc.
    const topk = sae.spec.architecture === "topk";
    const pre = sae.preActivations(xc, rows, this.scratch.get("pre", rows * dSae), !topk);

    let codes: SparseCodes | null = null;
    let split: ReluRowSplit | null = null;
    let dense = false;
    const threshold = options.denseThreshold ?? 0.1;
    if (topk) {
      codes = topkCodes(pre, rows, dSae, sae.spec.k!, sae.bEnc);
    } else {
      ({ codes, split } = this.reluCodes(pre, rows, dSae, threshold, options.splitHeavyRows ?? true));
      dense = codes === null && split === null;
    }
    if (split) return this.runSplit(x, xc, pre, rows, split, options);

    const xh = this.scratch.get("xh", rows * dIn);
    const dxh = this.scratch.get("dxh", rows * dIn);
    let l1 = 0;
    let l0 = 0;
    const activeFeatures = new Uint8Array(dSae);
    const invRows = rows > 0 ? 1 / rows : 0;
    const lambda = sae.spec.architecture === "standard" ? options.l1Coefficient : 0;

    if (dense) {
      // pre becomes F = ReLU(pre) in place; pre > 0 ⇔ F > 0, so F also serves as the ReLU mask below.
      k.relu(pre, pre);
      const f = pre;
      k.gemm(false, false, rows, dIn, dSae, 1, f, dSae, sae.dec, dIn, 0, xh, dIn);
      k.addBias(xh, rows, dIn, sae.bDec);
      // L1 = Σ f; L0 from per-row positive counts; which features fired from column sums (all native passes).
      const featureSums = this.scratch.get("featureSums", dSae);
      k.sumOverRows(f, rows, dSae, featureSums, false);
      for (let j = 0; j < dSae; j++) {
        l1 += featureSums[j]!;
        activeFeatures[j] = featureSums[j]! > 0 ? 1 : 0;
      }
      const counts = this.scratchInt("counts", rows);
      k.positiveRowsToSparse(f, rows, dSae, 1, this.scratch.get("oneValue", rows), this.scratchInt("oneIndex", rows), counts);
      for (let r = 0; r < rows; r++) l0 += counts[r]!;
      // Rows each feature fired on: Σ over rows of [F > 0] (native passes: an indicator via reluBackward, then a sum).
      const indicator = this.scratch.get("firedIndicator", rows * dSae).fill(1);
      k.reluBackward(f, indicator, indicator);
      const firedCounts = new Float32Array(dSae);
      k.sumOverRows(indicator, rows, dSae, firedCounts, false);
      const mse = squaredErrorGrad(x, xh, dxh, rows, dIn, 2 * invRows);
      // dF = dx̂ W_decᵀ + λ/B, masked by F > 0 → dPre (written into a separate buffer; F is still needed).
      const dPre = this.scratch.get("dPre", rows * dSae).fill(lambda * invRows);
      k.gemm(false, true, rows, dSae, dIn, 1, dxh, dIn, sae.dec, dIn, 1, dPre, dSae);
      k.reluBackward(f, dPre, dPre);
      k.gemm(true, false, dSae, dIn, rows, 1, f, dSae, dxh, dIn, 0, g.dec, dIn);
      k.gemm(true, false, dSae, dIn, rows, 1, dPre, dSae, xc, dIn, 0, g.encT, dIn);
      k.sumOverRows(dPre, rows, dSae, g.bEnc, false);
      this.finishBDec(dxh, rows);
      const stats = this.stats(mse, l1 * invRows, 0, l0 * invRows, lambda * l1 * invRows, options.withVariance === false ? NaN : batchVariance(x, rows, dIn), true);
      return { stats, codes: null, activeFeatures, firedCounts };
    }

    // ---- sparse path
    const c = codes!;
    let mse: number;
    ({ mse, l1, l0 } = this.sparseBackward(c, x, xc, xh, dxh, invRows, lambda, activeFeatures, null, "dVals"));
    return { stats: this.finishSparse(pre, x, xc, xh, dxh, rows, { mse, l1, l0 }, lambda, options), codes: c, activeFeatures };
  }

  /** The sparse paths' end, once x̂ and dx̂ hold every row: b_dec's gradient, AuxK, the statistics. */
  private finishSparse(
    pre: Float32Array, x: Float32Array, xc: Float32Array, xh: Float32Array, dxh: Float32Array, rows: number,
    sums: { mse: number; l1: number; l0: number }, lambda: number, options: SaeBatchOptions,
  ): SaeBatchStats {
    const { dIn } = this.sae.spec;
    const invRows = rows > 0 ? 1 / rows : 0;
    // Before AuxK adds to db_enc: b_dec's chain term must see the main loss only (module doc).
    this.finishBDec(dxh, rows);
    let auxLoss = 0;
    const alpha = options.auxCoefficient ?? 1 / 32;
    if (options.deadMask && alpha > 0) {
      auxLoss = this.auxK(pre, x, xh, xc, rows, options.deadMask, options.auxK ?? Math.floor(dIn / 2), alpha, options.auxPath ?? "auto");
    }
    const { mse, l1, l0 } = sums;
    const loss = mse + lambda * l1 * invRows + alpha * auxLoss;
    return this.stats(mse, l1 * invRows, auxLoss, l0 * invRows, loss - mse, options.withVariance === false ? NaN : batchVariance(x, rows, dIn), false);
  }

  /**
   * ReLU codes, or the light and heavy rows padded apart (split), or neither (→ dense path) above `threshold` mean
   * density; see reluCodesBounded.
   */
  private reluCodes(pre: Float32Array, rows: number, dSae: number, threshold: number, splitHeavy: boolean): { codes: SparseCodes | null; split: ReluRowSplit | null } {
    const { codes, most, split } = reluCodesBounded(pre, rows, dSae, {
      slots: this.lastSlots, maxDensity: threshold, counts: this.scratchInt("counts", rows), splitHeavy,
    });
    // Room for the next batch's densest (light) row without a second pass, without keeping stale slack forever.
    if (codes) this.lastSlots = Math.max(1, Math.ceil(most * 1.25));
    if (split) this.lastSlots = Math.max(1, Math.ceil(split.lightCodes.k * 1.25));
    return { codes, split: split ?? null };
  }

  /**
   * Decodes codes c of x's rows into xh, writes dxh = d(MSE)/dx̂ (scaled by the whole batch's 1/rows) and adds the
   * decoder and encoder gradients of the MSE and the L1 penalty (λ per code, times 1/rows). Marks the firing
   * features in `active` (and counts them in `fired`). Returns the MSE over these rows, Σ codes and their count.
   */
  private sparseBackward(
    c: SparseCodes, x: Float32Array, xc: Float32Array, xh: Float32Array, dxh: Float32Array, invRows: number, lambda: number,
    active: Uint8Array, fired: Float32Array | null, scratchName: string,
  ): { mse: number; l1: number; l0: number } {
    const sae = this.sae;
    const { dIn } = sae.spec;
    sae.decode(c, xh);
    const mse = squaredErrorGrad(x, xh, dxh, c.rows, dIn, 2 * invRows);
    const dVals = this.scratch.get(scratchName, c.rows * c.k);
    kernels().sparseDecodeBackward(c.rows, c.k, c.indices, c.values, sae.dec, dIn, dxh, dVals, this.grads.dec);
    const l1Grad = lambda * invRows;
    let l1 = 0;
    let l0 = 0;
    for (let i = 0; i < dVals.length; i++) {
      const idx = c.indices[i]!;
      if (idx < 0) {
        dVals[i] = 0;
        continue;
      }
      l1 += c.values[i]!;
      l0++;
      active[idx] = 1;
      if (fired) fired[idx]! += 1;
      dVals[i] = dVals[i]! + l1Grad;
    }
    this.encoderBackward(c, dVals, xc, c.rows);
    return { mse, l1, l0 };
  }

  /**
   * The sparse path when the batch's light and heavy rows are padded apart (ReluRowSplit): each group is decoded
   * and back-propagated over its own gathered rows, x̂ and dx̂ are scattered back to the batch's order, then b_dec
   * and AuxK as on the one-group path. Returns the per-feature firing counts instead of codes.
   */
  private runSplit(x: Float32Array, xc: Float32Array, pre: Float32Array, rows: number, split: ReluRowSplit, options: SaeBatchOptions): { stats: SaeBatchStats; codes: null; activeFeatures: Uint8Array; firedCounts: Float32Array } {
    const sae = this.sae;
    const { dIn, dSae } = sae.spec;
    const xh = this.scratch.get("xh", rows * dIn);
    const dxh = this.scratch.get("dxh", rows * dIn);
    const invRows = 1 / rows;
    const lambda = options.l1Coefficient;
    const activeFeatures = new Uint8Array(dSae);
    const firedCounts = new Float32Array(dSae);
    let squares = 0;
    let l1 = 0;
    let l0 = 0;
    const groups = [["light", split.light, split.lightCodes], ["heavy", split.heavy, split.heavyCodes]] as const;
    for (const [name, at, c] of groups) {
      const n = at.length;
      if (n === 0) continue;
      const xg = gatherRows(x, at, dIn, this.scratch.get(`${name}X`, n * dIn));
      const xcg = gatherRows(xc, at, dIn, this.scratch.get(`${name}Xc`, n * dIn));
      const xhg = this.scratch.get(`${name}Xh`, n * dIn);
      const dxhg = this.scratch.get(`${name}Dxh`, n * dIn);
      const group = this.sparseBackward(c, xg, xcg, xhg, dxhg, invRows, lambda, activeFeatures, firedCounts, `${name}DVals`);
      squares += group.mse * n;
      l1 += group.l1;
      l0 += group.l0;
      scatterRows(xhg, at, dIn, xh);
      scatterRows(dxhg, at, dIn, dxh);
    }
    const stats = this.finishSparse(pre, x, xc, xh, dxh, rows, { mse: squares * invRows, l1, l0 }, lambda, options);
    return { stats, codes: null, activeFeatures, firedCounts };
  }

  private readonly ints = new Map<string, Int32Array>();
  private scratchInt(name: string, size: number): Int32Array {
    let b = this.ints.get(name);
    if (!b || b.length < size) {
      b = new Int32Array(size);
      this.ints.set(name, b);
    }
    return b.subarray(0, size);
  }

  /**
   * Given dL/dpre at the code slots: dW_encᵀ[j] += dpre·xc_r and db_enc[j] += dpre (sparse scatters, the same
   * kernel as the decoder's weight gradient; db_enc is a scatter into a 1-column matrix of ones).
   */
  private encoderBackward(c: SparseCodes, dPre: Float32Array, xc: Float32Array, rows: number): void {
    const k = kernels();
    const { dIn } = this.sae.spec;
    k.sparseDecodeBackward(rows, c.k, c.indices, dPre, this.sae.encT, dIn, xc, null, this.grads.encT);
    const ones = this.scratch.get("ones", rows).fill(1);
    k.sparseDecodeBackward(rows, c.k, c.indices, dPre, this.sae.bEnc, 1, ones, null, this.grads.bEnc);
  }

  /** db_dec = Σ_r dx̂_r − (db_enc · W_encᵀ) when b_dec is subtracted from the encoder input. */
  private finishBDec(dxh: Float32Array, rows: number): void {
    const k = kernels();
    const { dIn, dSae } = this.sae.spec;
    k.sumOverRows(dxh, rows, dIn, this.grads.bDec, false);
    if (this.sae.spec.applyBDecToInput) {
      k.gemm(false, false, 1, dIn, dSae, -1, this.grads.bEnc, dSae, this.sae.encT, dIn, 1, this.grads.bDec, dIn);
    }
  }

  /**
   * AuxK (OpenAI, "Scaling and evaluating sparse autoencoders"): the top k_aux pre-activations among dead latents
   * reconstruct the residual e = x − x̂; loss ‖ê − e‖² (batch mean). Returns the loss before α; adds α·gradients.
   */
  private auxK(pre: Float32Array, x: Float32Array, xh: Float32Array, xc: Float32Array, rows: number, deadMask: Uint8Array, kAuxWanted: number, alpha: number, path: "auto" | "sparse" | "dense"): number {
    const k = kernels();
    const { dIn, dSae } = this.sae.spec;
    const deadCols: number[] = [];
    for (let j = 0; j < dSae; j++) if (deadMask[j]) deadCols.push(j);
    const nDead = deadCols.length;
    if (nDead === 0 || rows === 0) return 0;
    // Standard (ReLU) latents: one extra slot per row gives the threshold the aux codes are measured from.
    const shifted = this.sae.spec.architecture === "standard";
    const kAux = shifted ? Math.min(kAuxWanted, nDead - 1) : Math.min(kAuxWanted, nDead);
    if (kAux < 1) return 0;
    const kSel = shifted ? kAux + 1 : kAux;
    // Gather the dead columns into a compact [rows, nDead] matrix so top-k runs over dead latents only.
    const compact = this.scratch.get("auxPre", rows * nDead);
    // `pre` lacks b_enc on the TopK path: add it while gathering, rounded as the float32 kernels round. The standard
    // path's `pre` already holds it.
    const bEnc = shifted ? null : this.sae.bEnc;
    for (let r = 0; r < rows; r++) {
      const src = r * dSae;
      const dst = r * nDead;
      if (bEnc) for (let j = 0; j < nDead; j++) compact[dst + j] = pre[src + deadCols[j]!]! + bEnc[deadCols[j]!]!;
      else for (let j = 0; j < nDead; j++) compact[dst + j] = pre[src + deadCols[j]!]!;
    }
    const dense = path === "dense" || (path === "auto" && nDead <= AUX_DENSE_MAX_DEAD_PER_K * kAux);
    if (dense) return this.auxDense(compact, kSel, shifted, deadCols, x, xh, xc, rows, alpha);
    const indices = new Int32Array(rows * kSel);
    const values = new Float32Array(rows * kSel);
    k.topkRows(compact, rows, nDead, kSel, values, indices);
    if (shifted) {
      for (let r = 0; r < rows; r++) {
        let lowest = r * kSel;
        for (let i = r * kSel + 1; i < (r + 1) * kSel; i++) if (values[i]! < values[lowest]!) lowest = i;
        const threshold = values[lowest]!;
        for (let i = r * kSel; i < (r + 1) * kSel; i++) {
          const v = values[i]! - threshold;
          if (i !== lowest && v > 0) {
            indices[i] = deadCols[indices[i]!]!;
            values[i] = v;
          } else {
            indices[i] = -1;
            values[i] = 0;
          }
        }
      }
    } else {
      for (let i = 0; i < indices.length; i++) {
        if (values[i]! > 0) indices[i] = deadCols[indices[i]!]!;
        else {
          indices[i] = -1;
          values[i] = 0;
        }
      }
    }
    const eHat = this.scratch.get("auxRecon", rows * dIn);
    k.sparseDecode(rows, kSel, indices, values, this.sae.dec, dIn, eHat, false);
    // auxDiff = ê − (x − x̂); its gradient 2α·auxDiff/B flows into the aux codes and the dead decoder rows.
    const loss = auxResidual(eHat, x, xh, rows * dIn);
    const scale = (2 * alpha) / rows;
    k.scale(eHat, scale);
    const dVals = new Float32Array(rows * kSel);
    k.sparseDecodeBackward(rows, kSel, indices, values, this.sae.dec, dIn, eHat, dVals, this.grads.dec);
    for (let i = 0; i < dVals.length; i++) if (indices[i]! < 0) dVals[i] = 0;
    this.encoderBackward({ rows, k: kSel, indices, values }, dVals, xc, rows);
    return loss / rows;
  }

  /**
   * AuxK's selection, decode and backward over the [rows, dead] pre-activations `compact` with dense ops. Each row's
   * kSel-th largest value t comes from a top-m selection, m the smaller of kSel and dead − kSel + 1 (on negated
   * values: the kSel-th largest is the (dead − kSel + 1)-th smallest), so a run whose k_aux covers most of its dead
   * latents does not rank them all. The codes A are then those of the sparse path: shifted (standard),
   * max(0, pre − t); TopK, pre where pre is among the row's kSel largest (ties at t by index, as topkRows) and
   * positive. Then ê = A·D, dA = (G·Dᵀ) masked to the positive codes, dD = Aᵀ·G, dE = dAᵀ·xc, db = Σ_rows dA, with
   * D the dead decoder rows and G = 2α(ê − (x − x̂))/B; dD, dE and db are added to the dead latents' gradients.
   */
  private auxDense(compact: Float32Array, kSel: number, shifted: boolean, deadCols: readonly number[], x: Float32Array, xh: Float32Array, xc: Float32Array, rows: number, alpha: number): number {
    const k = kernels();
    const { dIn } = this.sae.spec;
    const nDead = deadCols.length;
    const fromTop = kSel <= nDead - kSel + 1;
    const m = fromTop ? kSel : nDead - kSel + 1;
    const selected = this.scratch.get("auxSelected", rows * m);
    const selectedAt = this.scratchInt("auxSelectedAt", rows * m);
    if (!fromTop) k.scale(compact, -1); // negation is exact, and undone below
    k.topkRows(compact, rows, nDead, m, selected, selectedAt);
    if (!fromTop) k.scale(compact, -1);
    const codes = this.scratch.get("auxCodes", rows * nDead).fill(0);
    for (let r = 0; r < rows; r++) {
      const t = fromTop ? selected[r * m + m - 1]! : -selected[r * m + m - 1]!;
      const from = r * nDead;
      if (shifted) {
        for (let j = from; j < from + nDead; j++) {
          const v = compact[j]! - t;
          if (v > 0) codes[j] = v;
        }
        continue;
      }
      let ties = kSel;
      for (let j = from; j < from + nDead; j++) if (compact[j]! > t) ties--;
      for (let j = from; j < from + nDead; j++) {
        const p = compact[j]!;
        if ((p > t || (p === t && ties-- > 0)) && p > 0) codes[j] = p;
      }
    }
    const deadDec = this.scratch.get("auxDeadDec", nDead * dIn);
    deadCols.forEach((j, i) => deadDec.set(this.sae.dec.subarray(j * dIn, (j + 1) * dIn), i * dIn));
    const eHat = this.scratch.get("auxRecon", rows * dIn);
    k.gemm(false, false, rows, dIn, nDead, 1, codes, nDead, deadDec, dIn, 0, eHat, dIn);
    const loss = auxResidual(eHat, x, xh, rows * dIn);
    k.scale(eHat, (2 * alpha) / rows);
    // dA = G·Dᵀ, kept only where a code is positive (the selected latents: the slope-1 part of their code).
    const dCodes = this.scratch.get("auxCodeGrads", rows * nDead);
    k.gemm(false, true, rows, nDead, dIn, 1, eHat, dIn, deadDec, dIn, 0, dCodes, nDead);
    k.reluBackward(codes, dCodes, dCodes);
    const dDec = this.scratch.get("auxDecGrads", nDead * dIn);
    k.gemm(true, false, nDead, dIn, rows, 1, codes, nDead, eHat, dIn, 0, dDec, dIn);
    const dEnc = this.scratch.get("auxEncGrads", nDead * dIn);
    k.gemm(true, false, nDead, dIn, rows, 1, dCodes, nDead, xc, dIn, 0, dEnc, dIn);
    const dBias = this.scratch.get("auxBiasGrads", nDead);
    k.sumOverRows(dCodes, rows, nDead, dBias, false);
    // Scatter-add the dead rows (sparseDecodeBackward with one unit weight per row is that row scatter).
    const cols = Int32Array.from(deadCols);
    const ones = this.scratch.get("auxOnes", nDead).fill(1);
    k.sparseDecodeBackward(nDead, 1, cols, ones, this.sae.dec, dIn, dDec, null, this.grads.dec);
    k.sparseDecodeBackward(nDead, 1, cols, ones, this.sae.encT, dIn, dEnc, null, this.grads.encT);
    for (let i = 0; i < nDead; i++) this.grads.bEnc[deadCols[i]!] += dBias[i]!;
    return loss / rows;
  }

  private stats(mse: number, l1: number, auxLoss: number, l0: number, penalty: number, totalVariance: number, dense: boolean): SaeBatchStats {
    return { loss: mse + penalty, mse, l1, auxLoss, l0, totalVariance, dense };
  }
}

/** out[i] = the row at[i] of m [·, cols]. */
function gatherRows(m: Float32Array, at: Int32Array, cols: number, out: Float32Array): Float32Array {
  for (let i = 0; i < at.length; i++) out.set(m.subarray(at[i]! * cols, (at[i]! + 1) * cols), i * cols);
  return out;
}

/** The row at[i] of m [·, cols] = row i of rows. */
function scatterRows(rows: Float32Array, at: Int32Array, cols: number, m: Float32Array): void {
  for (let i = 0; i < at.length; i++) m.set(rows.subarray(i * cols, (i + 1) * cols), at[i]! * cols);
}

/** AuxK's residual in place: eHat ← ê − (x − x̂); returns Σ of its squares (the aux loss before the batch mean). */
function auxResidual(eHat: Float32Array, x: Float32Array, xh: Float32Array, n: number): number {
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const d = eHat[i]! - (x[i]! - xh[i]!);
    loss += d * d;
    eHat[i] = d;
  }
  return loss;
}

/** dxh = scale · (xh − x); returns the batch mean of ‖xh − x‖² (scale = 2/B gives d(mean squared error)/dxh). */
function squaredErrorGrad(x: Float32Array, xh: Float32Array, dxh: Float32Array, rows: number, dIn: number, scale: number): number {
  let sum = 0;
  const n = rows * dIn;
  for (let i = 0; i < n; i++) {
    const d = xh[i]! - x[i]!;
    sum += d * d;
    dxh[i] = scale * d;
  }
  return rows > 0 ? sum / rows : 0;
}

/** Σ_r ‖x_r − x̄‖² over the batch. */
export function batchVariance(x: Float32Array, rows: number, dIn: number): number {
  if (rows === 0) return 0;
  const mean = new Float64Array(dIn);
  for (let r = 0; r < rows; r++) for (let c = 0; c < dIn; c++) mean[c]! += x[r * dIn + c]!;
  for (let c = 0; c < dIn; c++) mean[c]! /= rows;
  let total = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < dIn; c++) {
      const d = x[r * dIn + c]! - mean[c]!;
      total += d * d;
    }
  }
  return total;
}

