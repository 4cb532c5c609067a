/**
 * Streaming per-feature statistics over SAE codes (the activation half of the "detailed investigation", issue 5):
 * density, max and mean activation, top-K max-activating tokens, the histogram of non-zero activations and the
 * sae-vis interval groups with reservoir-sampled examples — for every feature at once, from `SparseCodes` directly.
 * A token activates tens of features out of thousands, so the work per token is O(L0), never O(d_sae), and no dense
 * [tokens × features] matrix exists anywhere.
 *
 * Two passes over the same token stream, in the same order:
 *   pass 1  firing count, Σ activation, max, and a fixed-size min-heap of the top-K (activation, token) per feature;
 *   pass 2  (needs each feature's max) the equal-width histogram on [0, max] and, per equal-width interval of
 *           (0, max], the share of firing tokens in it and a uniform sample of them (Algorithm R, seeded Rng).
 *
 * "Fires" means value > 0 at a slot whose index is ≥ 0 (index −1 is padding; a slot holding 0 does not count).
 * Each feature is assumed to appear at most once per token, as in every code Sae produces.
 *
 * Binning: bin b of n on [0, max] is [max·b/n, max·(b+1)/n), the last bin also holds max itself; the edges that
 * `histogram` and `intervals` report are computed by that same expression, so every counted or sampled activation
 * satisfies lo ≤ a < hi (a ≤ hi in the last bin), exactly.
 *
 * All state is flat typed arrays. Bytes per feature with the defaults (topK 20, 40 bins, 5 intervals × 5 samples):
 *   count, Σ (Float64) 16 + max (Float32) 4 + heap size (Int32) 4 + histogram/interval scales (Float64) 16  =  40
 *   top-K heap: K × (Float32 value + Int32 sequence + Int32 position) = 20 × 12                             = 240
 *   histogram: 40 × Uint32                                                                                   = 160
 *   intervals: 5 × Uint32 count + 5 × 5 × 12 (value + ref)                                                   = 320
 *   total 760 bytes per feature: 12.5 MB for d_sae = 16,384 (3.1 MB for 4,096), independent of the token count.
 */
import { Rng } from "../core/rng.js";
import type { SparseCodes } from "../sae/sae.js";

export interface FeatureStatsOptions {
  dSae: number;
  /** Max-activating examples kept per feature (default 20). */
  topK?: number;
  /** Bins of the non-zero activation histogram (default 40). */
  histogramBins?: number;
  /** sae-vis interval groups (default 5). */
  intervalCount?: number;
  /** Examples kept per interval (default 5). */
  intervalSamples?: number;
  /** Reservoir sampling seed (default 0). */
  seed?: number;
}

/** One token position in the evaluation stream: which sequence and position (the caller maps it to text). */
export interface TokenRef {
  sequence: number;
  position: number;
}

export type TokenActivation = TokenRef & { activation: number };

export interface FeatureInterval {
  lo: number;
  hi: number;
  /** Share of the feature's firing tokens whose activation lies in [lo, hi) ([lo, hi] for the last interval). */
  fraction: number;
  /** Uniform sample of those tokens, sorted by activation desc (ties: earlier token first). */
  examples: TokenActivation[];
}

export interface FeatureStats {
  tokens: number;
  /** Fraction of tokens where the feature is > 0. */
  density: Float32Array;
  maxActivation: Float32Array;
  /** Mean over firing tokens (0 for a feature that never fired). */
  meanActivation: Float32Array;
  /** topK max-activating token refs per feature, sorted by activation desc (ties: earlier token first). */
  top(feature: number): TokenActivation[];
  /**
   * Equal-width histogram of non-zero activations on [0, max] with `histogramBins` bins (sae-vis "linear" view);
   * the log-density view is counts / tokens. Needs pass 2.
   */
  histogram(feature: number): { edges: number[]; counts: number[] };
  /**
   * sae-vis interval groups: equal-width intervals of (0, max], each with reservoir-sampled examples and the
   * fraction of firing tokens in it ("INTERVAL lo–hi, CONTAINS x%"). Needs pass 2.
   */
  intervals(feature: number): FeatureInterval[];
}

