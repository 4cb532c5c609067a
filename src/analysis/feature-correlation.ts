/**
 * The two streaming correlations of SAE features (the maths, precision and memory are in correlation.ts' module
 * doc): FeatureNeuronCorrelation (features × MLP neurons, for "not a neuron") and FeatureFeatureCorrelation
 * (features of two dictionaries on the same tokens, for universality).
 */
import { kernels } from "../core/backend.js";
import type { SparseCodes } from "../sae/sae.js";
import {
  allocate, checkCodes, checkIndex, checkInt, cosineOf, CorrelationError, pearsonFromSums, topByR,
  type CorrelationResult, type FeatureFeatureCorrelationOptions, type FeatureFeatureCorrelationResult, type FeatureNeuronCorrelationOptions,
} from "./correlation.js";

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
