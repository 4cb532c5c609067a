/** Related units (related-units.ts) and the ablation's standard error (ablation.ts stratifiedMean) on hand-computed cases. */
import { describe, expect, it } from "vitest";
import { stratifiedMean } from "../../src/analysis/ablation.js";
import { CodeStore } from "../../src/analysis/code-store.js";
import { meanLossEffect, type UnitPlan } from "../../src/analysis/examples.js";
import { FeatureFeatureCorrelation } from "../../src/analysis/feature-correlation.js";
import {
  coactivationNeighbours, columnBest, columnTopK, decoderNeighbours, featureRelations, isMutual, logitOverlap, matchesBothWays, tokenOverlap, TopK,
} from "../../src/analysis/related-units.js";
import type { SparseCodes } from "../../src/sae/sae.js";

/** Binary codes of `n` tokens from each feature's firing tokens (k = the most features on one token). */
function codesOf(n: number, firing: number[][]): SparseCodes {
  const rows: number[][] = Array.from({ length: n }, () => []);
  firing.forEach((tokens, f) => tokens.forEach((t) => rows[t]!.push(f)));
  const k = Math.max(1, ...rows.map((r) => r.length));
  const indices = new Int32Array(n * k).fill(-1);
  const values = new Float32Array(n * k);
  rows.forEach((r, t) => r.forEach((f, j) => {
    indices[t * k + j] = f;
    values[t * k + j] = 1;
  }));
  return { rows: n, k, indices, values };
}

/** r of two binary features over N tokens: (N·c − na·nb) / sqrt(na(N − na)·nb(N − nb)). */
const binaryR = (N: number, na: number, nb: number, c: number) => (N * c - na * nb) / Math.sqrt(na * (N - na) * nb * (N - nb));

describe("matches both ways", () => {
  // 10 tokens. B0 fires wherever A0 or A1 does (it merges them); B1 only on A0's first token; B2 on a token of its own.
  const N = 10;
  const a = codesOf(N, [[0, 1], [2, 3, 4, 5]]);
  const b = codesOf(N, [[0, 1, 2, 3, 4, 5], [0], [6]]);
  const corr = new FeatureFeatureCorrelation(2, 3);
  corr.add(a, b);
  const res = corr.result();

  it("ranks each A feature's matches by r and finds each match's own best match back", () => {
    const reverse = columnBest(2, 3, (i, j) => res.r(i, j));
    // B0's best in A is A1 (r 0.667 > A0's 0.408), B1's and B2's is A0.
    expect(Array.from(reverse.best)).toEqual([1, 0, 0]);
    expect(reverse.bestR[0]).toBeCloseTo(binaryR(N, 4, 6, 4), 6);
    expect(reverse.bestR[0]).toBeCloseTo(2 / 3, 6);
    const m = matchesBothWays(2, (i, k) => res.top(i, k), reverse, 5);
    // A0: B1 (8/12 = 0.667, mutual), B0 (8/sqrt(384) = 0.408, whose best back is A1: asymmetric), B2 (−2/12).
    expect(m[0]!.map(([i]) => i)).toEqual([1, 0, 2]);
    expect(m[0]![0]![1]).toBeCloseTo(2 / 3, 6);
    expect(m[0]![1]![1]).toBeCloseTo(8 / Math.sqrt(384), 6);
    expect(m[0]![2]![1]).toBeCloseTo(-1 / 6, 6);
    expect(m[0]!.map(([, , rev]) => rev)).toEqual([0, 1, 0]);
    expect(m[0]!.map(([, , rev]) => isMutual(0, rev))).toEqual([true, false, true]);
    // A1: B0 (mutual), then B1 and B2 tied at −4/sqrt(216) (smaller index first), both A0's.
    expect(m[1]!.map(([i]) => i)).toEqual([0, 1, 2]);
    expect(m[1]![1]![1]).toBeCloseTo(-4 / Math.sqrt(216), 6);
    expect(m[1]!.map(([, , rev]) => isMutual(1, rev))).toEqual([true, false, false]);
    expect(isMutual(0, -1)).toBeNull();
  });

  it("featureRelations stores the same per compared run, and k caps the list", () => {
    const store = new CodeStore(N, 2);
    store.append(a);
    const rel = featureRelations(store, 2, [res], ["B/1"], [3]);
    expect(rel[0]!.m["B/1"]!.map(([i, , rev]) => [i, rev])).toEqual([[1, 0], [0, 1], [2, 0]]);
    expect(matchesBothWays(2, (i, k) => res.top(i, k), columnBest(2, 3, (i, j) => res.r(i, j)), 1)[0]).toHaveLength(1);
    // A0 and A1 never fire together: no neighbour by activation r.
    expect(rel[0]!.co).toEqual([]);
  });
});

