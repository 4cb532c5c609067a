/**
 * Proxy statistics (the proxies themselves are proxy.ts): per-token counts and the log-likelihood ratio of a proxy,
 * the token-set LLR of the analysis' automatic proxies, and the report of a unit's activations split by a proxy.
 *
 * Token statistics (`ProxyTokenStats`; `TokenSetLlr` for token sets): per vocabulary id t the occurrence count
 * c(t) and the proxy-weighted count c_p(t) = Σ score over t's occurrences, N = Σ c, N_p = Σ c_p, and the
 * log-likelihood ratio (natural log) with add-α smoothing over the V ids of the vocabulary:
 *   LLR(t) = log P(t | proxy) − log P(t),  P(t | proxy) = (c_p(t) + α) / (N_p + αV),  P(t) = (c(t) + α) / (N + αV).
 * α = 0.5 by default (DEFAULT_LLR_ALPHA, Jeffreys' prior): it keeps the LLR finite for ids never seen and shrinks
 * it towards 0 for rare ids. For a token set S (score 1 on S, 0 elsewhere) c_p = c on S and 0 off it, so
 *   LLR(t) = K                          for t ∈ S,   K = log(N + αV) − log(N_p + αV)
 *   LLR(t) = K + log α − log(c(t) + α)  for t ∉ S,
 * which `TokenSetLlr` evaluates in O(1) per id after O(|S|) set-up (given the unigram table and its total once).
 *
 * Report (`proxyReport`): the unit's firing tokens binned by activation exactly as feature-stats.ts bins them
 * (bin b of n on [0, max] is [max·b/n, max·(b+1)/n), the last bin also holds max), with per bin the count, the
 * proxy count Σ score, the activation mass Σ a, the proxy activation mass Σ a·score and the mean LLR; and
 *   specificity        = Σ a·score / Σ a          (0 for a unit that never fires)
 *   specificityFiring  = Σ score / firing tokens  (0 for a unit that never fires)
 *   sensitivity        = Σ score over firing tokens / proxyTokens (N_p over the whole evaluation; 0 when N_p = 0).
 */
import { binOf, edge } from "./feature-stats.js";
import { ProxyError, uniqueIds } from "./proxy.js";
import type { ProxyBin, ProxyReport } from "./unit-record.js";

/** Add-α smoothing of the proxy LLR (see the module doc). */
export const DEFAULT_LLR_ALPHA = 0.5;

function checkAlpha(alpha: number): void {
  if (!(alpha > 0 && Number.isFinite(alpha))) throw new ProxyError(`proxy LLR: alpha must be a positive number, got ${alpha}`);
}

/** K = log(N + αV) − log(N_p + αV): the LLR of every token of a token-set proxy (module doc). */
export function llrOffset(tokens: number, proxyTokens: number, alpha: number, vocabSize: number): number {
  return Math.log(tokens + alpha * vocabSize) - Math.log(proxyTokens + alpha * vocabSize);
}

/** Per vocabulary id c(t) and c_p(t) over the evaluation tokens, streamed one sequence at a time; see the module doc. */
export class ProxyTokenStats {
  readonly vocabSize: number;
  readonly alpha: number;
  private readonly c: Float64Array;
  private readonly cp: Float64Array;
  private n = 0;
  private np = 0;

  constructor(vocabSize: number, alpha = DEFAULT_LLR_ALPHA) {
    if (!Number.isInteger(vocabSize) || vocabSize < 1) throw new ProxyError(`proxy stats: vocabSize must be a positive integer, got ${vocabSize}`);
    checkAlpha(alpha);
    this.vocabSize = vocabSize;
    this.alpha = alpha;
    this.c = new Float64Array(vocabSize);
    this.cp = new Float64Array(vocabSize);
  }

