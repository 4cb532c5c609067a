/**
 * Related units of a unit (issue 15, "Studying one feature"): what analyze computes for the "Related units" panel,
 * and the pieces computed on demand from weights or stored logit tokens.
 *
 * - Matches in a compared run, both directions: A's top-k features of B by activation r, and for each of those B
 *   features its own best match back in A. Matching is not symmetric: when B's best match back is another A feature
 *   the pair is flagged (typically B's feature is split across several A features, or the reverse).
 * - Nearest features in the same SAE by activation r over the evaluation tokens (`coactivationNeighbours`: sparse
 *   co-activation sums from the kept codes, a bounded block of [features × d_sae] sums at a time — never a dense
 *   [tokens × features] matrix) and by decoder cosine (`decoderNeighbours`: from the SAE weights, on demand).
 * - The features that correlate most with a neuron (`columnTopK` over the feature × neuron correlations).
 * - The overlap of two units' top-k logit tokens (`logitOverlap`), beside the logit-weight r (which is dominated by
 *   the bulk of the vocabulary).
 * Pearson r follows correlation.ts (NaN when undefined; "best" = largest signed r, ties to the smaller index).
 */
import type { CodeStore } from "./code-store.js";
import { pearsonFromSums } from "./correlation.js";
import type { TokenOverlap } from "./related-types.js";

export type { TokenOverlap };

/** Matches per compared run, nearest features, features per neuron: list lengths analyze stores. */
export const RELATED_MATCHES = 5;
export const RELATED_NEIGHBOURS = 8;
export const RELATED_NEURON_FEATURES = 8;
/** Most [block × d_sae] float64 co-activation sums held at once (64 MiB). */
const COACTIVATION_BLOCK_ENTRIES = 1 << 23;

/** A partner and its score (r or cosine). */
export type ScoredIndex = [index: number, score: number];

/**
 * Keeps the k largest scores (descending; ties keep the earlier-offered, i.e. smaller, index). NaN is skipped.
 * @internal exported for the tests
 */
export class TopK {
  readonly items: ScoredIndex[] = [];
  constructor(readonly k: number) {}

  offer(index: number, score: number): void {
    const { items, k } = this;
    if (k === 0 || Number.isNaN(score)) return;
    if (items.length === k && !(score > items[k - 1]![1])) return;
    let i = items.length < k ? items.length : k - 1;
    if (items.length < k) items.push([index, score]);
    while (i > 0 && score > items[i - 1]![1]) {
      items[i] = items[i - 1]!;
      i--;
    }
    items[i] = [index, score];
  }
}

/**
 * For each column c of an r(row, column) table, the k rows with the largest r (the features that correlate most with
 * a neuron, from the feature × neuron correlation). rows × cols evaluations of r, row-major.
 */
export function columnTopK(rows: number, cols: number, r: (row: number, col: number) => number, k: number): ScoredIndex[][] {
  const tops = Array.from({ length: cols }, () => new TopK(k));
  for (let row = 0; row < rows; row++) for (let c = 0; c < cols; c++) tops[c]!.offer(row, r(row, c));
  return tops.map((t) => t.items);
}

/** For each column of an r(row, column) table, its best row and that r (−1 / NaN when no r is defined). */
export function columnBest(rows: number, cols: number, r: (row: number, col: number) => number): { best: Int32Array; bestR: Float32Array } {
  const best = new Int32Array(cols).fill(-1);
  const bestR = new Float32Array(cols).fill(Number.NaN);
  const br = new Float64Array(cols).fill(-Infinity);
  for (let row = 0; row < rows; row++) {
    for (let c = 0; c < cols; c++) {
      const v = r(row, c);
      if (v > br[c]!) {
        br[c] = v;
        best[c] = row;
        bestR[c] = v;
      }
    }
  }
  return { best, bestR };
}

/** One match of unit a in a compared run: [b, r(a, b), b's best match back in a's run, its r]. */
export type StoredMatch = [index: number, r: number, reverse: number, reverseR: number];

/**
 * The top-k matches of every unit of A in B (by r) with each match's own best match back in A. `top(a, k)` is the
 * correlation result's ranking, `reverse` the best row per column (columnBest over the same r).
 */
export function matchesBothWays(
  dA: number, top: (a: number, k: number) => { index: number; r: number }[], reverse: { best: Int32Array; bestR: Float32Array }, k = RELATED_MATCHES,
): StoredMatch[][] {
  return Array.from({ length: dA }, (_, a) =>
    top(a, k).map(({ index, r }): StoredMatch => [index, r, reverse.best[index]!, reverse.bestR[index]!]));
}

/**
 * Whether a match is mutual: true when b's best match back is a itself, false when it is another unit (the pair is
 * asymmetric: likely splitting), null when b has no defined best match.
 */
export function isMutual(a: number, reverse: number): boolean | null {
  return reverse < 0 ? null : reverse === a;
}

/**
 * Each feature's k nearest features of the same SAE by Pearson r of their activations over the codes' tokens,
 * among the features it fires together with at least once (any other pair has r ≤ 0). The sums Σ fa·fb are
 * accumulated for a block of features at a time from the sparse rows (work: the co-firing pairs of every token, plus
 * one scan of the codes per block), so memory stays bounded whatever d_sae is.
 */
