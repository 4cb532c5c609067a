import { describe, expect, it } from "vitest";
import { FeatureStatsAccumulator, FeatureStatsError, type FeatureStats, type FeatureStatsOptions } from "../../src/analysis/feature-stats.js";
import { Rng } from "../../src/core/rng.js";
import type { SparseCodes } from "../../src/sae/sae.js";

/** Per token, its (feature, value) slots; padded with index −1 to k slots. */
type Row = Array<[number, number]>;

function codesOf(rows: Row[], k: number): SparseCodes {
  const indices = new Int32Array(rows.length * k).fill(-1);
  const values = new Float32Array(rows.length * k);
  rows.forEach((row, r) => {
    expect(row.length).toBeLessThanOrEqual(k);
    row.forEach(([f, v], j) => {
      indices[r * k + j] = f;
      values[r * k + j] = v;
    });
  });
  return { rows: rows.length, k, indices, values };
}

/** Rows firstRow..firstRow + n of a code batch. */
function slice(codes: SparseCodes, firstRow: number, n: number): SparseCodes {
  const k = codes.k;
  return { rows: n, k, indices: codes.indices.slice(firstRow * k, (firstRow + n) * k), values: codes.values.slice(firstRow * k, (firstRow + n) * k) };
}

/** Runs both passes, feeding batches of whole sequences given as [first sequence, count] (in that order). */
function run(opts: FeatureStatsOptions, codes: SparseCodes, firstSequence: number, nCtx: number, batches: Array<[number, number]>): FeatureStats {
  const acc = new FeatureStatsAccumulator(opts);
  const feed = (pass: 1 | 2) => {
    for (const [s, n] of batches) {
      const rows = Math.min(n * nCtx, codes.rows - (s - firstSequence) * nCtx);
      const part = slice(codes, (s - firstSequence) * nCtx, rows);
      if (pass === 1) acc.addPass1(part, s, nCtx);
      else acc.addPass2(part, s, nCtx);
    }
  };
  feed(1);
  acc.startPass2();
  feed(2);
  return acc.result();
}

// Hand-built stream: 3 sequences (10, 11, 12) of 4 tokens, 4 features, 3 slots per token.
//   feature 0: 7 firings 0.5, 4, 1, 2.5, 4, 2.5, 3 (a tie at the top, a tie at the top-4 cut, more firings than K)
//   feature 1: one firing, 0.75 at (12, 2)
//   feature 2: never fires (present once with value 0)
//   feature 3: 1 on every token (all tied)
const HAND: Row[] = [
  [[0, 0.5], [3, 1]], //             (10, 0)
  [[3, 1], [0, 4]], //               (10, 1)
  [[3, 1]], //                       (10, 2)
  [[0, 1], [-1, 9], [3, 1]], //      (10, 3)  padding mid-row
  [[3, 1], [0, 2.5]], //             (11, 0)
  [[2, 0], [3, 1]], //               (11, 1)  a zero value is not a firing
  [[0, 4], [3, 1]], //               (11, 2)
  [[3, 1]], //                       (11, 3)
  [[3, 1]], //                       (12, 0)
  [[-1, 0], [3, 1], [0, 2.5]], //    (12, 1)
  [[1, 0.75], [3, 1]], //            (12, 2)
  [[3, 1], [0, 3]], //               (12, 3)
];
const HAND_OPTS: FeatureStatsOptions = { dSae: 4, topK: 4, histogramBins: 4, intervalCount: 2, intervalSamples: 2, seed: 7 };

