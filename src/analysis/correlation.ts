/**
 * Streaming correlations for the feature dashboards and for universality (CONVENTIONS.md, "Dashboard data"):
 * Pearson r and cosine similarity over tokens from running sums Σx, Σy, Σxy, Σx², Σy² (as sae-vis' RollingCorrCoef),
 * with the codes kept sparse: no dense [tokens × features] matrix exists anywhere.
 *
 *   r(x, y)      = (N·Σxy − Σx·Σy) / sqrt((N·Σx² − (Σx)²) · (N·Σy² − (Σy)²))     clamped to [−1, 1]
 *   cosine(x, y) = Σxy / sqrt(Σx² · Σy²)                                          (uncentred, over tokens)
 * r is NaN when either variance is 0 (a feature that never fired, a constant neuron); cosine is NaN when either
 * Σx² is 0. "Best" matches rank by signed r, descending (as sae-vis' topk_pearson), ties to the smaller index, and
 * skip NaN; a feature with no defined r has best index −1 and r NaN.
 *
 * - FeatureNeuronCorrelation: SAE features × MLP neurons (dense activations, `blocks.0.mlp.hook_post`). Σ f·n over
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

function checkInt(where: string, name: string, v: number, min: number, max = INT32_MAX): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new CorrelationError(`${where}: ${name} must be an integer in [${min}, ${max}], got ${v}`);
  }
}

function allocate<T>(where: string, what: string, bytes: number, make: () => T): T {
  try {
    return make();
  } catch (e) {
    throw new CorrelationError(
      `${where}: cannot allocate ${what} (${(bytes / 2 ** 20).toFixed(0)} MiB): ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

/** Validates a code batch against a dictionary size before any state changes. */
function checkCodes(where: string, name: string, codes: SparseCodes, d: number): void {
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

/** Pearson r from the sums (float64); NaN when a variance is not positive. */
export function pearsonFromSums(n: number, sx: number, sx2: number, sy: number, sy2: number, sxy: number): number {
  const vx = n * sx2 - sx * sx;
  const vy = n * sy2 - sy * sy;
  if (!(vx > 0 && vy > 0)) return NaN;
  const r = (n * sxy - sx * sy) / Math.sqrt(vx * vy);
  return r > 1 ? 1 : r < -1 ? -1 : r;
}

function cosineOf(sx2: number, sy2: number, sxy: number): number {
  const d = Math.sqrt(sx2 * sy2);
  if (!(d > 0)) return NaN;
  const c = sxy / d;
  return c > 1 ? 1 : c < -1 ? -1 : c;
}

function checkIndex(where: string, what: string, v: number, d: number): void {
  if (!Number.isInteger(v) || v < 0 || v >= d) throw new CorrelationError(`${where}: ${what} must be an integer in [0, ${d}), got ${v}`);
}

/** Top-k columns of one row by r (desc, ties smaller index), skipping NaN and `skip`. */
function topByR(cols: number, k: number, rOf: (c: number) => number, cosOf: (c: number) => number, skip: number): CorrelationMatch[] {
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

/**
 * Pearson correlation of every SAE feature with every MLP neuron over a token stream, from sparse codes and the dense
 * neuron activations of the same tokens (any batching).
 */
export class FeatureNeuronCorrelation {
  readonly dSae: number;
  readonly dMlp: number;
  readonly windowRows: number;

  private n = 0;
  private version = 0;
  private readonly sumF: Float64Array;
  private readonly sumF2: Float64Array;
  /** Sums of the shifted neurons n − shift. */
  private readonly sumN: Float64Array;
  private readonly sumN2: Float64Array;
  private shift: Float32Array | null = null;
  /** Σ f·(n − shift), float64 totals [d_sae, d_mlp]. */
  private readonly sxy: Float64Array;
  /** The current window's Σ f·(n − shift), float32 [d_sae, d_mlp] (the kernel's dW). */
  private readonly window: Float32Array;
  private readonly touched: Uint8Array;
  private readonly touchedList: Int32Array;
  private nTouched = 0;
  private windowFill = 0;
  private readonly shifted: Float32Array;

  constructor(dSae: number, dMlp: number, options: FeatureNeuronCorrelationOptions = {}) {
    const where = "FeatureNeuronCorrelation";
    checkInt(where, "dSae", dSae, 1);
    checkInt(where, "dMlp", dMlp, 1);
    this.windowRows = options.windowRows ?? 1024;
    checkInt(where, "windowRows", this.windowRows, 1, 1 << 20);
    this.dSae = dSae;
    this.dMlp = dMlp;
    const pairs = dSae * dMlp;
    this.sxy = allocate(where, `the float64 Σ f·n array [${dSae}, ${dMlp}]`, pairs * 8, () => new Float64Array(pairs));
    this.window = allocate(where, `the float32 window [${dSae}, ${dMlp}]`, pairs * 4, () => new Float32Array(pairs));
    this.sumF = new Float64Array(dSae);
    this.sumF2 = new Float64Array(dSae);
    this.sumN = new Float64Array(dMlp);
    this.sumN2 = new Float64Array(dMlp);
    this.touched = new Uint8Array(dSae);
    this.touchedList = new Int32Array(dSae);
    this.shifted = new Float32Array(this.windowRows * dMlp);
  }

  /** Tokens accumulated so far. */
  get tokens(): number {
    return this.n;
  }

  /** Codes of `codes.rows` tokens and the same tokens' MLP activations `neurons` [rows, d_mlp] (row-major). */
  add(codes: SparseCodes, neurons: Float32Array): void {
    const where = "FeatureNeuronCorrelation.add";
    checkCodes(where, "codes", codes, this.dSae);
    const { rows, k, indices, values } = codes;
    const dMlp = this.dMlp;
    if (neurons.length !== rows * dMlp) {
      throw new CorrelationError(`${where}: neurons has ${neurons.length} values, expected rows ${rows} × d_mlp ${dMlp} = ${rows * dMlp}`);
    }
    for (let i = 0; i < neurons.length; i++) {
      if (!Number.isFinite(neurons[i]!)) {
        throw new CorrelationError(`${where}: neurons: non-finite value ${neurons[i]} (row ${Math.floor(i / dMlp)}, neuron ${i % dMlp})`);
      }
    }
    if (rows === 0) return;
    if (this.shift === null) {
      // Each neuron's mean over the first batch (float64, rounded to float32): centres the stream well enough.
      const mean = new Float64Array(dMlp);
      for (let r = 0; r < rows; r++) for (let c = 0; c < dMlp; c++) mean[c]! += neurons[r * dMlp + c]!;
      this.shift = Float32Array.from(mean, (s) => s / rows);
    }
    const shift = this.shift;
    const kern = kernels();
    for (let r0 = 0; r0 < rows; ) {
      const m = Math.min(rows - r0, this.windowRows - this.windowFill);
      const sh = this.shifted.subarray(0, m * dMlp);
      const src = neurons.subarray(r0 * dMlp, (r0 + m) * dMlp);
      for (let r = 0; r < m; r++) {
        const off = r * dMlp;
        for (let c = 0; c < dMlp; c++) sh[off + c] = src[off + c]! - shift[c]!;
      }
      // Sums of exactly the float32 values the kernel multiplies.
      for (let r = 0; r < m; r++) {
        const off = r * dMlp;
        for (let c = 0; c < dMlp; c++) {
          const v = sh[off + c]!;
          this.sumN[c]! += v;
          this.sumN2[c]! += v * v;
        }
      }
      const idx = indices.subarray(r0 * k, (r0 + m) * k);
      const val = values.subarray(r0 * k, (r0 + m) * k);
      for (let i = 0; i < m * k; i++) {
        const f = idx[i]!;
        if (f < 0) continue;
        const v = val[i]!;
        if (v === 0) continue;
        this.sumF[f]! += v;
        this.sumF2[f]! += v * v;
        if (this.touched[f] === 0) {
          this.touched[f] = 1;
          this.touchedList[this.nTouched++] = f;
        }
      }
      // window[idx] += v · (n − shift)[row]: the sparse-codes × dense-rows scatter.
      if (k > 0) kern.sparseDecodeBackward(m, k, idx, val, this.window, dMlp, sh, null, this.window);
      this.windowFill += m;
      r0 += m;
      if (this.windowFill === this.windowRows) this.flush();
    }
    this.n += rows;
    this.version++;
  }

  /** Adds the window into the float64 totals (rows of the features active in it) and clears it. */
  private flush(): void {
    const dMlp = this.dMlp;
    const w = this.window;
    const t = this.sxy;
    for (let i = 0; i < this.nTouched; i++) {
      const f = this.touchedList[i]!;
      const off = f * dMlp;
      for (let c = 0; c < dMlp; c++) {
        t[off + c]! += w[off + c]!;
        w[off + c] = 0;
      }
      this.touched[f] = 0;
    }
    this.nTouched = 0;
    this.windowFill = 0;
  }

  /**
   * Correlations of the tokens so far. best/bestR are computed now (d_sae × d_mlp work); r, cosine and top read the
   * accumulator's sums and throw once add() has been called again (call result() again).
   */
  result(): CorrelationResult {
    this.flush();
    const { dSae, dMlp, n, version } = this;
    const shift = this.shift ?? new Float32Array(dMlp);
    const { sumF, sumF2, sumN, sumN2, sxy } = this;
    const varN = new Float64Array(dMlp);
    for (let c = 0; c < dMlp; c++) varN[c] = n * sumN2[c]! - sumN[c]! * sumN[c]!;
    const best = new Int32Array(dSae).fill(-1);
    const bestR = new Float32Array(dSae).fill(NaN);
    for (let f = 0; f < dSae; f++) {
      const sf = sumF[f]!;
      const vf = n * sumF2[f]! - sf * sf;
      if (!(vf > 0)) continue;
      const off = f * dMlp;
      let bi = -1;
      let br = -Infinity;
      for (let c = 0; c < dMlp; c++) {
        const vn = varN[c]!;
        if (!(vn > 0)) continue;
        const r = (n * sxy[off + c]! - sf * sumN[c]!) / Math.sqrt(vf * vn);
        if (r > br) {
          br = r;
          bi = c;
        }
      }
      if (bi >= 0) {
        best[f] = bi;
        bestR[f] = br > 1 ? 1 : br < -1 ? -1 : br;
      }
    }
    const where = "FeatureNeuronCorrelation result";
    const check = (f: number, c: number | null, what: string) => {
      if (this.version !== version) throw new CorrelationError(`${where}: ${what}: stale result (add() was called since); call result() again`);
      checkIndex(where, `${what}: feature`, f, dSae);
      if (c !== null) checkIndex(where, `${what}: neuron`, c, dMlp);
    };
    const rOf = (f: number, c: number) => pearsonFromSums(n, sumF[f]!, sumF2[f]!, sumN[c]!, sumN2[c]!, sxy[f * dMlp + c]!);
    const cosOf = (f: number, c: number) => {
      const s = shift[c]!;
      const sfn = sxy[f * dMlp + c]! + s * sumF[f]!;
      const sn2 = sumN2[c]! + 2 * s * sumN[c]! + n * s * s;
      return cosineOf(sumF2[f]!, sn2, sfn);
    };
    return {
      tokens: n,
      best,
      bestR,
      r: (f, c) => {
        check(f, c, "r");
        return rOf(f, c);
      },
      cosine: (f, c) => {
        check(f, c, "cosine");
        return cosOf(f, c);
      },
      top: (f, k = 3) => {
        check(f, null, "top");
        checkInt(where, "top: k", k, 0);
        return topByR(dMlp, k, (c) => rOf(f, c), (c) => cosOf(f, c), -1);
      },
    };
  }
}

/**
 * Pearson correlation of every feature of SAE A with every feature of SAE B over the same token stream (both SAEs
 * encode the same tokens, in the same order, in any batching).
 */
export class FeatureFeatureCorrelation {
  readonly dA: number;
  readonly dB: number;
  readonly pairPrecision: "float32" | "float64";
  readonly sameDictionary: boolean;

  private n = 0;
  private version = 0;
  private readonly sxy: Float32Array | Float64Array;
  private readonly sumA: Float64Array;
  private readonly sumA2: Float64Array;
  private readonly liveA: Uint8Array;
  private readonly sumB: Float64Array;
  private readonly sumB2: Float64Array;
  private readonly liveB: Uint8Array;

  constructor(dA: number, dB: number, options: FeatureFeatureCorrelationOptions = {}) {
    const where = "FeatureFeatureCorrelation";
    checkInt(where, "dA", dA, 1);
    checkInt(where, "dB", dB, 1);
    const precision = options.pairPrecision ?? "float32";
    if (precision !== "float32" && precision !== "float64") {
      throw new CorrelationError(`${where}: pairPrecision must be "float32" or "float64", got ${JSON.stringify(precision)}`);
    }
    this.sameDictionary = options.sameDictionary ?? false;
    if (this.sameDictionary && dA !== dB) {
      throw new CorrelationError(`${where}: sameDictionary needs dA = dB, got ${dA} and ${dB}`);
    }
    this.dA = dA;
    this.dB = dB;
    this.pairPrecision = precision;
    const pairs = dA * dB;
    const bytes = precision === "float32" ? 4 : 8;
    this.sxy = allocate(where, `the ${precision} Σ fa·fb array [${dA}, ${dB}]`, pairs * bytes, () =>
      precision === "float32" ? new Float32Array(pairs) : new Float64Array(pairs));
    this.sumA = new Float64Array(dA);
    this.sumA2 = new Float64Array(dA);
    this.liveA = new Uint8Array(dA);
    this.sumB = new Float64Array(dB);
    this.sumB2 = new Float64Array(dB);
    this.liveB = new Uint8Array(dB);
  }

  get tokens(): number {
    return this.n;
  }

  /** Codes of the same tokens under SAE A and SAE B. */
  add(codesA: SparseCodes, codesB: SparseCodes): void {
    const where = "FeatureFeatureCorrelation.add";
    checkCodes(where, "codesA", codesA, this.dA);
    checkCodes(where, "codesB", codesB, this.dB);
    if (codesA.rows !== codesB.rows) {
      throw new CorrelationError(`${where}: codesA has ${codesA.rows} rows but codesB has ${codesB.rows}; both must encode the same tokens`);
    }
    const rows = codesA.rows;
    const kA = codesA.k;
    const kB = codesB.k;
    const ia = new Int32Array(kA);
    const va = new Float64Array(kA);
    const ib = new Int32Array(kB);
    const vb = new Float64Array(kB);
    const { sxy, sumA, sumA2, sumB, sumB2, liveA, liveB } = this;
    const dB = this.dB;
    for (let r = 0; r < rows; r++) {
      let na = 0;
      for (let j = 0; j < kA; j++) {
        const f = codesA.indices[r * kA + j]!;
        const v = codesA.values[r * kA + j]!;
        if (f < 0 || v === 0) continue;
        ia[na] = f;
        va[na++] = v;
        sumA[f]! += v;
        sumA2[f]! += v * v;
        if (v > 0) liveA[f] = 1;
      }
      let nb = 0;
      for (let j = 0; j < kB; j++) {
        const f = codesB.indices[r * kB + j]!;
        const v = codesB.values[r * kB + j]!;
        if (f < 0 || v === 0) continue;
        ib[nb] = f;
        vb[nb++] = v;
        sumB[f]! += v;
        sumB2[f]! += v * v;
        if (v > 0) liveB[f] = 1;
      }
      for (let i = 0; i < na; i++) {
        const off = ia[i]! * dB;
        const a = va[i]!;
        for (let j = 0; j < nb; j++) sxy[off + ib[j]!]! += a * vb[j]!;
      }
    }
    this.n += rows;
    this.version++;
  }

  /**
   * Correlations of the tokens so far: best match in B for every feature of A, and the universality summary for
   * `thresholds` (best r strictly above each). r, cosine and top throw once add() has been called again.
   */
  result(thresholds: number[] = [0.5, 0.7]): FeatureFeatureCorrelationResult {
    const where = "FeatureFeatureCorrelation result";
    for (const t of thresholds) {
      if (!(t >= -1 && t <= 1)) throw new CorrelationError(`${where}: thresholds must lie in [−1, 1], got ${t}`);
    }
    const { dA, dB, n, version, sameDictionary } = this;
    const { sxy, sumA, sumA2, sumB, sumB2 } = this;
    const varB = new Float64Array(dB);
    for (let b = 0; b < dB; b++) varB[b] = n * sumB2[b]! - sumB[b]! * sumB[b]!;
    const best = new Int32Array(dA).fill(-1);
    const bestR = new Float32Array(dA).fill(NaN);
    const bestR64 = new Float64Array(dA).fill(NaN);
    for (let a = 0; a < dA; a++) {
      const sa = sumA[a]!;
      const va = n * sumA2[a]! - sa * sa;
      if (!(va > 0)) continue;
      const off = a * dB;
      let bi = -1;
      let br = -Infinity;
      for (let b = 0; b < dB; b++) {
        const vb = varB[b]!;
        if (!(vb > 0) || (sameDictionary && b === a)) continue;
        const r = (n * sxy[off + b]! - sa * sumB[b]!) / Math.sqrt(va * vb);
        if (r > br) {
          br = r;
          bi = b;
        }
      }
      if (bi >= 0) {
        const r = br > 1 ? 1 : br < -1 ? -1 : br;
        best[a] = bi;
        bestR[a] = r;
        bestR64[a] = r;
      }
    }
    let liveA = 0;
    for (let a = 0; a < dA; a++) liveA += this.liveA[a]!;
    let liveB = 0;
    for (let b = 0; b < dB; b++) liveB += this.liveB[b]!;
    const universality = thresholds.map((threshold) => {
      let matched = 0;
      for (let a = 0; a < dA; a++) if (this.liveA[a] && bestR64[a]! > threshold) matched++;
      return { threshold, matched, fraction: liveA > 0 ? matched / liveA : NaN };
    });
    const check = (a: number, b: number | null, what: string) => {
      if (this.version !== version) throw new CorrelationError(`${where}: ${what}: stale result (add() was called since); call result() again`);
      checkIndex(where, `${what}: feature of A`, a, dA);
      if (b !== null) checkIndex(where, `${what}: feature of B`, b, dB);
    };
    const rOf = (a: number, b: number) => pearsonFromSums(n, sumA[a]!, sumA2[a]!, sumB[b]!, sumB2[b]!, sxy[a * dB + b]!);
    const cosOf = (a: number, b: number) => cosineOf(sumA2[a]!, sumB2[b]!, sxy[a * dB + b]!);
    return {
      tokens: n,
      best,
      bestR,
      liveA,
      liveB,
      universality,
      r: (a, b) => {
        check(a, b, "r");
        return rOf(a, b);
      },
      cosine: (a, b) => {
        check(a, b, "cosine");
        return cosOf(a, b);
      },
      top: (a, k = 3) => {
        check(a, null, "top");
        checkInt(where, "top: k", k, 0);
        return topByR(dB, k, (b) => rOf(a, b), (b) => cosOf(a, b), sameDictionary ? a : -1);
      },
    };
  }
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
 * Neuron alignment (CONVENTIONS "Dashboard data"): the `top` entries of the feature's decoder row by |value|
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