export class FeatureStatsError extends Error {
  override name = "FeatureStatsError";
}

const INT32_MAX = 0x7fffffff;

function checkInt(name: string, v: number, min: number, max = INT32_MAX): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new FeatureStatsError(`feature stats: ${name} must be an integer in [${min}, ${max}], got ${v}`);
  }
}

/** Edge b of n equal-width bins on [0, max]: the one expression used for binning and for reporting. */
export function edge(max: number, b: number, n: number): number {
  return (max * b) / n;
}

/** The bin of v ∈ (0, max] among n equal-width bins of [0, max] (scale = n / max), consistent with `edge`. */
export function binOf(v: number, max: number, n: number, scale: number): number {
  let b = Math.floor(v * scale);
  if (b >= n) b = n - 1;
  // v·scale can round across an edge; one step corrects it (the error is far below one bin).
  if (b < n - 1 && v >= edge(max, b + 1, n)) b++;
  else if (b > 0 && v < edge(max, b, n)) b--;
  return b;
}

export class FeatureStatsAccumulator {
  readonly dSae: number;
  readonly topK: number;
  readonly histogramBins: number;
  readonly intervalCount: number;
  readonly intervalSamples: number;

  private phase: 1 | 2 = 1;
  private tokens1 = 0;
  private tokens2 = 0;
  private readonly rng: Rng;

  // pass 1
  private readonly count: Float64Array;
  private readonly sum: Float64Array;
  private readonly max: Float32Array;
  /** Per feature a min-heap of size heapSize[f] ≤ topK, root = the worst kept example (lowest value, latest ref). */
  private readonly heapSize: Int32Array;
  private readonly heapVal: Float32Array;
  /** (sequence, position) pairs, parallel to heapVal. */
  private readonly heapRef: Int32Array;

  // pass 2 (allocated by startPass2)
  private histScale = new Float64Array(0);
  private intScale = new Float64Array(0);
  private hist = new Uint32Array(0);
  private intCount = new Uint32Array(0);
  private resVal = new Float32Array(0);
  private resRef = new Int32Array(0);

  constructor(o: FeatureStatsOptions) {
    checkInt("dSae", o.dSae, 1);
    this.dSae = o.dSae;
    this.topK = o.topK ?? 20;
    this.histogramBins = o.histogramBins ?? 40;
    this.intervalCount = o.intervalCount ?? 5;
    this.intervalSamples = o.intervalSamples ?? 5;
    checkInt("topK", this.topK, 0, 1 << 16);
    checkInt("histogramBins", this.histogramBins, 1, 1 << 16);
    checkInt("intervalCount", this.intervalCount, 1, 1 << 16);
    checkInt("intervalSamples", this.intervalSamples, 0, 1 << 16);
    const cells = [this.topK * 2, this.histogramBins, this.intervalCount * this.intervalSamples * 2];
    for (const c of cells) {
      if (c * this.dSae > 2 ** 30) {
        throw new FeatureStatsError(`feature stats: d_sae ${this.dSae} × ${c} cells per feature exceeds the 2^30-element limit`);
      }
    }
    const seed = o.seed ?? 0;
    if (!Number.isSafeInteger(seed)) throw new FeatureStatsError(`feature stats: seed must be a safe integer, got ${seed}`);
    this.rng = new Rng(seed);
    // Rng's first output depends only on the seed's high 32 bits (every seed < 2^32 gives the same first draw), so
    // the first draws are discarded; from the second on, outputs depend on the whole seed.
    for (let i = 0; i < 4; i++) this.rng.uint32();
    const d = this.dSae;
    this.count = new Float64Array(d);
    this.sum = new Float64Array(d);
    this.max = new Float32Array(d);
    this.heapSize = new Int32Array(d);
    this.heapVal = new Float32Array(d * this.topK);
    this.heapRef = new Int32Array(d * this.topK * 2);
  }