  /**
   * For a token-level proxy: the same statistics from a unigram count table alone (c_p(t) = c(t)·score(t)),
   * in O(V) without another pass over the tokens.
   */
  static fromUnigram(counts: Float64Array | Uint32Array, tableScores: Float32Array, alpha = DEFAULT_LLR_ALPHA): ProxyTokenStats {
    if (tableScores.length !== counts.length) {
      throw new ProxyError(`proxy stats: ${counts.length} unigram counts but ${tableScores.length} token scores`);
    }
    const stats = new ProxyTokenStats(counts.length, alpha);
    for (let t = 0; t < counts.length; t++) {
      const c = counts[t]!;
      const s = tableScores[t]!;
      if (!(c >= 0)) throw new ProxyError(`proxy stats: unigram count of token ${t} is ${c}`);
      if (!(s >= 0 && s <= 1)) throw new ProxyError(`proxy stats: score of token ${t} is ${s}, not in [0, 1]`);
      stats.c[t] = c;
      stats.cp[t] = c * s;
      stats.n += c;
      stats.np += c * s;
    }
    return stats;
  }

  /** N: the tokens seen. */
  get tokens(): number {
    return this.n;
  }

  /** N_p: Σ score over the tokens seen. */
  get proxyTokens(): number {
    return this.np;
  }

  count(id: number): number {
    return this.c[id] ?? 0;
  }

  proxyCount(id: number): number {
    return this.cp[id] ?? 0;
  }

  /** One sequence: ids[i] scored scores[i] ∈ [0, 1]. A bad input throws before anything is counted. */
  add(ids: ArrayLike<number>, scores: ArrayLike<number>): void {
    const n = ids.length;
    if (scores.length < n) throw new ProxyError(`proxy stats: ${n} tokens but ${scores.length} scores`);
    const V = this.vocabSize;
    for (let i = 0; i < n; i++) {
      const id = ids[i]!;
      if (!Number.isInteger(id) || id < 0 || id >= V) throw new ProxyError(`proxy stats: token id ${id} at position ${i} is outside 0..${V - 1}`);
      const s = scores[i]!;
      if (!(s >= 0 && s <= 1)) throw new ProxyError(`proxy stats: score ${s} at position ${i} is not in [0, 1]`);
    }
    for (let i = 0; i < n; i++) {
      const s = scores[i]!;
      this.c[ids[i]!]! += 1;
      this.cp[ids[i]!]! += s;
      this.np += s;
    }
    this.n += n;
  }

  /** LLR(t) = log P(t | proxy) − log P(t) for every id (module doc). */
  llr(): Float32Array {
    const { alpha, vocabSize: V } = this;
    const k = llrOffset(this.n, this.np, alpha, V);
    const out = new Float32Array(V);
    for (let t = 0; t < V; t++) out[t] = k + Math.log(this.cp[t]! + alpha) - Math.log(this.c[t]! + alpha);
    return out;
  }
}

/**
 * The LLR of token-set proxies (score 1 on the set, 0 off it) for many units at once, each set a bitset over the
 * vocabulary: O(|set|) to set up and O(1) per (unit, id), given the unigram counts of the evaluation (module doc).
 * Same numbers as ProxyTokenStats with the set's scores.
 */
export class TokenSetLlr {
  readonly units: number;
  readonly vocabSize: number;
  /** N = Σ c(t). */
  readonly total: number;
  /** Per unit N_p = Σ c(t) over its set. */
  readonly proxyTokens: Float64Array;
  private readonly words: number;
  private readonly bits: Uint32Array;
  /** Per unit K (the LLR on the set) and K + log α (off the set, before − log(c(t) + α)). */
  private readonly onSet: Float64Array;
  private readonly offSet: Float64Array;

