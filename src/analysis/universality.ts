/**
 * Universality (Towards Monosemanticity): each unit's best match among another unit set's units on the same
 * tokens (activation r, from the streaming correlations), the logit-weight r of each matched pair, and the summary
 * of how many units have a match above r = 0.5 and 0.7 — among all live units and among those firing at least
 * 1e-4 and 1e-3 of the time (most of a dictionary can sit in an ultra-low-density cluster whose best r is limited by
 * a handful of firings). Pearson r follows correlation.ts' convention (NaN when undefined).
 */
import { unembed } from "../model/readout.js";
import type { HookedTransformer } from "../model/transformer.js";
import { pearson } from "./correlation.js";
import { logitWeights } from "./logit-weights.js";
import type { UniversalitySummary } from "./unit-record.js";

export const UNIVERSALITY_THRESHOLDS = [0.5, 0.7] as const;
export const UNIVERSALITY_DENSITY_BANDS = [1e-4, 1e-3] as const;

/** Share of units (live, and with density ≥ minDensity) whose best match has r above each threshold. */
export function universalityThresholds(density: Float32Array, bestR: Float32Array, minDensity: number) {
  let units = 0;
  const matched = UNIVERSALITY_THRESHOLDS.map(() => 0);
  for (let u = 0; u < density.length; u++) {
    if (!(density[u]! > 0 && density[u]! >= minDensity)) continue;
    units++;
    UNIVERSALITY_THRESHOLDS.forEach((t, k) => {
      if (bestR[u]! > t) matched[k]!++;
    });
  }
  return {
    units,
    thresholds: UNIVERSALITY_THRESHOLDS.map((threshold, k) => ({ threshold, matched: matched[k]!, fraction: units > 0 ? matched[k]! / units : Number.NaN })),
  };
}

export function universalityByDensity(density: Float32Array, bestR: Float32Array): NonNullable<UniversalitySummary["byDensity"]> {
  return UNIVERSALITY_DENSITY_BANDS.map((minDensity) => {
    const { units, thresholds } = universalityThresholds(density, bestR, minDensity);
    return { minDensity, features: units, thresholds };
  });
}

/**
 * The summary of one comparison: `livePairs` (live units of each side; a defaults to the live units of `density`),
 * the thresholds (given, as the feature × feature correlation computes them, or from the densities) and the
 * density bands.
 */
export function universalitySummary(
  name: string, density: Float32Array, bestR: Float32Array, live: { a?: number; b: number },
  thresholds?: { threshold: number; matched: number; fraction: number }[],
): UniversalitySummary {
  const all = universalityThresholds(density, bestR, 0);
  return {
    name,
    livePairs: { a: live.a ?? all.units, b: live.b },
    thresholds: thresholds ?? all.thresholds,
    byDensity: universalityByDensity(density, bestR),
  };
}

/** Rows of B's logit weights computed per GEMM when they are computed per chunk of A. */
const MATCHED_CHUNK = 128;
/** Most bytes of B's logit weights kept for all its matched units at once (else they are computed per chunk of A). */
const MATCHED_TABLE_BYTES = 2 ** 30;

/**
 * Matched logit r: for each unit a of A matched to unit best[a] of B, the Pearson r between their centred logit
 * weights (over the vocabulary). Fed with A's centred logit weights chunk by chunk, as logitWeightTable computes them
 * for the summaries (its onChunk), so A's [units, d_vocab] logit weights are computed once, not twice. B's side: the
 * distinct matched units of B (at most B's size: 4,096 for B/1 against 131,072 features of A) get their logit weights
 * computed once, up front, when they fit in 1 GiB; otherwise per chunk of A (B's rows 128 at a time from unit 0, so
 * chunks must start at multiples of 128). A row's logit weights do not depend on the other rows of its GEMM, so both
 * ways give the same numbers. NaN for unmatched units (best < 0).
 */
export function matchedLogitCorrelator(dirsB: Float32Array, modelB: HookedTransformer, best: Int32Array, tableBytes = MATCHED_TABLE_BYTES): {
  add(first: number, n: number, la: Float32Array): void;
  readonly result: Float32Array;
} {
  const ub = unembed(modelB);
  const dB = ub.dModel;
  const V = ub.dVocab;
  const result = new Float32Array(best.length).fill(Number.NaN);
  const gathered = new Float32Array(MATCHED_CHUNK * dB);
  // B's matched units, each once, in index order; rowOf[g] is g's row in the table.
  const rowOf = new Map<number, number>();
  for (const g of [...new Set(best)].filter((g) => g >= 0).sort((a, b) => a - b)) rowOf.set(g, rowOf.size);
  let table: Float32Array | null = null;
  if (rowOf.size * V * 4 <= tableBytes) {
    table = new Float32Array(rowOf.size * V);
    const units = [...rowOf.keys()];
    for (let first = 0; first < units.length; first += MATCHED_CHUNK) {
      const m = Math.min(MATCHED_CHUNK, units.length - first);
      for (let i = 0; i < m; i++) gathered.set(dirsB.subarray(units[first + i]! * dB, (units[first + i]! + 1) * dB), i * dB);
      table.set(logitWeights(gathered.subarray(0, m * dB), m, dB, ub.wU, V, ub.lnW, { centre: true }), first * V);
    }
  }
  return {
    result,
    add(first: number, n: number, la: Float32Array): void {
      if (la.length < n * V) throw new RangeError(`matched logit r: ${la.length} logit weights for ${n} units × ${V} tokens`);
      if (table) {
        for (let i = 0; i < n; i++) {
          const g = best[first + i]!;
          if (g < 0) continue;
          const row = rowOf.get(g)! * V;
          result[first + i] = pearson(la.subarray(i * V, (i + 1) * V), table.subarray(row, row + V));
        }
        return;
      }
      if (first % MATCHED_CHUNK !== 0) throw new RangeError(`matched logit r: chunk start ${first} is not a multiple of ${MATCHED_CHUNK}`);
      for (let sub = first; sub < first + n; sub += MATCHED_CHUNK) {
        const m = Math.min(MATCHED_CHUNK, first + n - sub);
        let matched = 0;
        gathered.fill(0);
        for (let i = 0; i < m; i++) {
          const g = best[sub + i]!;
          if (g >= 0) {
            gathered.set(dirsB.subarray(g * dB, (g + 1) * dB), i * dB);
            matched++;
          }
        }
        if (matched === 0) continue;
        const lb = logitWeights(gathered.subarray(0, m * dB), m, dB, ub.wU, V, ub.lnW, { centre: true });
        for (let i = 0; i < m; i++) {
          if (best[sub + i]! < 0) continue;
          const row = (sub - first + i) * V;
          result[sub + i] = pearson(la.subarray(row, row + V), lb.subarray(i * V, (i + 1) * V));
        }
      }
    },
  };
}
