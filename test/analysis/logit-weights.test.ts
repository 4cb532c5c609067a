import { describe, expect, it } from "vitest";
import { outputDirections } from "../../src/analysis/ablation.js";
import { LogitWeightsError, logitWeights, logitWeightSummaries, logitWeightTable, type LogitWeightSummary } from "../../src/analysis/logit-weights.js";
import type { HookedTransformer } from "../../src/model/transformer.js";
import { Rng } from "../../src/core/rng.js";
import { Sae } from "../../src/sae/sae.js";
import { expectClose, randomFloat32 } from "../helpers/numeric.js";

function sae(dIn: number, dSae: number, dec: Float32Array): Sae {
  return new Sae(
    { architecture: "standard", dIn, dSae, k: null, applyBDecToInput: true },
    { encT: new Float32Array(dSae * dIn), bEnc: new Float32Array(dSae), dec, bDec: new Float32Array(dIn) },
  );
}

/** A 1-layer model as far as outputDirections reads it (model/readout.ts: the last MLP's W_out and b_out). */
function mlpOnly(wOut: Float32Array, dMlp: number, dModel: number): HookedTransformer {
  const p = (data: Float32Array) => ({ value: { data } });
  return {
    cfg: { n_layers: 1, d_mlp: dMlp, d_model: dModel },
    params: { "blocks.0.mlp.W_out": p(wOut), "blocks.0.mlp.b_out": p(new Float32Array(dModel)) },
  } as unknown as HookedTransformer;
}

/** Small integers as float32: every product and sum below is exact, whatever the summation order. */
function randomInts(n: number, rng: Rng, lo: number, hi: number): Float32Array {
  return Float32Array.from({ length: n }, () => lo + rng.int(hi - lo + 1));
}

/** Naive W_dec · W_out · diag(w) · W_U in float64, by the definition (triple loop). */
function naiveLogits(
  dec: Float32Array, dSae: number, dMlp: number, wOut: Float32Array, dModel: number, wU: Float32Array, dVocab: number,
  lnW: Float32Array | null,
): Float64Array {
  const out = new Float64Array(dSae * dVocab);
  for (let f = 0; f < dSae; f++) {
    for (let t = 0; t < dVocab; t++) {
      let s = 0;
      for (let m = 0; m < dModel; m++) {
        let dm = 0;
        for (let i = 0; i < dMlp; i++) dm += dec[f * dMlp + i]! * wOut[i * dModel + m]!;
        s += dm * (lnW ? lnW[m]! : 1) * wU[m * dVocab + t]!;
      }
      out[f * dVocab + t] = s;
    }
  }
  return out;
}

/** The documented summary of one row, by sorting and counting. */
function naiveSummary(row: ArrayLike<number>, top: number, bins: number): LogitWeightSummary {
  const tokens = Array.from(row, (weight, token) => ({ token, weight }));
  const desc = [...tokens].sort((a, b) => b.weight - a.weight || a.token - b.token);
  const asc = [...tokens].sort((a, b) => a.weight - b.weight || a.token - b.token);
  const lo = asc[0]!.weight;
  const hi = desc[0]!.weight;
  const edges = Array.from({ length: bins + 1 }, (_, b) => (b === bins ? hi : lo + ((hi - lo) * b) / bins));
  const counts = new Array<number>(bins).fill(0);
  for (const { weight } of tokens) {
    let b = 0;
    if (hi === lo) b = bins - 1;
    else while (b < bins - 1 && weight >= edges[b + 1]!) b++;
    counts[b]! += 1;
  }
  const mean = tokens.reduce((s, x) => s + x.weight, 0) / tokens.length;
  const std = Math.sqrt(tokens.reduce((s, x) => s + (x.weight - mean) ** 2, 0) / tokens.length);
  return { top: desc.slice(0, top), bottom: asc.slice(0, top), histogram: { edges, counts }, mean, std };
}

