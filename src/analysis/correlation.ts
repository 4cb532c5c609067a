/**
 * Streaming correlations for the feature dashboards and for universality (docs/conventions.md, "Dashboard data"):
 * Pearson r and cosine similarity over tokens from running sums Σx, Σy, Σxy, Σx², Σy² (as sae-vis' RollingCorrCoef),
 * with the codes kept sparse: no dense [tokens × features] matrix exists anywhere.
 *
 *   r(x, y)      = (N·Σxy − Σx·Σy) / sqrt((N·Σx² − (Σx)²) · (N·Σy² − (Σy)²))     clamped to [−1, 1]
 *   cosine(x, y) = Σxy / sqrt(Σx² · Σy²)                                          (uncentred, over tokens)
 * r is NaN when either variance is 0 (a feature that never fired, a constant neuron); cosine is NaN when either
 * Σx² is 0. "Best" matches rank by signed r, descending (as sae-vis' topk_pearson), ties to the smaller index, and
 * skip NaN; a feature with no defined r has best index −1 and r NaN.
 *
 * - FeatureNeuronCorrelation, FeatureFeatureCorrelation (feature-correlation.ts): SAE features × MLP neurons (dense activations, `blocks.0.mlp.hook_post`). Σ f·n over
 *   the active (feature, token) pairs is the sparse-codes × dense-rows scatter of the existing kernel
 *   `sparseDecodeBackward` (dW[idx] += v · dOut[r]), so the work per token is L0 × d_mlp.
 * - FeatureFeatureCorrelation: features of SAE A × features of SAE B on the same token stream (universality across
 *   models/runs, or "correlated features" within one dictionary with `sameDictionary`). Σ fa·fb is a dense
 *   [d_A × d_B] array updated by each token's L0_A × L0_B active pairs.
 * - neuronAlignment: the decoder row's largest entries (weight-based, no tokens).
 *
 * Codes: slots with index −1 are padding; a feature is assumed to appear at most once per token (as in every code Sae
 * produces). A feature is "live" when its activation was > 0 on at least one token.
 *
 * Precision (tokens up to ~10^6; the sums are float64 except where stated).
 *   The error of r is about δ·κ, where δ is the relative error of Σxy and κ = E[xy] / (σx·σy) = r + μx·μy / (σx·σy)
 *   is the cancellation factor of N·Σxy − Σx·Σy. For sparse codes with densities p_x, p_y,
 *   |μx|/σx ≤ sqrt(p_x / (1 − p_x)), so κ ≤ |r| + sqrt(p_x·p_y / ((1 − p_x)(1 − p_y))) ≈ 1 below 50 % density: no
 *   cancellation problem between features. Neurons, however, can have |mean| ≫ std (GELU neurons sitting near
 *   −0.1), so FeatureNeuronCorrelation shifts every neuron by a constant c_n (its float32 mean over the first
 *   batch) before accumulating: Pearson r is shift-invariant, n − c_n has mean ≈ 0, and κ ≈ |r|. The cosine, which
 *   is not shift-invariant, is reconstructed from the shifted sums in float64 (Σfn = Σf(n−c) + c·Σf,
 *   Σn² = Σ(n−c)² + 2c·Σ(n−c) + N·c²).
 *   Σ f·n goes through the float32 kernel into a float32 window that holds at most `windowRows` tokens (default
 *   1024); it is then added into a float64 total, touching only the features active in the window (so the flush
 *   costs at most what the window's scatter cost). δ ≲ windowRows · 2^−24 in the worst case, ~sqrt(windowRows)·2^−24
 *   typically: |Δr| ~ 10^−6.
 *   Σ fa·fb is float32 by default (`pairPrecision: "float32"`, 4 bytes per pair: 64 MB for 4,096 × 4,096) and sums
 *   each pair's co-firings directly, so δ ~ sqrt(m)·2^−24 for m co-firing tokens (m = 10^5: ~2·10^−5; the worst
 *   case m·2^−24 is 6·10^−3); `pairPrecision: "float64"` (8 bytes per pair, 128 MB for 4,096²) makes it ~10^−12.
 *
 * Memory, FeatureNeuronCorrelation: 12 bytes per (feature, neuron) pair (float64 total + float32 window): 96 MB for
 * 4,096 × 2,048 (d_sae × d_mlp), 384 MB for 16,384 × 2,048.
 */