describe("FeatureStatsAccumulator on a hand-built stream", () => {
  const codes = codesOf(HAND, 3);
  const inOrder = run(HAND_OPTS, codes, 10, 4, [[10, 2], [12, 1]]);
  const reversed = run(HAND_OPTS, codes, 10, 4, [[12, 1], [11, 1], [10, 1]]);

  it("counts density, max and mean over firing tokens", () => {
    expect(inOrder.tokens).toBe(12);
    expect(Array.from(inOrder.density)).toEqual([7 / 12, 1 / 12, 0, 1].map(Math.fround));
    expect(Array.from(inOrder.maxActivation)).toEqual([4, 0.75, 0, 1]);
    expect(Array.from(inOrder.meanActivation)).toEqual([2.5, 0.75, 0, 1]);
  });

  it("keeps the top K sorted by activation, ties to the earlier token, whatever the batch order", () => {
    const want0 = [
      { sequence: 10, position: 1, activation: 4 },
      { sequence: 11, position: 2, activation: 4 },
      { sequence: 12, position: 3, activation: 3 },
      { sequence: 11, position: 0, activation: 2.5 }, // (12, 1) has 2.5 too but comes later
    ];
    const want3 = [0, 1, 2, 3].map((p) => ({ sequence: 10, position: p, activation: 1 }));
    for (const s of [inOrder, reversed]) {
      expect(s.top(0)).toEqual(want0);
      expect(s.top(1)).toEqual([{ sequence: 12, position: 2, activation: 0.75 }]);
      expect(s.top(2)).toEqual([]);
      expect(s.top(3)).toEqual(want3);
    }
  });

  it("bins non-zero activations into equal-width, lower-closed bins of [0, max]", () => {
    expect(inOrder.histogram(0)).toEqual({ edges: [0, 1, 2, 3, 4], counts: [1, 1, 2, 3] });
    expect(inOrder.histogram(1)).toEqual({ edges: [0, 0.1875, 0.375, 0.5625, 0.75], counts: [0, 0, 0, 1] });
    expect(inOrder.histogram(2)).toEqual({ edges: [0, 0, 0, 0, 0], counts: [0, 0, 0, 0] });
    expect(inOrder.histogram(3).counts).toEqual([0, 0, 0, 12]);
    expect(reversed.histogram(0)).toEqual(inOrder.histogram(0));
  });

  it("reports interval fractions and samples that lie in their interval", () => {
    const iv = inOrder.intervals(0);
    expect(iv.map(({ lo, hi, fraction }) => [lo, hi, fraction])).toEqual([[0, 2, 2 / 7], [2, 4, 5 / 7]]);
    // Exactly two firings in [0, 2): both kept.
    expect(iv[0]!.examples).toEqual([
      { sequence: 10, position: 3, activation: 1 },
      { sequence: 10, position: 0, activation: 0.5 },
    ]);
    // Two of the five firings in [2, 4], distinct, real.
    const firings1 = new Map([["10,1", 4], ["11,0", 2.5], ["11,2", 4], ["12,1", 2.5], ["12,3", 3]]);
    expect(iv[1]!.examples).toHaveLength(2);
    const keys = iv[1]!.examples.map((e) => `${e.sequence},${e.position}`);
    expect(new Set(keys).size).toBe(2);
    iv[1]!.examples.forEach((e, i) => expect(firings1.get(keys[i]!)).toBe(e.activation));
    expect(iv[1]!.examples[0]!.activation).toBeGreaterThanOrEqual(iv[1]!.examples[1]!.activation);

    expect(inOrder.intervals(1).map((x) => [x.fraction, x.examples.length])).toEqual([[0, 0], [1, 1]]);
    expect(inOrder.intervals(2)).toEqual([{ lo: 0, hi: 0, fraction: 0, examples: [] }, { lo: 0, hi: 0, fraction: 0, examples: [] }]);
    expect(inOrder.intervals(3).map((x) => [x.lo, x.hi, x.fraction, x.examples.length])).toEqual([[0, 0.5, 0, 0], [0.5, 1, 1, 2]]);
  });

  it("accepts single-token batches (refs from firstSequence and the row within the batch)", () => {
    const acc = new FeatureStatsAccumulator(HAND_OPTS);
    for (let r = 0; r < 12; r++) acc.addPass1(slice(codes, r, 1), 10 + Math.floor(r / 4), 1000);
    const s = acc.result(); // pass 1 only: positions are all 0 here (nCtx 1000 > 1 row), sequences as given
    expect(s.top(0).map((e) => [e.sequence, e.position, e.activation])).toEqual([[10, 0, 4], [11, 0, 4], [12, 0, 3], [11, 0, 2.5]]);
    expect(() => s.histogram(0)).toThrow(/needs pass 2/);
    expect(() => s.intervals(0)).toThrow(/needs pass 2/);
  });
});