  /** Tokens seen by pass 1 so far. */
  get tokens(): number {
    return this.tokens1;
  }

  /** Pass 1 over the stream: codes of `rows` tokens whose refs are (firstSequence + ⌊row / nCtx⌋, row % nCtx). */
  addPass1(codes: SparseCodes, firstSequence: number, nCtx: number): void {
    if (this.phase !== 1) throw new FeatureStatsError("feature stats: addPass1 after startPass2 (pass 1 is over)");
    this.checkBatch("addPass1", codes, firstSequence, nCtx, false);
    const { rows, k, indices, values } = codes;
    const count = this.count;
    const sum = this.sum;
    const max = this.max;
    const K = this.topK;
    let seq = firstSequence;
    let pos = 0;
    for (let r = 0; r < rows; r++) {
      const base = r * k;
      for (let j = 0; j < k; j++) {
        const f = indices[base + j]!;
        if (f < 0) continue;
        const v = values[base + j]!;
        if (!(v > 0)) continue;
        count[f]! += 1;
        sum[f]! += v;
        if (v > max[f]!) max[f] = v;
        if (K > 0) this.offer(f, v, seq, pos);
      }
      if (++pos === nCtx) {
        pos = 0;
        seq++;
      }
    }
    this.tokens1 += rows;
  }

  /** Switch to pass 2 (histograms and interval samples need each feature's max, known after pass 1). */
  startPass2(): void {
    if (this.phase !== 1) throw new FeatureStatsError("feature stats: startPass2 called twice");
    this.phase = 2;
    const d = this.dSae;
    const nb = this.histogramBins;
    const ni = this.intervalCount;
    this.histScale = new Float64Array(d);
    this.intScale = new Float64Array(d);
    for (let f = 0; f < d; f++) {
      const m = this.max[f]!;
      this.histScale[f] = m > 0 ? nb / m : 0;
      this.intScale[f] = m > 0 ? ni / m : 0;
    }
    this.hist = new Uint32Array(d * nb);
    this.intCount = new Uint32Array(d * ni);
    this.resVal = new Float32Array(d * ni * this.intervalSamples);
    this.resRef = new Int32Array(d * ni * this.intervalSamples * 2);
  }

  /** Pass 2: the same tokens as pass 1, in the same order (any batching). */
  addPass2(codes: SparseCodes, firstSequence: number, nCtx: number): void {
    if (this.phase !== 2) throw new FeatureStatsError("feature stats: addPass2 before startPass2 (pass 1 must finish first)");
    this.checkBatch("addPass2", codes, firstSequence, nCtx, true);
    const { rows, k, indices, values } = codes;
    const max = this.max;
    const nb = this.histogramBins;
    const ni = this.intervalCount;
    const S = this.intervalSamples;
    const hist = this.hist;
    const histScale = this.histScale;
    const intScale = this.intScale;
    const intCount = this.intCount;
    const resVal = this.resVal;
    const resRef = this.resRef;
    const rng = this.rng;
    let seq = firstSequence;
    let pos = 0;
    for (let r = 0; r < rows; r++) {
      const base = r * k;
      for (let j = 0; j < k; j++) {
        const f = indices[base + j]!;
        if (f < 0) continue;
        const v = values[base + j]!;
        if (!(v > 0)) continue;
        const m = max[f]!;
        hist[f * nb + binOf(v, m, nb, histScale[f]!)]! += 1;
        const cell = f * ni + binOf(v, m, ni, intScale[f]!);
        const c = ++intCount[cell]!;
        let slot = c - 1;
        if (slot >= S) {
          slot = S > 0 ? rng.int(c) : S;
          if (slot >= S) continue;
        }
        const at = cell * S + slot;
        resVal[at] = v;
        resRef[2 * at] = seq;
        resRef[2 * at + 1] = pos;
      }
      if (++pos === nCtx) {
        pos = 0;
        seq++;
      }
    }
    this.tokens2 += rows;
  }

