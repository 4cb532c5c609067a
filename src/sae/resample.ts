/**
 * Resampling of dead and nearly-dead features (standard recipe), and the per-feature density tracking it needs.
 *
 *   paper        Towards Monosemanticity as shipped: at 20/40/60 % of training, features that have not fired for
 *                the dead window are resampled. Features in the ultra-low-density cluster fire a few times per
 *                window, so they are never touched.
 *   low-density  every `every` steps until the last 20 % of training, features whose density over the last
 *                `window` steps is below `threshold` ("dead or nearly dead") are resampled.
 *   none         no resampling (e.g. with the AuxK loss instead).
 *
 * Resampling itself is the paper's: score inputs by squared reconstruction error, pick one per feature with
 * probability ∝ loss², point the feature at it (decoder = the centred input, unit norm; encoder = that direction ×
 * 0.2 × the mean encoder norm of the other features; b_enc = 0) and reset its Adam moments.
 */
import { kernels } from "../core/backend.js";
import type { Adam } from "../core/optim.js";
import type { Rng } from "../core/rng.js";
import type { ActivationSource } from "./activations.js";
import type { Sae, SparseCodes } from "./sae.js";

export type ResampleMode = "paper" | "low-density" | "none";
export const RESAMPLE_MODES: readonly ResampleMode[] = ["paper", "low-density", "none"];

/** The low-density schedule, in steps (resolved from the token counts the user gives). */
export interface LowDensitySchedule {
  threshold: number;
  everySteps: number;
  windowSteps: number;
  /** No check after this step (the last 20 % of training by default: features need time to settle). */
  untilStep: number;
}

/** Steps at which the low-density schedule checks: every, 2·every, … ≤ untilStep. */
export function lowDensityCheckSteps(s: LowDensitySchedule): number[] {
  const steps: number[] = [];
  for (let t = s.everySteps; t <= s.untilStep; t += s.everySteps) steps.push(t);
  return steps;
}

/** Saved in the training checkpoint so a resumed run tracks densities exactly as an uninterrupted one. */
export interface DensityTrackerState {
  windowCounts: number[];
  windowDenseSteps: number;
  ema: number[];
  emaSteps: number;
}

/**
 * Per-feature firing counts of each training batch, folded into (1) the count over the current resampling window
 * and (2) an exponential moving average of density with a horizon in tokens, bias-corrected like Adam's moments so
 * that it is meaningful from the first step (used for the AuxK mask of the standard recipe and the progress line).
 */
export class FeatureDensityTracker {
  readonly windowCounts: Float64Array;
  /** Dense-path steps in the current window: their counts are only "fired in this batch", a lower bound. */
  windowDenseSteps: number;
  readonly ema: Float64Array;
  emaSteps: number;
  private readonly batchCounts: Float64Array;
  private readonly beta: number;

  constructor(readonly dSae: number, readonly batchSize: number, horizonTokens: number, state?: DensityTrackerState) {
    this.beta = Math.min(1, batchSize / Math.max(1, horizonTokens));
    this.windowCounts = state ? Float64Array.from(state.windowCounts) : new Float64Array(dSae);
    this.ema = state ? Float64Array.from(state.ema) : new Float64Array(dSae);
    this.emaSteps = state?.emaSteps ?? 0;
    this.windowDenseSteps = state?.windowDenseSteps ?? 0;
    if (this.windowCounts.length !== dSae || this.ema.length !== dSae) {
      throw new Error(`density tracker state has ${this.windowCounts.length} features, the SAE ${dSae}`);
    }
    this.batchCounts = new Float64Array(dSae);
  }

  /**
   * Counts one batch's firings: from the codes, or on the dense path (codes = null) from `denseCounts`. Without
   * either, only which features fired in the batch is known: the window count gets that lower bound and is marked
   * (no check judges such a window), and the moving average skips the step rather than read it as 1/batch.
   */
  observe(codes: SparseCodes | null, active: Uint8Array, denseCounts?: Float32Array): void {
    if (codes === null && !denseCounts) {
      for (let j = 0; j < this.dSae; j++) this.windowCounts[j]! += active[j]!;
      this.windowDenseSteps++;
      return;
    }
    const c = this.batchCounts;
    if (codes) {
      c.fill(0);
      for (const idx of codes.indices) if (idx >= 0) c[idx]! += 1;
    } else c.set(denseCounts!);
    const b = this.beta;
    const inv = 1 / this.batchSize;
    for (let j = 0; j < this.dSae; j++) {
      this.windowCounts[j]! += c[j]!;
      this.ema[j]! += b * (c[j]! * inv - this.ema[j]!);
    }
    this.emaSteps++;
  }

  /** Starts a new resampling window. */
  resetWindow(): void {
    this.windowCounts.fill(0);
    this.windowDenseSteps = 0;
  }