describe("FeatureStatsAccumulator reservoir sampling", () => {
  // One feature firing on 100 tokens with activations 1..100 (so interval 0 of 1 holds all of them).
  const rows: Row[] = Array.from({ length: 100 }, (_, t) => [[0, t + 1]]);
  const codes = codesOf(rows, 1);
  const opts = (seed: number): FeatureStatsOptions => ({ dSae: 1, topK: 3, intervalCount: 1, intervalSamples: 5, seed });

  it("is deterministic for a seed, independent of batching, and differs across seeds", () => {
    const a = run(opts(3), codes, 0, 10, [[0, 10]]).intervals(0)[0]!.examples;
    const b = run(opts(3), codes, 0, 10, [[0, 3], [3, 4], [7, 3]]).intervals(0)[0]!.examples;
    const c = run(opts(4), codes, 0, 10, [[0, 10]]).intervals(0)[0]!.examples;
    expect(a).toHaveLength(5);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    for (const e of a) expect(e.activation).toBe(e.sequence * 10 + e.position + 1);
  });

  it("samples every firing with probability S / n (Algorithm R)", () => {
    const hits = new Array<number>(100).fill(0);
    const seeds = 2000;
    for (let seed = 0; seed < seeds; seed++) {
      const acc = new FeatureStatsAccumulator(opts(seed));
      acc.addPass1(codes, 0, 100);
      acc.startPass2();
      acc.addPass2(codes, 0, 100);
      for (const e of acc.result().intervals(0)[0]!.examples) hits[e.position]! += 1;
    }
    // Expected 2000 · 5/100 = 100 per token, σ ≈ 9.7; a biased sampler (e.g. keeping the first or last) fails.
    for (const h of hits) {
      expect(h).toBeGreaterThan(55);
      expect(h).toBeLessThan(145);
    }
    expect(hits.reduce((s, h) => s + h, 0)).toBe(seeds * 5);
  });
});

describe("FeatureStatsAccumulator against a dense reference", () => {
  it("matches a naive dense computation on 20k random tokens, d_sae 512", () => {
    const dSae = 512;
    const nCtx = 50;
    const nSeq = 400;
    const tokens = nSeq * nCtx;
    const k = 16;
    const rng = new Rng(11);
    const dense = new Float32Array(tokens * dSae);
    const indices = new Int32Array(tokens * k).fill(-1);
    const values = new Float32Array(tokens * k);
    for (let t = 0; t < tokens; t++) {
      const active = rng.int(k + 1);
      const seen = new Set<number>();
      for (let j = 0; j < active; j++) {
        // Skewed: low features fire often, features ≥ 500 never; a few zero-valued slots.
        const f = Math.min(dSae - 1, Math.floor(500 * rng.uniform() ** 3));
        if (seen.has(f) || f >= 500) continue;
        seen.add(f);
        const v = rng.int(20) === 0 ? 0 : rng.int(64) / 16 + (f % 7) / 8; // quantised: many ties
        const slot = rng.int(k);
        if (indices[t * k + slot]! >= 0) continue;
        indices[t * k + slot] = f;
        values[t * k + slot] = v;
        dense[t * dSae + f] = v;
      }
    }
    const codes: SparseCodes = { rows: tokens, k, indices, values };
    const opts: FeatureStatsOptions = { dSae, topK: 10, histogramBins: 16, intervalCount: 5, intervalSamples: 4, seed: 5 };
    const batches: Array<[number, number]> = [];
    for (let s = 0, n = 1; s < nSeq; s += n, n = (n % 13) + 1) batches.push([s, Math.min(n, nSeq - s)]);
    const stats = run(opts, codes, 0, nCtx, batches);

    expect(stats.tokens).toBe(tokens);
    let checkedTies = 0;
    let firingFeatures = 0;
    for (let f = 0; f < dSae; f++) {
      const fired: Array<{ t: number; v: number }> = [];
      for (let t = 0; t < tokens; t++) {
        const v = dense[t * dSae + f]!;
        if (v > 0) fired.push({ t, v });
      }
      const n = fired.length;
      const max = n ? Math.max(...fired.map((x) => x.v)) : 0;
      const sum = fired.reduce((s, x) => s + x.v, 0);
      expect(stats.density[f]).toBe(Math.fround(n / tokens));
      expect(stats.maxActivation[f]).toBe(max);
      expect(stats.meanActivation[f]).toBeCloseTo(n ? sum / n : 0, 5);
      if (f >= 500) expect(n).toBe(0);
      if (n > 0) firingFeatures++;

      const ranked = [...fired].sort((a, b) => b.v - a.v || a.t - b.t).slice(0, 10);
      expect(stats.top(f)).toEqual(ranked.map(({ t, v }) => ({ sequence: Math.floor(t / nCtx), position: t % nCtx, activation: v })));
      if (ranked.length === 10 && fired.filter((x) => x.v === ranked[9]!.v).length > 1) checkedTies++;

      const h = stats.histogram(f);
      const edges = Array.from({ length: 17 }, (_, b) => (max * b) / 16);
      const counts = new Array<number>(16).fill(0);
      for (const { v } of fired) {
        let b = 0;
        while (b < 15 && v >= edges[b + 1]!) b++;
        counts[b]! += 1;
      }
      expect(h.edges).toEqual(edges);
      expect(h.counts).toEqual(counts);

      const iv = stats.intervals(f);
      expect(iv).toHaveLength(5);
      iv.forEach(({ lo, hi, fraction, examples }, i) => {
        expect(lo).toBe((max * i) / 5);
        expect(hi).toBe((max * (i + 1)) / 5);
        const inside = fired.filter(({ v }) => v >= lo && (i === 4 ? v <= hi : v < hi));
        expect(fraction).toBe(n ? inside.length / n : 0);
        expect(examples).toHaveLength(Math.min(4, inside.length));
        const keys = new Set<number>();
        for (const e of examples) {
          const t = e.sequence * nCtx + e.position;
          keys.add(t);
          expect(e.activation).toBeGreaterThan(0);
          expect(dense[t * dSae + f]).toBe(e.activation);
          expect(e.activation).toBeGreaterThanOrEqual(lo);
          if (i < 4) expect(e.activation).toBeLessThan(hi);
          else expect(e.activation).toBeLessThanOrEqual(hi);
        }
        expect(keys.size).toBe(examples.length);
      });
    }
    // The stream really exercises what it claims to.
    expect(firingFeatures).toBeGreaterThan(450);
    expect(checkedTies).toBeGreaterThan(50);
  });
});