import { kernels } from "../core/backend.js";
import type { Sae, SparseCodes } from "../sae/sae.js";

export class CorrelationError extends Error {
  override name = "CorrelationError";
}

/** One correlated partner: its index (neuron or feature), Pearson r and cosine similarity over tokens. */
export interface CorrelationMatch {
  index: number;
  r: number;
  cosine: number;
}

export interface CorrelationResult {
  /** Tokens accumulated. */
  tokens: number;
  /** Per row (feature), the partner with the largest r; −1 where no r is defined. */
  best: Int32Array;
  /** That r (NaN where best is −1). */
  bestR: Float32Array;
  /** Pearson r of (row, column); NaN if either variance is 0. */
  r(row: number, column: number): number;
  /** Cosine similarity over tokens; NaN if either is identically 0. */
  cosine(row: number, column: number): number;
  /** The k partners with the largest r, descending (ties: smaller index); NaN r skipped. */
  top(row: number, k?: number): CorrelationMatch[];
}

export interface FeatureNeuronCorrelationOptions {
  /** Tokens per float32 window before it is added into the float64 totals (default 1024). */
  windowRows?: number;
}

export interface FeatureFeatureCorrelationOptions {
  /** Element type of the dense Σ fa·fb array (default "float32"; see the module doc). */
  pairPrecision?: "float32" | "float64";
  /** A and B are the same dictionary on the same codes: a feature is never its own best match. Needs dA = dB. */
  sameDictionary?: boolean;
}

export interface UniversalityThreshold {
  threshold: number;
  /** Live features of A whose best r in B is > threshold. */
  matched: number;
  /** matched / live A features (NaN when A has none). */
  fraction: number;
}

export interface FeatureFeatureCorrelationResult extends CorrelationResult {
  /** Features of A / B that fired (> 0) at least once. */
  liveA: number;
  liveB: number;
  /** For each threshold (default 0.5 and 0.7), the share of A's live features with a match in B above it. */
  universality: UniversalityThreshold[];
}

const INT32_MAX = 0x7fffffff;

/** @internal shared by the correlation modules */
export function checkInt(where: string, name: string, v: number, min: number, max = INT32_MAX): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new CorrelationError(`${where}: ${name} must be an integer in [${min}, ${max}], got ${v}`);
  }
}

