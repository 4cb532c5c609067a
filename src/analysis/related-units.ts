/**
 * Related units of a unit (issue 15, "Studying one feature"): what analyze computes for the "Related units" panel,
 * and the pieces computed on demand from weights or stored logit tokens.
 *
 * - Matches in a compared run, both directions: A's top-k features of B by activation r, and for each of those B
 *   features its own best match back in A. Matching is not symmetric: when B's best match back is another A feature
 *   the pair is flagged (typically B's feature is split across several A features, or the reverse).
 * - Nearest features in the same SAE by activation r over the evaluation tokens (`coactivationNeighbours`: sparse
 *   co-activation sums from the kept codes, one feature's row of [d_sae] sums at a time — never a dense
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
 * among the features it fires together with at least once (any other pair has r ≤ 0). Per feature a, the sums
 * Σ fa·fb are accumulated over the tokens where a fires (the codes' transpose), for the features b firing there:
 * work is the co-firing pairs of every token (tokens × L0²) and memory one [d_sae] row of sums, whatever d_sae is
 * (a scan of all codes per block of features cost d_sae / block scans: 2,048 of 32·10^6 entries at 131,072).
 */
export function coactivationNeighbours(codes: CodeStore, dSae: number, k?: number): ScoredIndex[][];
/** The same, handing each feature's list to `each` instead of keeping them (returns nothing). */
export function coactivationNeighbours(codes: CodeStore, dSae: number, k: number, each: (a: number, items: ScoredIndex[]) => void): void;
export function coactivationNeighbours(codes: CodeStore, dSae: number, k = RELATED_NEIGHBOURS, each?: (a: number, items: ScoredIndex[]) => void): ScoredIndex[][] | void {
  const n = codes.rows;
  const { rowStart, indices, values } = codes;
  const sum = new Float64Array(dSae);
  const sum2 = new Float64Array(dSae);
  for (let e = 0; e < rowStart[n]!; e++) {
    const v = values[e]!;
    sum[indices[e]!]! += v;
    sum2[indices[e]!]! += v * v;
  }
  const col = codes.transpose(dSae);
  const out: ScoredIndex[][] | null = each ? null : new Array(dSae);
  const acc = new Float64Array(dSae);
  const seen = new Uint8Array(dSae);
  let touched = new Int32Array(1024);
  for (let a = 0; a < dSae; a++) {
    let m = 0;
    // Tokens in stream order: each sum adds its terms in the same order as a scan of the rows would.
    for (let j = col.start[a]!, end = col.start[a + 1]!; j < end; j++) {
      const t = col.tokens[j]!;
      const va = col.values[j]!;
      for (let e2 = rowStart[t]!, e2End = rowStart[t + 1]!; e2 < e2End; e2++) {
        const b = indices[e2]!;
        acc[b]! += va * values[e2]!;
        if (seen[b] === 0) {
          seen[b] = 1;
          if (m === touched.length) {
            const grown = new Int32Array(m * 2);
            grown.set(touched);
            touched = grown;
          }
          touched[m++] = b;
        }
      }
    }
    const bs = touched.subarray(0, m).sort(); // offered in index order: ties keep the smaller index
    const top = new TopK(k);
    for (let i = 0; i < m; i++) {
      const b = bs[i]!;
      if (b !== a && acc[b] !== 0) top.offer(b, pearsonFromSums(n, sum[a]!, sum2[a]!, sum[b]!, sum2[b]!, acc[b]!));
      acc[b] = 0;
      seen[b] = 0;
    }
    if (out) out[a] = top.items;
    else each!(a, top.items);
  }
  return out ?? undefined;
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
  const table = featureRelationTable(codes, dSae, compared, names, sizes);
  return Array.from({ length: dSae }, (_, f) => table.at(f));
}

/** Lists of up to k [index, score] pairs per unit, flat (a unit's list is built when asked for). */
class ScoredLists {
  readonly count: Uint8Array;
  readonly index: Int32Array;
  readonly score: Float64Array;
  constructor(units: number, readonly k: number) {
    this.count = new Uint8Array(units);
    this.index = new Int32Array(units * k);
    this.score = new Float64Array(units * k);
  }
  set(u: number, items: readonly ScoredIndex[]): void {
    this.count[u] = items.length;
    items.forEach(([i, v], j) => {
      this.index[u * this.k + j] = i;
      this.score[u * this.k + j] = v;
    });
  }
  get(u: number): ScoredIndex[] {
    return Array.from({ length: this.count[u]! }, (_, j): ScoredIndex => [this.index[u * this.k + j]!, this.score[u * this.k + j]!]);
  }
}

/**
 * featureRelations kept flat until each feature's record is written (`at(f)`): at 131,072 features the lists are
 * millions of small arrays, which would stay alive until the store is written and slow every major GC.
 */
export function featureRelationTable(
  codes: CodeStore, dSae: number, compared: readonly PairCorrelation[], names: readonly string[], sizes: readonly number[],
): { at(f: number): { m: Record<string, StoredMatch[]>; co: ScoredIndex[] } } {
  const matches = compared.map((c, i) => {
    const reverse = columnBest(dSae, sizes[i]!, (a, b) => c.r(a, b));
    const lists = new ScoredLists(dSae, RELATED_MATCHES);
    for (let a = 0; a < dSae; a++) lists.set(a, c.top(a, RELATED_MATCHES).map(({ index, r }): ScoredIndex => [index, r]));
    return { reverse, lists };
  });
  const co = new ScoredLists(dSae, RELATED_NEIGHBOURS);
  coactivationNeighbours(codes, dSae, RELATED_NEIGHBOURS, (a, items) => co.set(a, items));
  return {
    at: (f) => ({
      m: Object.fromEntries(names.map((name, i) => {
        const { reverse, lists } = matches[i]!;
        return [name, lists.get(f).map(([index, r]): StoredMatch => [index, r, reverse.best[index]!, reverse.bestR[index]!])];
      })),
      co: co.get(f),
    }),
  };
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