describe("nearest features by activation r", () => {
  // 8 tokens: F0 on 0–3, F1 on 0–1 (inside F0), F2 on 3–4 (one token shared with F0), F3 alone on 7.
  const N = 8;
  const firing = [[0, 1, 2, 3], [0, 1], [3, 4], [7]];
  const store = new CodeStore(N, 3);
  store.append(codesOf(N, firing));

  it("ranks co-firing features by r (hand-computed) and skips features never co-firing", () => {
    const near = coactivationNeighbours(store, 4, 8);
    expect(near[0]!.map(([i]) => i)).toEqual([1, 2]);
    expect(near[0]![0]![1]).toBeCloseTo(8 / Math.sqrt(192), 6); // r(F0, F1) = 0.577
    expect(near[0]![1]![1]).toBeCloseTo(0, 6); // r(F0, F2) = (8·1 − 4·2) / … = 0
    expect(near[1]!.map(([i]) => i)).toEqual([0]);
    expect(near[2]!.map(([i]) => i)).toEqual([0]);
    expect(near[3]).toEqual([]);
  });

  it("equals a dense computation of every pair's r on random real-valued codes (ties to the smaller index)", () => {
    // 300 tokens, 40 features, up to 6 active per token with values in (0, 2]; some features never fire.
    const T = 300, F = 40, K = 6;
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const dense = new Float64Array(T * F);
    const indices = new Int32Array(T * K).fill(-1);
    const values = new Float32Array(T * K);
    for (let t = 0; t < T; t++) {
      const chosen = new Set<number>();
      const n = Math.floor(rand() * (K + 1));
      while (chosen.size < n) chosen.add(Math.floor(rand() * (F - 4)));
      [...chosen].forEach((f, j) => {
        const v = Math.fround(0.25 + Math.floor(rand() * 8) / 4); // quarter steps: ties in r happen
        indices[t * K + j] = f;
        values[t * K + j] = v;
        dense[t * F + f] = v;
      });
    }
    const codes = new CodeStore(T, K);
    codes.append({ rows: T, k: K, indices, values });
    const near = coactivationNeighbours(codes, F, 5);
    for (let a = 0; a < F; a++) {
      const expected = new TopK(5);
      for (let b = 0; b < F; b++) {
        if (b === a) continue;
        let sa = 0, sa2 = 0, sb = 0, sb2 = 0, sab = 0;
        for (let t = 0; t < T; t++) {
          const x = dense[t * F + a]!, y = dense[t * F + b]!;
          sa += x; sa2 += x * x; sb += y; sb2 += y * y; sab += x * y;
        }
        if (sab === 0) continue;
        const r = (T * sab - sa * sb) / Math.sqrt((T * sa2 - sa * sa) * (T * sb2 - sb * sb));
        expected.offer(b, r);
      }
      expect(near[a]!.map(([i]) => i)).toEqual(expected.items.map(([i]) => i));
      near[a]!.forEach(([, r], j) => expect(r).toBeCloseTo(expected.items[j]![1], 9));
    }
    expect(near.filter((l) => l.length > 0).length).toBeGreaterThan(30);
    expect(near[F - 1]).toEqual([]);
  });
});