  constructor(readonly unigram: Float64Array | Uint32Array, sets: readonly (readonly number[])[], readonly alpha = DEFAULT_LLR_ALPHA) {
    checkAlpha(alpha);
    const V = unigram.length;
    let total = 0;
    for (let t = 0; t < V; t++) {
      const c = unigram[t]!;
      if (!(c >= 0 && c < Infinity)) throw new ProxyError(`token-set LLR: unigram count of token ${t} is ${c}`);
      total += c;
    }
    this.units = sets.length;
    this.vocabSize = V;
    this.total = total;
    this.words = Math.ceil(V / 32);
    this.bits = new Uint32Array(this.units * this.words);
    this.proxyTokens = new Float64Array(this.units);
    this.onSet = new Float64Array(this.units);
    this.offSet = new Float64Array(this.units);
    for (let u = 0; u < this.units; u++) {
      let np = 0;
      for (const t of sets[u]!) {
        if (!Number.isInteger(t) || t < 0 || t >= V) throw new ProxyError(`token-set LLR: token id ${t} of set ${u} is outside the vocabulary 0..${V - 1}`);
        const w = u * this.words + (t >>> 5);
        const bit = 1 << (t & 31);
        if ((this.bits[w]! & bit) === 0) {
          this.bits[w] = this.bits[w]! | bit;
          np += unigram[t]!;
        }
      }
      this.proxyTokens[u] = np;
      this.onSet[u] = llrOffset(total, np, alpha, V);
      this.offSet[u] = this.onSet[u]! + Math.log(alpha);
    }
  }

  has(u: number, id: number): boolean {
    return (this.bits[u * this.words + (id >>> 5)]! & (1 << (id & 31))) !== 0;
  }

  /** LLR(id) under unit u's set: K on the set (c_p = c, the count terms cancel), K + log α − log(c(id) + α) off it. */
  llr(u: number, id: number): number {
    return this.has(u, id) ? this.onSet[u]! : this.offSet[u]! - Math.log(this.unigram[id]! + this.alpha);
  }
}

/**
 * Streaming proxy bins for many units at once, each with its token-set proxy (the analysis' automatic proxy, its
 * top-activating tokens): per activation bin the count, proxy count, activation mass, proxy mass and LLR sum.
 * Bins are the histogram's own (feature-stats' binOf), so they line up with its counts exactly.
 */
export class TokenSetProxyBins {
  private readonly count: Float64Array;
  private readonly proxyCount: Float64Array;
  private readonly mass: Float64Array;
  private readonly proxyMass: Float64Array;
  private readonly llrSum: Float64Array;
  private readonly scale: Float64Array;

  constructor(readonly sets: TokenSetLlr, readonly bins: number, readonly max: Float32Array) {
    const n = sets.units * bins;
    this.count = new Float64Array(n);
    this.proxyCount = new Float64Array(n);
    this.mass = new Float64Array(n);
    this.proxyMass = new Float64Array(n);
    this.llrSum = new Float64Array(n);
    this.scale = Float64Array.from(max, (m) => (m > 0 ? bins / m : 0));
  }

  /** One firing (unit, token, activation). */
  add(u: number, token: number, v: number): void {
    const b = binOf(v, this.max[u]!, this.bins, this.scale[u]!);
    const cell = u * this.bins + b;
    const inSet = this.sets.has(u, token);
    this.count[cell]! += 1;
    this.mass[cell]! += v;
    this.llrSum[cell]! += this.sets.llr(u, token);
    if (inSet) {
      this.proxyCount[cell]! += 1;
      this.proxyMass[cell]! += v;
    }
  }

  /** The unit's automatic proxy report, as stored (spec and description are rebuilt from its top examples on read). */
  report(u: number): StoredProxyBins {
    const nb = this.bins;
    const cells = (a: Float64Array) => Array.from(a.subarray(u * nb, (u + 1) * nb));
    const proxyCount = cells(this.proxyCount);
    const mass = cells(this.mass);
    const proxyMass = cells(this.proxyMass);
    const count = cells(this.count);
    const llr = cells(this.llrSum).map((s, b) => (count[b]! > 0 ? s / count[b]! : null));
    const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
    const [c, pc, m, pm] = [sum(count), sum(proxyCount), sum(mass), sum(proxyMass)];
    const np = this.sets.proxyTokens[u]!;
    return {
      specificity: m > 0 ? pm / m : 0,
      specificityFiring: c > 0 ? pc / c : 0,
      sensitivity: np > 0 ? pc / np : 0,
      proxyTokens: np,
      proxyCount,
      massShare: mass.map((v, b) => (v > 0 ? proxyMass[b]! / v : null)),
      llr,
    };
  }
}