export function coactivationNeighbours(codes: CodeStore, dSae: number, k = RELATED_NEIGHBOURS, blockEntries = COACTIVATION_BLOCK_ENTRIES): ScoredIndex[][] {
  const n = codes.rows;
  const { rowStart, indices, values } = codes;
  const sum = new Float64Array(dSae);
  const sum2 = new Float64Array(dSae);
  for (let e = 0; e < rowStart[n]!; e++) {
    const v = values[e]!;
    sum[indices[e]!]! += v;
    sum2[indices[e]!]! += v * v;
  }
  const out: ScoredIndex[][] = Array.from({ length: dSae }, () => []);
  const block = Math.max(1, Math.min(dSae, Math.floor(blockEntries / dSae)));
  const acc = new Float64Array(block * dSae);
  for (let f0 = 0; f0 < dSae; f0 += block) {
    const f1 = Math.min(dSae, f0 + block);
    acc.fill(0);
    for (let t = 0; t < n; t++) {
      const start = rowStart[t]!;
      const end = rowStart[t + 1]!;
      for (let e = start; e < end; e++) {
        const a = indices[e]!;
        if (a < f0 || a >= f1) continue;
        const va = values[e]!;
        const off = (a - f0) * dSae;
        for (let e2 = start; e2 < end; e2++) acc[off + indices[e2]!]! += va * values[e2]!;
      }
    }
    for (let a = f0; a < f1; a++) {
      const top = new TopK(k);
      const off = (a - f0) * dSae;
      for (let b = 0; b < dSae; b++) {
        if (b === a || acc[off + b] === 0) continue;
        top.offer(b, pearsonFromSums(n, sum[a]!, sum2[a]!, sum[b]!, sum2[b]!, acc[off + b]!));
      }
      out[a] = top.items;
    }
  }
  return out;
}

/**
 * The k features whose decoder rows are closest to feature f's by cosine (W_dec [d_sae, d_in] row-major), f itself
 * and zero rows excluded. One pass over W_dec: cheap enough to compute when a page asks.
 */
export function decoderNeighbours(dec: Float32Array, dSae: number, dIn: number, f: number, k = RELATED_NEIGHBOURS): ScoredIndex[] {
  if (dec.length !== dSae * dIn) throw new RangeError(`decoderNeighbours: W_dec has ${dec.length} values, expected ${dSae} × ${dIn}`);
  if (!Number.isInteger(f) || f < 0 || f >= dSae) throw new RangeError(`decoderNeighbours: feature ${f} is out of range [0, ${dSae})`);
  const row = dec.subarray(f * dIn, (f + 1) * dIn);
  let nf = 0;
  for (let i = 0; i < dIn; i++) nf += row[i]! * row[i]!;
  const top = new TopK(k);
  if (!(nf > 0)) return [];
  for (let g = 0; g < dSae; g++) {
    if (g === f) continue;
    let dot = 0;
    let ng = 0;
    const off = g * dIn;
    for (let i = 0; i < dIn; i++) {
      const v = dec[off + i]!;
      dot += row[i]! * v;
      ng += v * v;
    }
    if (ng > 0) top.offer(g, dot / Math.sqrt(nf * ng));
  }
  return top.items;
}

/** Overlap of two token id lists (each a unit's top-k or bottom-k logit tokens); duplicates count once. */
export function tokenOverlap(a: readonly number[], b: readonly number[]): TokenOverlap {
  const sa = new Set(a);
  const sb = new Set(b);
  let shared = 0;
  for (const t of sa) if (sb.has(t)) shared++;
  const union = sa.size + sb.size - shared;
  return { shared, jaccard: union > 0 ? shared / union : null, k: Math.min(sa.size, sb.size) };
}

/** Overlap of the positive (top) and negative (bottom) logit tokens of two units, and the shared tokens' ids. */
export interface LogitOverlap {
  top: TokenOverlap & { tokens: number[] };
  bottom: TokenOverlap & { tokens: number[] };
}

export function logitOverlap(a: { top: readonly number[]; bottom: readonly number[] }, b: { top: readonly number[]; bottom: readonly number[] }): LogitOverlap {
  const side = (x: readonly number[], y: readonly number[]) => {
    const ys = new Set(y);
    return { ...tokenOverlap(x, y), tokens: [...new Set(x)].filter((t) => ys.has(t)) };
  };
  return { top: side(a.top, b.top), bottom: side(a.bottom, b.bottom) };
}

/** What analyze needs of a feature × feature correlation result (correlation.ts FeatureFeatureCorrelationResult). */
export interface PairCorrelation {
  r(a: number, b: number): number;
  top(a: number, k?: number): { index: number; r: number }[];
}

/**
 * The stored related units of every feature of an SAE run: per compared run its top matches both ways
 * (`compared[i]` correlates the run's features with run `names[i]`'s, `sizes[i]` features), and its nearest features
 * of the same SAE by activation r over the kept codes.
 */
export function featureRelations(
  codes: CodeStore, dSae: number, compared: readonly PairCorrelation[], names: readonly string[], sizes: readonly number[],
): Array<{ m: Record<string, StoredMatch[]>; co: ScoredIndex[] }> {
  const matches = compared.map((c, i) => matchesBothWays(dSae, (a, k) => c.top(a, k), columnBest(dSae, sizes[i]!, (a, b) => c.r(a, b))));
  const co = coactivationNeighbours(codes, dSae);
  return Array.from({ length: dSae }, (_, f) => ({
    m: Object.fromEntries(names.map((name, i) => [name, matches[i]![f]!])),
    co: co[f]!,
  }));
}

/** Top-k matches both ways from r(a, b) alone (dense correlations, e.g. neurons × the compared model's neurons). */
export function matchesFromR(dA: number, dB: number, r: (a: number, b: number) => number, k = RELATED_MATCHES): StoredMatch[][] {
  const top = (a: number, kk: number) => {
    const t = new TopK(kk);
    for (let b = 0; b < dB; b++) t.offer(b, r(a, b));
    return t.items.map(([index, v]) => ({ index, r: v }));
  };
  return matchesBothWays(dA, top, columnBest(dA, dB, r), k);
}