describe("columnTopK and decoder neighbours", () => {
  it("columnTopK: the rows with the largest r per column, ties to the smaller row", () => {
    const table = [
      [0.1, 0.9],
      [0.5, Number.NaN],
      [0.5, -0.2],
      [0.7, 0.3],
    ];
    const top = columnTopK(4, 2, (r, c) => table[r]![c]!, 2);
    expect(top[0]).toEqual([[3, 0.7], [1, 0.5]]);
    expect(top[1]).toEqual([[0, 0.9], [3, 0.3]]);
    const t = new TopK(2);
    [[5, 1], [6, 2], [7, 2], [8, Number.NaN]].forEach(([i, v]) => t.offer(i!, v!));
    expect(t.items).toEqual([[6, 2], [7, 2]]);
  });

  it("decoderNeighbours: cosine of decoder rows, itself and zero rows left out", () => {
    const dec = Float32Array.from([1, 0, 1, 1, 0, 1, -1, 0, 0, 0, 2, 0]);
    const near = decoderNeighbours(dec, 6, 2, 0, 8);
    expect(near.map(([i]) => i)).toEqual([5, 1, 2, 3]);
    expect(near[0]![1]).toBeCloseTo(1, 6);
    expect(near[1]![1]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(near[2]![1]).toBeCloseTo(0, 6);
    expect(near[3]![1]).toBeCloseTo(-1, 6);
    expect(decoderNeighbours(dec, 6, 2, 4)).toEqual([]);
    expect(() => decoderNeighbours(dec, 6, 2, 6)).toThrow(/feature 6 is out of range \[0, 6\)/);
    expect(() => decoderNeighbours(dec, 5, 2, 0)).toThrow(/W_dec has 12 values, expected 5 × 2/);
  });
});

describe("logit token overlap", () => {
  it("counts shared tokens and the Jaccard index of each side", () => {
    expect(tokenOverlap([1, 2, 3, 4], [3, 4, 5, 6, 7])).toEqual({ shared: 2, jaccard: 2 / 7, k: 4 });
    expect(tokenOverlap([1, 1, 2], [2, 2])).toEqual({ shared: 1, jaccard: 0.5, k: 1 });
    expect(tokenOverlap([], [])).toEqual({ shared: 0, jaccard: null, k: 0 });
    const o = logitOverlap({ top: [10, 11, 12], bottom: [20, 21] }, { top: [12, 10, 13], bottom: [22] });
    expect(o.top).toEqual({ shared: 2, jaccard: 0.5, k: 3, tokens: [10, 12] });
    expect(o.bottom).toEqual({ shared: 0, jaccard: 0, k: 1, tokens: [] });
  });
});

describe("ablation standard error", () => {
  it("stratifiedMean: weighted interval means; SE² = Σ W_h² s_h² / n_h, a single sample borrowing the pooled variance", () => {
    const r = stratifiedMean([
      { weight: 0.5, values: [1, 2, 3] }, // mean 2, s² 1
      { weight: 0.3, values: [4, 6] }, // mean 5, s² 2
      { weight: 0.2, values: [5] }, // mean 5, pooled s² (2 + 2) / 3 = 4/3
    ]);
    expect(r.mean).toBeCloseTo(3.5, 12);
    expect(r.n).toBe(6);
    // 0.25·1/3 + 0.09·2/2 + 0.04·(4/3)/1 = 0.22667
    expect(r.se).toBeCloseTo(Math.sqrt(0.25 / 3 + 0.09 + 0.04 * (4 / 3)), 12);
    expect(r.se).toBeCloseTo(0.476095, 6);
  });

  it("normalises the weights of the strata that were sampled; no SE without two samples in a stratum", () => {
    const r = stratifiedMean([{ weight: 0.2, values: [1, 3] }, { weight: 0.2, values: [] }, { weight: 0.2, values: [5, 7] }]);
    expect(r.mean).toBeCloseTo(4, 12);
    expect(r.se).toBeCloseTo(Math.sqrt(0.25 * 2 / 2 + 0.25 * 2 / 2), 12);
    expect(stratifiedMean([{ weight: 1, values: [2] }, { weight: 1, values: [4] }])).toEqual({ mean: 3, se: null, n: 2 });
    expect(stratifiedMean([])).toEqual({ mean: null, se: null, n: 0 });
  });

  it("meanLossEffect reads −Δlog-prob at each interval sample's example token", () => {
    const ex = (req: number) => ({ sequence: 0, position: 0, activation: 1, window: [[-1, 0.5, -1], [0, 1, req]] as [number, number, number][] });
    const plan: UnitPlan = { top: [], intervals: [{ lo: 0, hi: 1, fraction: 0.75, examples: [ex(0), ex(1)] }, { lo: 1, hi: 2, fraction: 0.25, examples: [ex(2), ex(3)] }] };
    const deltas = Float32Array.from([-0.1, -0.3, -1, -2]);
    const r = meanLossEffect(plan, deltas);
    expect(r.sampled).toBe(4);
    expect(r.meanLossEffect).toBeCloseTo(0.75 * 0.2 + 0.25 * 1.5, 6);
    // s² = 0.02 and 0.5: SE² = 0.5625·0.02/2 + 0.0625·0.5/2
    expect(r.se).toBeCloseTo(Math.sqrt(0.5625 * 0.01 + 0.0625 * 0.25), 6);
  });
});