describe("outputDirections and logitWeights", () => {
  const rng = new Rng(7);
  const [dSae, dMlp, dModel, dVocab] = [9, 6, 5, 23];
  const dec = randomFloat32(dSae * dMlp, rng);
  const wOut = randomFloat32(dMlp * dModel, rng);
  const wU = randomFloat32(dModel * dVocab, rng);
  const lnW = randomFloat32(dModel, rng, 0.5, 1.5);
  const s = sae(dMlp, dSae, dec);
  const model = mlpOnly(wOut, dMlp, dModel);

  it("computes W_dec · W_out like a naive loop", () => {
    const dirs = outputDirections(model, s);
    const want = new Float64Array(dSae * dModel);
    for (let f = 0; f < dSae; f++) {
      for (let m = 0; m < dModel; m++) {
        for (let i = 0; i < dMlp; i++) want[f * dModel + m]! += dec[f * dMlp + i]! * wOut[i * dModel + m]!;
      }
    }
    expectClose(dirs, want, 1e-5, 1e-5);
  });

  it("computes W_dec · W_out · diag(ln_final.w) · W_U like a naive triple loop, with and without ln_final.w", () => {
    const dirs = outputDirections(model, s);
    expectClose(logitWeights(dirs, dSae, dModel, wU, dVocab, lnW), naiveLogits(dec, dSae, dMlp, wOut, dModel, wU, dVocab, lnW), 1e-5, 1e-5);
    expectClose(logitWeights(dirs, dSae, dModel, wU, dVocab, null), naiveLogits(dec, dSae, dMlp, wOut, dModel, wU, dVocab, null), 1e-5, 1e-5);
    expect(logitWeights(new Float32Array(0), 0, dModel, wU, dVocab, lnW)).toHaveLength(0);
    expect(logitWeightSummaries(new Float32Array(0), 0, dModel, wU, dVocab, lnW)).toEqual([]);
  });

  it("with centre: matches TransformerLens-processed weights (fold_ln, center_writing_weights, center_unembed)", () => {
    // TL: W_out rows centred over d_model; W_U' = diag(w)·W_U, its columns centred over d_model; then rows over vocab.
    const wOutC = new Float32Array(wOut);
    for (let i = 0; i < dMlp; i++) {
      let mean = 0;
      for (let m = 0; m < dModel; m++) mean += wOut[i * dModel + m]! / dModel;
      for (let m = 0; m < dModel; m++) wOutC[i * dModel + m] = wOut[i * dModel + m]! - mean;
    }
    const wUF = new Float64Array(dModel * dVocab);
    for (let m = 0; m < dModel; m++) for (let t = 0; t < dVocab; t++) wUF[m * dVocab + t] = lnW[m]! * wU[m * dVocab + t]!;
    for (let t = 0; t < dVocab; t++) {
      let mean = 0;
      for (let m = 0; m < dModel; m++) mean += wUF[m * dVocab + t]! / dModel;
      for (let m = 0; m < dModel; m++) wUF[m * dVocab + t]! -= mean;
    }
    for (let m = 0; m < dModel; m++) {
      let mean = 0;
      for (let t = 0; t < dVocab; t++) mean += wUF[m * dVocab + t]! / dVocab;
      for (let t = 0; t < dVocab; t++) wUF[m * dVocab + t]! -= mean;
    }
    const want = naiveLogits(dec, dSae, dMlp, wOutC, dModel, Float32Array.from(wUF), dVocab, null);
    const dirs = outputDirections(model, s);
    const got = logitWeights(dirs, dSae, dModel, wU, dVocab, lnW, { centre: true });
    expectClose(got, want, 1e-5, 1e-5);
    // Each feature's centred logit weights have mean 0 over the vocabulary.
    const centred = logitWeightSummaries(dirs, dSae, dModel, wU, dVocab, lnW, { top: 3, centre: true });
    for (const c of centred) expect(Math.abs(c.mean)).toBeLessThan(1e-6);
  });

  it("gives neurons their W_out row as direction", () => {
    const dirs = outputDirections(model, null);
    expect(dirs).toEqual(wOut);
    expect(dirs).not.toBe(wOut);
    const eye = new Float32Array(dMlp * dMlp);
    for (let i = 0; i < dMlp; i++) eye[i * dMlp + i] = 1;
    const asFeatures = outputDirections(model, sae(dMlp, dMlp, eye));
    expectClose(asFeatures, dirs, 0);
  });
});