  /** Bias-corrected moving-average density of feature j. */
  density(j: number): number {
    const correction = 1 - (1 - this.beta) ** this.emaSteps;
    return correction > 0 ? this.ema[j]! / correction : 0;
  }

  /** mask[j] = 1 where the moving-average density is below threshold; returns how many (0 before any sparse step). */
  belowMask(threshold: number, mask: Uint8Array): number {
    if (this.emaSteps === 0) return 0;
    const correction = 1 - (1 - this.beta) ** this.emaSteps;
    let n = 0;
    for (let j = 0; j < this.dSae; j++) {
      const d = correction > 0 ? this.ema[j]! / correction : 0;
      mask[j] = d < threshold ? 1 : 0;
      n += mask[j]!;
    }
    return n;
  }

  /** Moving-average densities of all features. */
  densities(): Float64Array {
    const out = new Float64Array(this.dSae);
    for (let j = 0; j < this.dSae; j++) out[j] = this.density(j);
    return out;
  }

  /** mask[j] = 1 where the density over the window (windowTokens) is below threshold; returns how many. */
  windowBelowMask(threshold: number, windowTokens: number, mask: Uint8Array): number {
    let n = 0;
    for (let j = 0; j < this.dSae; j++) {
      mask[j] = this.windowCounts[j]! < threshold * windowTokens ? 1 : 0;
      n += mask[j]!;
    }
    return n;
  }

  state(): DensityTrackerState {
    return { windowCounts: Array.from(this.windowCounts), windowDenseSteps: this.windowDenseSteps, ema: Array.from(this.ema), emaSteps: this.emaSteps };
  }
}

/** One resampling, as recorded in training.json. */
export interface ResampleEvent {
  step: number;
  /** Features that had not fired within the dead window. */
  dead: number;
  /** low-density: features below the threshold over the window (dead ones included); all of them were resampled. */
  belowThreshold?: number;
  /** Features resampled. */
  resampled?: number;
  /** Why a low-density check resampled nothing (e.g. the codes were still dense during its window). */
  skipped?: string;
}

/**
 * Resamples the features with mask[j] = 1 (see the file comment). `rows` inputs are drawn from the source and
 * scaled by normScale, as the training inputs are.
 */
export function resampleFeatures(sae: Sae, adam: Adam, mask: Uint8Array, source: ActivationSource, normScale: number, rows: number, rng: Rng, batchSize: number): number {
  const { dIn, dSae } = sae.spec;
  const idx: number[] = [];
  for (let j = 0; j < dSae; j++) if (mask[j]) idx.push(j);
  if (idx.length === 0) return 0;
  const k = kernels();
  const candidates = new Float32Array(rows * dIn);
  const weights = new Float64Array(rows);
  for (let r0 = 0; r0 < rows; r0 += batchSize) {
    const n = Math.min(batchSize, rows - r0);
    const x = candidates.subarray(r0 * dIn, (r0 + n) * dIn);
    source.next(n, x);
    if (normScale !== 1) k.scale(x, normScale);
    const xh = sae.reconstruct(x, n);
    for (let r = 0; r < n; r++) {
      let e = 0;
      for (let c = 0; c < dIn; c++) e += (xh[r * dIn + c]! - x[r * dIn + c]!) ** 2;
      weights[r0 + r] = e * e;
    }
  }
  const cumulative = new Float64Array(rows);
  let total = 0;
  for (let r = 0; r < rows; r++) cumulative[r] = total += weights[r]!;
  let aliveNorm = 0;
  let alive = 0;
  for (let j = 0; j < dSae; j++) {
    if (mask[j]) continue;
    let n2 = 0;
    for (let c = 0; c < dIn; c++) n2 += sae.encT[j * dIn + c]! ** 2;
    aliveNorm += Math.sqrt(n2);
    alive++;
  }
  const encScale = 0.2 * (alive > 0 ? aliveNorm / alive : 1);
  for (const j of idx) {
    const u = rng.uniform() * total;
    let lo = 0;
    let hi = rows - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    const row = sae.dec.subarray(j * dIn, (j + 1) * dIn);
    let n2 = 0;
    for (let c = 0; c < dIn; c++) {
      row[c] = candidates[lo * dIn + c]! - sae.bDec[c]!;
      n2 += row[c]! ** 2;
    }
    const inv = n2 > 0 ? 1 / Math.sqrt(n2) : 0;
    for (let c = 0; c < dIn; c++) {
      row[c] = row[c]! * inv;
      sae.encT[j * dIn + c] = row[c]! * encScale;
    }
    sae.bEnc[j] = 0;
  }
  adam.resetRows("W_enc", idx, dIn);
  adam.resetRows("W_dec", idx, dIn);
  adam.resetRows("b_enc", idx, 1);
  return idx.length;
}