  /**
   * The statistics so far. density/max/mean are copies; top/histogram/intervals read the accumulator's arrays
   * when called. After pass 1 alone, histogram and intervals throw; once pass 2 has started it must have covered
   * exactly pass 1's tokens.
   */
  result(): FeatureStats {
    const d = this.dSae;
    const tokens = this.tokens1;
    const pass2 = this.phase === 2;
    if (pass2 && this.tokens2 !== tokens) {
      throw new FeatureStatsError(
        `feature stats: pass 2 saw ${this.tokens2} tokens but pass 1 saw ${tokens}; both passes must cover the same stream`,
      );
    }
    const density = new Float32Array(d);
    const meanActivation = new Float32Array(d);
    for (let f = 0; f < d; f++) {
      const c = this.count[f]!;
      density[f] = tokens > 0 ? c / tokens : 0;
      meanActivation[f] = c > 0 ? this.sum[f]! / c : 0;
    }
    const maxActivation = this.max.slice();
    const check = (feature: number, what: string, needsPass2: boolean) => {
      if (!Number.isInteger(feature) || feature < 0 || feature >= d) {
        throw new FeatureStatsError(`feature stats: ${what}(${feature}): feature must be an integer in [0, ${d})`);
      }
      if (needsPass2 && !pass2) throw new FeatureStatsError(`feature stats: ${what} needs pass 2 (call startPass2 and addPass2)`);
    };
    return {
      tokens,
      density,
      maxActivation,
      meanActivation,
      top: (feature) => {
        check(feature, "top", false);
        const K = this.topK;
        return collect(this.heapVal, this.heapRef, feature * K, this.heapSize[feature]!);
      },
      histogram: (feature) => {
        check(feature, "histogram", true);
        const nb = this.histogramBins;
        const m = maxActivation[feature]!;
        return {
          edges: Array.from({ length: nb + 1 }, (_, b) => edge(m, b, nb)),
          counts: Array.from(this.hist.subarray(feature * nb, (feature + 1) * nb)),
        };
      },
      intervals: (feature) => {
        check(feature, "intervals", true);
        const ni = this.intervalCount;
        const S = this.intervalSamples;
        const m = maxActivation[feature]!;
        const firing = this.count[feature]!;
        return Array.from({ length: ni }, (_, i) => {
          const cell = feature * ni + i;
          const n = this.intCount[cell]!;
          return {
            lo: edge(m, i, ni),
            hi: edge(m, i + 1, ni),
            fraction: firing > 0 ? n / firing : 0,
            examples: collect(this.resVal, this.resRef, cell * S, Math.min(n, S)),
          };
        });
      },
    };
  }