describe("FeatureStatsAccumulator errors", () => {
  const codes = codesOf([[[0, 1]], [[1, 2]]], 1);

  it("refuses pass-2 data before startPass2 and pass-1 data after it", () => {
    const acc = new FeatureStatsAccumulator({ dSae: 2 });
    expect(() => acc.addPass2(codes, 0, 2)).toThrow(/addPass2 before startPass2/);
    acc.addPass1(codes, 0, 2);
    acc.startPass2();
    expect(() => acc.addPass1(codes, 0, 2)).toThrow(/addPass1 after startPass2/);
    expect(() => acc.startPass2()).toThrow(FeatureStatsError);
  });

  it("names the feature index and d_sae when an index is out of range, and leaves the state untouched", () => {
    const acc = new FeatureStatsAccumulator({ dSae: 2 });
    const bad = codesOf([[[0, 1]], [[5, 1]]], 1);
    expect(() => acc.addPass1(bad, 0, 2)).toThrow(/feature index 5 ≥ d_sae 2 \(row 1, slot 0\)/);
    const s = acc.result();
    expect(s.tokens).toBe(0);
    expect(s.top(0)).toEqual([]);
    acc.addPass1(codes, 0, 2);
    acc.startPass2();
    expect(() => acc.addPass2(bad, 0, 2)).toThrow(/feature index 5 ≥ d_sae 2/);
  });

  it("detects a pass 2 that differs from pass 1", () => {
    const acc = new FeatureStatsAccumulator({ dSae: 2 });
    acc.addPass1(codes, 0, 2);
    acc.startPass2();
    expect(() => acc.addPass2(codesOf([[[0, 1.5]]], 1), 0, 2)).toThrow(/feature 0 has activation 1.5 above its pass-1 max 1/);
    acc.addPass2(slice(codes, 0, 1), 0, 2);
    expect(() => acc.result()).toThrow(/pass 2 saw 1 tokens but pass 1 saw 2/);
    acc.addPass2(slice(codes, 1, 1), 0, 2);
    expect(acc.result().histogram(1).counts[39]).toBe(1);
  });

  it("validates options, batch shapes and feature arguments", () => {
    expect(() => new FeatureStatsAccumulator({ dSae: 0 })).toThrow(/dSae must be an integer/);
    expect(() => new FeatureStatsAccumulator({ dSae: 4, histogramBins: 0 })).toThrow(/histogramBins/);
    const acc = new FeatureStatsAccumulator({ dSae: 2 });
    expect(() => acc.addPass1({ rows: 3, k: 1, indices: new Int32Array(2), values: new Float32Array(2) }, 0, 2)).toThrow(/need 3 rows × k 1 = 3/);
    expect(() => acc.addPass1(codes, 0, 0)).toThrow(/nCtx/);
    expect(() => acc.result().top(2)).toThrow(/top\(2\): feature must be an integer in \[0, 2\)/);
  });
});