/** @internal shared by the correlation modules */
export function allocate<T>(where: string, what: string, bytes: number, make: () => T): T {
  try {
    return make();
  } catch (e) {
    throw new CorrelationError(
      `${where}: cannot allocate ${what} (${(bytes / 2 ** 20).toFixed(0)} MiB): ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

/** Validates a code batch against a dictionary size before any state changes. */
/** @internal shared by the correlation modules */
export function checkCodes(where: string, name: string, codes: SparseCodes, d: number): void {
  const { rows, k, indices, values } = codes;
  checkInt(where, `${name}.rows`, rows, 0);
  checkInt(where, `${name}.k`, k, 0);
  const n = rows * k;
  if (indices.length < n || values.length < n) {
    throw new CorrelationError(
      `${where}: ${name} holds ${indices.length} indices and ${values.length} values, need ${rows} rows × k ${k} = ${n}`,
    );
  }
  for (let i = 0; i < n; i++) {
    const f = indices[i]!;
    if (f < 0) continue;
    if (f >= d) {
      throw new CorrelationError(`${where}: ${name}: feature index ${f} ≥ ${d} (row ${Math.floor(i / k)}, slot ${i % k})`);
    }
    if (!Number.isFinite(values[i]!)) {
      throw new CorrelationError(`${where}: ${name}: non-finite value ${values[i]} (row ${Math.floor(i / k)}, slot ${i % k})`);
    }
  }
}

/**
 * Pearson r from the sums (float64); NaN when a variance is not positive. The one Pearson convention of saekit:
 * r is undefined (NaN; null in stored records and API responses) when either side is constant, and clamped to
 * [−1, 1]. `pearson` is the same for two whole vectors.
 */
export function pearsonFromSums(n: number, sx: number, sx2: number, sy: number, sy2: number, sxy: number): number {
  const vx = n * sx2 - sx * sx;
  const vy = n * sy2 - sy * sy;
  if (!(vx > 0 && vy > 0)) return NaN;
  const r = (n * sxy - sx * sy) / Math.sqrt(vx * vy);
  return r > 1 ? 1 : r < -1 ? -1 : r;
}

/** Pearson r of two equal-length vectors (sums in float64, pearsonFromSums' convention: NaN when either is constant). */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length !== y.length) throw new CorrelationError(`pearson: ${x.length} x values but ${y.length} y values`);
  let sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
  for (let i = 0; i < x.length; i++) {
    const a = x[i]!, b = y[i]!;
    sx += a; sy += b; sxx += a * a; syy += b * b; sxy += a * b;
  }
  return pearsonFromSums(x.length, sx, sxx, sy, syy, sxy);
}

/** @internal shared by the correlation modules */
export function cosineOf(sx2: number, sy2: number, sxy: number): number {
  const d = Math.sqrt(sx2 * sy2);
  if (!(d > 0)) return NaN;
  const c = sxy / d;
  return c > 1 ? 1 : c < -1 ? -1 : c;
}

/** @internal shared by the correlation modules */
export function checkIndex(where: string, what: string, v: number, d: number): void {
  if (!Number.isInteger(v) || v < 0 || v >= d) throw new CorrelationError(`${where}: ${what} must be an integer in [0, ${d}), got ${v}`);
}

/** Top-k columns of one row by r (desc, ties smaller index), skipping NaN and `skip`. */
/** @internal shared by the correlation modules */
export function topByR(cols: number, k: number, rOf: (c: number) => number, cosOf: (c: number) => number, skip: number): CorrelationMatch[] {
  const kept: Array<{ index: number; r: number }> = [];
  if (k === 0) return [];
  for (let c = 0; c < cols; c++) {
    if (c === skip) continue;
    const r = rOf(c);
    if (Number.isNaN(r)) continue;
    if (kept.length === k && !(r > kept[k - 1]!.r)) continue;
    let i = kept.length < k ? kept.length : k - 1;
    if (kept.length < k) kept.push({ index: c, r });
    while (i > 0 && r > kept[i - 1]!.r) {
      kept[i] = kept[i - 1]!;
      i--;
    }
    kept[i] = { index: c, r };
  }
  return kept.map(({ index, r }) => ({ index, r, cosine: cosOf(index) }));
}


export interface NeuronAlignment {
  neuron: number;
  /** W_dec[feature][neuron]. */
  value: number;
  /** |value| / Σ_n |W_dec[feature][n]| (sae-vis "% of L1"). */
  l1Share: number;
  /** value / ‖W_dec[feature]‖: the cosine of the decoder row with the neuron's basis direction. */
  cosine: number;
}

/**
 * Neuron alignment (docs/conventions.md, "Dashboard data"): the `top` entries of the feature's decoder row by |value|
 * (ties: smaller neuron), with the value, its share of the row's L1 norm and the cosine with the neuron's basis
 * direction. Meaningful for an SAE on the MLP neurons (d_in = d_mlp). sae-vis ranks by the signed value (largest
 * first); ranking by |value| also shows strongly negative entries. A zero row gives shares and cosines of 0.
 */
export function neuronAlignment(sae: Sae, feature: number, top = 5): NeuronAlignment[] {
  const where = "neuronAlignment";
  checkIndex(where, "feature", feature, sae.dSae);
  checkInt(where, "top", top, 0);
  const d = sae.dIn;
  const row = sae.dec.subarray(feature * d, (feature + 1) * d);
  let l1 = 0;
  let l2 = 0;
  for (let i = 0; i < d; i++) {
    const v = row[i]!;
    l1 += Math.abs(v);
    l2 += v * v;
  }
  const norm = Math.sqrt(l2);
  const kept = topByR(d, Math.min(top, d), (i) => Math.abs(row[i]!), () => 0, -1);
  return kept.map(({ index }) => {
    const value = row[index]!;
    return { neuron: index, value, l1Share: l1 > 0 ? Math.abs(value) / l1 : 0, cosine: norm > 0 ? value / norm : 0 };
  });
}

/**
 * Pearson correlation of every column of a dense matrix A [rows × dA] with every column of B [rows × dB] over the
 * same token stream: MLP neurons of model A against those of model B, for neuron universality. Σ a·b is one SGEMM
 * per batch (Aᵀ·B) added into float64 totals. Columns are shifted by their first-batch means before accumulating
 * (r is shift-invariant; GELU neurons can sit far from 0 relative to their spread), as FeatureNeuronCorrelation does.
 */
export class DenseColumnCorrelation {
  private tokens = 0;
  private readonly shiftA: Float32Array;
  private readonly shiftB: Float32Array;
  private readonly sumA: Float64Array;
  private readonly sumA2: Float64Array;
  private readonly sumB: Float64Array;
  private readonly sumB2: Float64Array;
  private readonly sumAB: Float64Array;
  private readonly block: Float32Array;

  constructor(readonly dA: number, readonly dB: number) {
    const where = "DenseColumnCorrelation";
    checkInt(where, "dA", dA, 1);
    checkInt(where, "dB", dB, 1);
    this.shiftA = new Float32Array(dA);
    this.shiftB = new Float32Array(dB);
    this.sumA = new Float64Array(dA);
    this.sumA2 = new Float64Array(dA);
    this.sumB = new Float64Array(dB);
    this.sumB2 = new Float64Array(dB);
    this.sumAB = allocate(where, "Σ a·b", dA * dB * 8, () => new Float64Array(dA * dB));
    this.block = new Float32Array(dA * dB);
  }

  /** A batch of `rows` tokens: a [rows × dA] and b [rows × dB], row-major. */
  add(a: Float32Array, b: Float32Array, rows: number): void {
    const where = "DenseColumnCorrelation.add";
    checkInt(where, "rows", rows, 0);
    if (a.length < rows * this.dA || b.length < rows * this.dB) {
      throw new CorrelationError(`${where}: a has ${a.length} and b ${b.length} values, need ${rows} × ${this.dA} and ${rows} × ${this.dB}`);
    }
    if (rows === 0) return;
    const shifted = (x: Float32Array, d: number, shift: Float32Array, sum: Float64Array, sum2: Float64Array) => {
      if (this.tokens === 0) {
        for (let r = 0; r < rows; r++) for (let j = 0; j < d; j++) shift[j]! += x[r * d + j]! / rows;
      }
      const out = new Float32Array(rows * d);
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < d; j++) {
          const v = x[r * d + j]! - shift[j]!;
          out[r * d + j] = v;
          sum[j]! += v;
          sum2[j]! += v * v;
        }
      }
      return out;
    };
    const xa = shifted(a, this.dA, this.shiftA, this.sumA, this.sumA2);
    const xb = shifted(b, this.dB, this.shiftB, this.sumB, this.sumB2);
    kernels().gemm(true, false, this.dA, this.dB, rows, 1, xa, this.dA, xb, this.dB, 0, this.block, this.dB);
    for (let i = 0; i < this.block.length; i++) this.sumAB[i]! += this.block[i]!;
    this.tokens += rows;
  }

  /** Pearson r of column i of A with column j of B (NaN when either is constant). */
  r(i: number, j: number): number {
    return pearsonFromSums(this.tokens, this.sumA[i]!, this.sumA2[i]!, this.sumB[j]!, this.sumB2[j]!, this.sumAB[i * this.dB + j]!);
  }

  /** Per column of A, the column of B with the largest r (−1 and NaN when none is defined). */
  best(): { best: Int32Array; bestR: Float32Array } {
    const best = new Int32Array(this.dA).fill(-1);
    const bestR = new Float32Array(this.dA).fill(Number.NaN);
    for (let i = 0; i < this.dA; i++) {
      const [m] = topByR(this.dB, 1, (j) => this.r(i, j), () => 0, -1);
      if (m) {
        best[i] = m.index;
        bestR[i] = m.r;
      }
    }
    return { best, bestR };
  }
}