describe("logitWeightSummaries", () => {
  it("logitWeightTable gives the same summaries and hands each chunk's logit weights (centred) to onChunk", () => {
    const rng = new Rng(11);
    const [count, dModel, dVocab] = [11, 8, 203];
    const dirs = randomFloat32(count * dModel, rng);
    const wU = randomFloat32(dModel * dVocab, rng);
    const lnW = randomFloat32(dModel, rng, 0.5, 2);
    for (const centre of [false, true]) {
      const full = logitWeights(dirs, count, dModel, wU, dVocab, lnW, { centre });
      const seen = new Float32Array(count * dVocab).fill(Number.NaN);
      const starts: number[] = [];
      const table = logitWeightTable(dirs, count, dModel, wU, dVocab, lnW, {
        centre, chunk: 4, top: 5, bins: 9, onChunk: (first, n, rows) => {
          starts.push(first);
          seen.set(rows.subarray(0, n * dVocab), first * dVocab);
        },
      });
      expect(starts).toEqual([0, 4, 8]);
      expect(seen).toEqual(full);
      const summaries = logitWeightSummaries(dirs, count, dModel, wU, dVocab, lnW, { centre, chunk: 4, top: 5, bins: 9 });
      expect(Array.from({ length: count }, (_, f) => table.at(f))).toEqual(summaries);
      expect(() => table.at(count)).toThrow(/direction 11 is not in 0..10/);
    }
  });

  it("equals the summaries of the full matrix, whatever the chunk size", () => {
    const rng = new Rng(3);
    const [count, dModel, dVocab] = [13, 4, 97];
    const dirs = randomInts(count * dModel, rng, -2, 2);
    const wU = randomInts(dModel * dVocab, rng, -3, 3); // small integers: exact sums and plenty of ties
    const lnW = randomInts(dModel, rng, 1, 2);
    const full = logitWeights(dirs, count, dModel, wU, dVocab, lnW);
    const want = Array.from({ length: count }, (_, f) => naiveSummary(full.subarray(f * dVocab, (f + 1) * dVocab), 10, 50));
    for (const chunk of [1, 4, 13, 256]) {
      const got = logitWeightSummaries(dirs, count, dModel, wU, dVocab, lnW, { chunk });
      expect(got).toHaveLength(count);
      got.forEach((g, f) => {
        expect(g.top).toEqual(want[f]!.top);
        expect(g.bottom).toEqual(want[f]!.bottom);
        expect(g.histogram).toEqual(want[f]!.histogram);
        expect(g.mean).toBeCloseTo(want[f]!.mean, 12);
        expect(g.std).toBeCloseTo(want[f]!.std, 12);
        expect(g.histogram.counts.reduce((a, b) => a + b, 0)).toBe(dVocab);
      });
    }
  });

  it("matches the float summaries of random weights (top, bottom, histogram, mean, std)", () => {
    const rng = new Rng(5);
    const [count, dModel, dVocab] = [6, 8, 301];
    const dirs = randomFloat32(count * dModel, rng);
    const wU = randomFloat32(dModel * dVocab, rng);
    const lnW = randomFloat32(dModel, rng, 0.5, 2);
    const full = logitWeights(dirs, count, dModel, wU, dVocab, lnW);
    const got = logitWeightSummaries(dirs, count, dModel, wU, dVocab, lnW, { top: 7, bins: 17, chunk: 4 });
    got.forEach((g, f) => {
      const want = naiveSummary(full.subarray(f * dVocab, (f + 1) * dVocab), 7, 17);
      expect(g.top.map((x) => x.token)).toEqual(want.top.map((x) => x.token));
      expect(g.bottom.map((x) => x.token)).toEqual(want.bottom.map((x) => x.token));
      expectClose(g.top.map((x) => x.weight), want.top.map((x) => x.weight), 1e-6, 1e-6);
      expect(g.histogram.counts.reduce((a, b) => a + b, 0)).toBe(dVocab);
      expect(g.histogram.edges).toHaveLength(18);
      expect(g.histogram.edges[0]).toBe(g.bottom[0]!.weight);
      expect(g.histogram.edges[17]).toBe(g.top[0]!.weight);
      expect(g.mean).toBeCloseTo(want.mean, 6);
      expect(g.std).toBeCloseTo(want.std, 6);
    });
  });

  it("orders top and bottom tokens with ties to the smaller token id", () => {
    // d_model 1, direction [1]: the logit weights are W_U's row itself.
    const row = Float32Array.from([3, 1, 3, -2, 1, -2, 0, 3]);
    const [g] = logitWeightSummaries(Float32Array.of(1), 1, 1, row, row.length, null, { top: 4, bins: 5 });
    expect(g!.top).toEqual([{ token: 0, weight: 3 }, { token: 2, weight: 3 }, { token: 7, weight: 3 }, { token: 1, weight: 1 }]);
    expect(g!.bottom).toEqual([{ token: 3, weight: -2 }, { token: 5, weight: -2 }, { token: 6, weight: 0 }, { token: 1, weight: 1 }]);
    // Bins of [−2, 3], width 1: [−2,−1) [−1,0) [0,1) [1,2) [2,3]; lower-closed, the last holds the max.
    expect(g!.histogram).toEqual({ edges: [-2, -1, 0, 1, 2, 3], counts: [2, 0, 1, 2, 3] });
    expect(g!.mean).toBe(7 / 8);
    // top larger than the vocabulary: all tokens, in order.
    const [all] = logitWeightSummaries(Float32Array.of(-1), 1, 1, row, row.length, null, { top: 100 });
    expect(all!.top.map((x) => x.token)).toEqual([3, 5, 6, 1, 4, 0, 2, 7]);
    expect(all!.bottom.map((x) => x.token)).toEqual([0, 2, 7, 1, 4, 6, 3, 5]);
    const [none] = logitWeightSummaries(Float32Array.of(1), 1, 1, row, row.length, null, { top: 0 });
    expect(none!.top).toEqual([]);
  });

  it("puts a constant row in the last bin", () => {
    const wU = new Float32Array(2 * 9).fill(2);
    wU.set(randomFloat32(9, new Rng(1)), 9);
    const [g] = logitWeightSummaries(Float32Array.of(1, 0), 1, 2, wU, 9, null, { bins: 3 });
    expect(g!.histogram).toEqual({ edges: [2, 2, 2, 2], counts: [0, 0, 9] });
    expect(g!.std).toBe(0);
  });

  it("names the argument in its errors", () => {
    const dirs = new Float32Array(8);
    const wU = new Float32Array(4 * 5);
    expect(() => logitWeights(dirs, 3, 4, wU, 5, null)).toThrow(/directions has 8 elements, expected 12/);
    expect(() => logitWeights(dirs, 2, 4, new Float32Array(19), 5, null)).toThrow(/wU has 19 elements, expected 20 \(unembed\.W_U/);
    expect(() => logitWeights(dirs, 2, 4, wU, 5, new Float32Array(3))).toThrow(/lnFinalW has 3 elements, expected 4/);
    expect(() => logitWeights(dirs, 2, 0, wU, 5, null)).toThrow(/dModel must be an integer/);
    expect(() => logitWeights(dirs, -1, 4, wU, 5, null)).toThrow(/count must be an integer/);
    expect(() => logitWeightSummaries(dirs, 2, 4, wU, 5, null, { bins: 0 })).toThrow(/bins must be an integer/);
    expect(() => logitWeightSummaries(dirs, 2, 4, wU, 5, null, { chunk: 1.5 })).toThrow(/chunk must be an integer/);
    expect(() => logitWeightSummaries(dirs, 2, 4, wU, 5, null, { top: -1 })).toThrow(/top must be an integer/);
    expect(() => logitWeightSummaries(dirs, 2, 4, wU, 5, Float32Array.of(1, 1, NaN, 1))).toThrow(/direction 0 has a non-finite logit weight/);
    expect(() => outputDirections(mlpOnly(new Float32Array(12), 4, 3), sae(3, 2, new Float32Array(6)))).toThrow(/the SAE reads 3 values per token but the last MLP has 4 neurons/);
    expect(() => outputDirections(mlpOnly(new Float32Array(11), 4, 3), sae(4, 2, new Float32Array(8)))).toThrow(/W_out has 11 values, expected 12/);
    expect(() => outputDirections(mlpOnly(new Float32Array(11), 4, 3), null)).toThrow(/W_out has 11 values, expected 12/);
  });
});