/** A proxy report in the store's per-bin form (bin edges from the unit's max, counts from its histogram). */
export interface StoredProxyBins {
  specificity: number;
  specificityFiring: number;
  sensitivity: number;
  proxyTokens: number;
  proxyCount: number[];
  /** Per bin, the share of its activation mass on proxy tokens (null for an empty bin). */
  massShare: (number | null)[];
  llr: (number | null)[];
}

export interface ProxyReportInput {
  spec: string;
  description: string;
  /** The unit's activation at each of its firing tokens (each in (0, max]). */
  activations: ArrayLike<number>;
  /** The proxy's score at those tokens. */
  scores: ArrayLike<number>;
  /** The LLR of those tokens' ids. */
  llr: ArrayLike<number>;
  /** The unit's max activation. */
  max: number;
  /** Equal-width bins on [0, max]. */
  bins: number;
  /** N_p over the whole evaluation. */
  proxyTokens: number;
}

/** The unit's activations split by the proxy; see the module doc for the binning and the three ratios. */
export function proxyReport(input: ProxyReportInput): ProxyReport {
  const { activations: act, scores, llr, max, bins: n, proxyTokens } = input;
  if (!Number.isInteger(n) || n < 1) throw new ProxyError(`proxy report: bins must be a positive integer, got ${n}`);
  if (!(max >= 0 && max < Infinity)) throw new ProxyError(`proxy report: max must be a finite number ≥ 0, got ${max}`);
  if (!(proxyTokens >= 0 && proxyTokens < Infinity)) throw new ProxyError(`proxy report: proxyTokens must be finite and ≥ 0, got ${proxyTokens}`);
  if (scores.length !== act.length || llr.length !== act.length) {
    throw new ProxyError(`proxy report: ${act.length} activations, ${scores.length} scores and ${llr.length} LLRs (must be equal)`);
  }
  const count = new Float64Array(n);
  const proxyCount = new Float64Array(n);
  const mass = new Float64Array(n);
  const proxyMass = new Float64Array(n);
  const llrSum = new Float64Array(n);
  const scale = max > 0 ? n / max : 0;
  for (let i = 0; i < act.length; i++) {
    const a = act[i]!;
    const s = scores[i]!;
    if (!(a > 0 && a <= max)) throw new ProxyError(`proxy report: activation ${a} at firing token ${i} is not in (0, max = ${max}]`);
    if (!(s >= 0 && s <= 1)) throw new ProxyError(`proxy report: score ${s} at firing token ${i} is not in [0, 1]`);
    const b = binOf(a, max, n, scale);
    count[b]! += 1;
    proxyCount[b]! += s;
    mass[b]! += a;
    proxyMass[b]! += a * s;
    llrSum[b]! += llr[i]!;
  }
  const bins: ProxyBin[] = [];
  let firing = 0;
  let scoreSum = 0;
  let massSum = 0;
  let proxyMassSum = 0;
  for (let b = 0; b < n; b++) {
    bins.push({
      lo: edge(max, b, n),
      hi: edge(max, b + 1, n),
      count: count[b]!,
      proxyCount: proxyCount[b]!,
      proxyMassShare: mass[b]! > 0 ? proxyMass[b]! / mass[b]! : null,
      meanLlr: count[b]! > 0 ? llrSum[b]! / count[b]! : null,
    });
    firing += count[b]!;
    scoreSum += proxyCount[b]!;
    massSum += mass[b]!;
    proxyMassSum += proxyMass[b]!;
  }
  return {
    spec: input.spec,
    description: input.description,
    specificity: massSum > 0 ? proxyMassSum / massSum : 0,
    specificityFiring: firing > 0 ? scoreSum / firing : 0,
    sensitivity: proxyTokens > 0 ? scoreSum / proxyTokens : 0,
    proxyTokens,
    bins,
  };
}