  /** Keeps (v, seq, pos) in feature f's top-K heap if it beats the worst kept example. */
  private offer(f: number, v: number, seq: number, pos: number): void {
    const K = this.topK;
    const vals = this.heapVal;
    const refs = this.heapRef;
    const base = f * K;
    const n = this.heapSize[f]!;
    if (n < K) {
      // Sift up from the new leaf: move parents that are better than the newcomer down.
      let i = n;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!worse(v, seq, pos, vals[base + p]!, refs[2 * (base + p)]!, refs[2 * (base + p) + 1]!)) break;
        move(vals, refs, base + p, base + i);
        i = p;
      }
      put(vals, refs, base + i, v, seq, pos);
      this.heapSize[f] = n + 1;
      return;
    }
    // Full: the newcomer must beat the root (the worst kept).
    const rv = vals[base]!;
    if (v < rv) return;
    if (v === rv && !refBefore(seq, pos, refs[2 * base]!, refs[2 * base + 1]!)) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= K) break;
      let c = l;
      const r = l + 1;
      if (r < K && worse(vals[base + r]!, refs[2 * (base + r)]!, refs[2 * (base + r) + 1]!,
        vals[base + l]!, refs[2 * (base + l)]!, refs[2 * (base + l) + 1]!)) c = r;
      if (!worse(vals[base + c]!, refs[2 * (base + c)]!, refs[2 * (base + c) + 1]!, v, seq, pos)) break;
      move(vals, refs, base + c, base + i);
      i = c;
    }
    put(vals, refs, base + i, v, seq, pos);
  }

  private checkBatch(what: string, codes: SparseCodes, firstSequence: number, nCtx: number, pass2: boolean): void {
    const { rows, k, indices, values } = codes;
    checkInt(`${what}: codes.rows`, rows, 0);
    checkInt(`${what}: codes.k`, k, 0);
    checkInt(`${what}: nCtx`, nCtx, 1);
    checkInt(`${what}: firstSequence`, firstSequence, 0);
    if (indices.length < rows * k || values.length < rows * k) {
      throw new FeatureStatsError(
        `feature stats: ${what}: codes hold ${indices.length} indices and ${values.length} values, need ${rows} rows × k ${k} = ${rows * k}`,
      );
    }
    const lastSequence = firstSequence + Math.ceil(rows / nCtx) - 1;
    if (lastSequence > INT32_MAX) throw new FeatureStatsError(`feature stats: ${what}: sequence ${lastSequence} exceeds the Int32 range`);
    // Validate the whole batch before touching any state, so a bad batch leaves the accumulator as it was.
    const d = this.dSae;
    const max = this.max;
    const n = rows * k;
    for (let i = 0; i < n; i++) {
      const f = indices[i]!;
      if (f < 0) continue;
      if (f >= d) {
        throw new FeatureStatsError(
          `feature stats: ${what}: feature index ${f} ≥ d_sae ${d} (row ${Math.floor(i / k)}, slot ${i % k})`,
        );
      }
      if (pass2) {
        const v = values[i]!;
        if (v > max[f]!) {
          throw new FeatureStatsError(
            `feature stats: ${what}: feature ${f} has activation ${v} above its pass-1 max ${max[f]} (row ${Math.floor(i / k)}); ` +
              "pass 2 must see the same stream as pass 1",
          );
        }
      }
    }
  }
}

/** (sequence, position) a comes before b. */
function refBefore(sa: number, pa: number, sb: number, pb: number): boolean {
  return sa < sb || (sa === sb && pa < pb);
}

/** Example a ranks below b: lower activation, or equal activation and a later token. */
function worse(va: number, sa: number, pa: number, vb: number, sb: number, pb: number): boolean {
  return va < vb || (va === vb && refBefore(sb, pb, sa, pa));
}

function move(vals: Float32Array, refs: Int32Array, from: number, to: number): void {
  vals[to] = vals[from]!;
  refs[2 * to] = refs[2 * from]!;
  refs[2 * to + 1] = refs[2 * from + 1]!;
}

function put(vals: Float32Array, refs: Int32Array, at: number, v: number, seq: number, pos: number): void {
  vals[at] = v;
  refs[2 * at] = seq;
  refs[2 * at + 1] = pos;
}

/** n stored examples from `start`, sorted by activation desc, ties by earlier token. */
function collect(vals: Float32Array, refs: Int32Array, start: number, n: number): TokenActivation[] {
  const out: TokenActivation[] = [];
  for (let i = 0; i < n; i++) {
    const at = start + i;
    out.push({ sequence: refs[2 * at]!, position: refs[2 * at + 1]!, activation: vals[at]! });
  }
  out.sort((a, b) => b.activation - a.activation || a.sequence - b.sequence || a.position - b.position);
  return out;
}
