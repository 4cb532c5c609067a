import { describe, expect, it } from "vitest";
import { CorrelationError, DenseColumnCorrelation, neuronAlignment } from "../../src/analysis/correlation.js";
import { FeatureFeatureCorrelation, FeatureNeuronCorrelation } from "../../src/analysis/feature-correlation.js";
import { Rng } from "../../src/core/rng.js";
import { Sae, type SparseCodes } from "../../src/sae/sae.js";

/** Dense [rows, d] codes → SparseCodes with k slots, active features in random slots, padding (−1) elsewhere. */
function toCodes(dense: Float32Array, rows: number, d: number, k: number, rng: Rng): SparseCodes {
  const indices = new Int32Array(rows * k).fill(-1);
  const values = new Float32Array(rows * k);
  for (let r = 0; r < rows; r++) {
    const active: number[] = [];
    for (let f = 0; f < d; f++) if (dense[r * d + f] !== 0) active.push(f);
    expect(active.length).toBeLessThanOrEqual(k);
    const slots = Array.from(rng.permutation(k)).slice(0, active.length);
    active.forEach((f, i) => {
      indices[r * k + slots[i]!] = f;
      values[r * k + slots[i]!] = dense[r * d + f]!;
    });
  }
  return { rows, k, indices, values };
}

/** Sparse random codes: each feature fires with probability p[f] (≥ 0), values in (0, 2]. */
function sparseDense(rows: number, d: number, p: (f: number) => number, rng: Rng): Float32Array {
  const out = new Float32Array(rows * d);
  for (let r = 0; r < rows; r++) for (let f = 0; f < d; f++) if (rng.uniform() < p(f)) out[r * d + f] = 2 * (1 - rng.uniform());
  return out;
}

/** Column c of a dense [rows, d] matrix in float64. */
function column(m: ArrayLike<number>, rows: number, d: number, c: number): Float64Array {
  return Float64Array.from({ length: rows }, (_, r) => m[r * d + c]!);
}

/** Two-pass Pearson r in float64 (NaN for a constant column). */
function naivePearson(x: Float64Array, y: Float64Array): number {
  const n = x.length;
  const mx = x.reduce((s, v) => s + v, 0) / n;
  const my = y.reduce((s, v) => s + v, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i]! - mx) * (y[i]! - my);
    sxx += (x[i]! - mx) ** 2;
    syy += (y[i]! - my) ** 2;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : NaN;
}

function naiveCosine(x: Float64Array, y: Float64Array): number {
  let xy = 0;
  let xx = 0;
  let yy = 0;
  for (let i = 0; i < x.length; i++) {
    xy += x[i]! * y[i]!;
    xx += x[i]! ** 2;
    yy += y[i]! ** 2;
  }
  return xx > 0 && yy > 0 ? xy / Math.sqrt(xx * yy) : NaN;
}

function expectR(actual: number, expected: number, tol: number): void {
  if (Number.isNaN(expected)) expect(actual).toBeNaN();
  else expect(Math.abs(actual - expected)).toBeLessThanOrEqual(tol);
}

/** Rows [first, first + n) of codes. */
function sliceCodes(c: SparseCodes, first: number, n: number): SparseCodes {
  return { rows: n, k: c.k, indices: c.indices.slice(first * c.k, (first + n) * c.k), values: c.values.slice(first * c.k, (first + n) * c.k) };
}

function batches(rows: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let s = 0, n = 1; s < rows; s += n, n = (n % 37) + 5) out.push([s, Math.min(n, rows - s)]);
  return out;
}

describe("FeatureNeuronCorrelation", () => {
  const rng = new Rng(21);
  const [rows, dSae, dMlp, k] = [1500, 12, 9, 12];
  const dense = sparseDense(rows, dSae, (f) => (f === 11 ? 0 : 0.05 + 0.04 * f), rng); // feature 11 never fires
  // Feature 2 = neuron 3 exactly; neuron 4 = 1 − 2·feature 2 (negative twin); neuron 5 constant; neuron 6 has a large
  // offset (mean 100, std 0.3) to exercise the shift; the rest noise correlated with feature 0.
  const neurons = new Float32Array(rows * dMlp);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < dMlp; c++) neurons[r * dMlp + c] = rng.normal() * 0.5 + (c === 0 || c === 7 ? dense[r * dSae]! * (c === 0 ? 1 : -0.5) : 0);
    const f2 = dense[r * dSae + 2]!;
    neurons[r * dMlp + 3] = f2;
    neurons[r * dMlp + 4] = 1 - 2 * f2;
    neurons[r * dMlp + 5] = 0.25;
    neurons[r * dMlp + 6] = 100 + 0.3 * rng.normal() + 0.2 * dense[r * dSae + 1]!;
  }
  const codes = toCodes(dense, rows, dSae, k, rng);

  function run(windowRows: number): ReturnType<FeatureNeuronCorrelation["result"]> {
    const acc = new FeatureNeuronCorrelation(dSae, dMlp, { windowRows });
    for (const [s, n] of batches(rows)) acc.add(sliceCodes(codes, s, n), neurons.slice(s * dMlp, (s + n) * dMlp));
    expect(acc.tokens).toBe(rows);
    return acc.result();
  }

  for (const windowRows of [7, 1024]) {
    it(`matches a naive dense Pearson and cosine on random data (window ${windowRows})`, () => {
      const res = run(windowRows);
      expect(res.tokens).toBe(rows);
      for (let f = 0; f < dSae; f++) {
        const x = column(dense, rows, dSae, f);
        let bestWant = -1;
        let bestR = -Infinity;
        for (let c = 0; c < dMlp; c++) {
          const y = column(neurons, rows, dMlp, c);
          const want = naivePearson(x, y);
          expectR(res.r(f, c), want, 2e-6);
          expectR(res.cosine(f, c), naiveCosine(x, y), 2e-6);
          if (want > bestR) {
            bestR = want;
            bestWant = c;
          }
        }
        expect(res.best[f]).toBe(bestWant);
        if (bestWant >= 0) expect(res.bestR[f]).toBeCloseTo(bestR, 5);
      }
      // Neuron 6 sits at 100 ± 0.3: without the per-neuron shift, N·Σxy − Σx·Σy cancels ~2-3 digits of the float32
      // window sums and the 2e-6 tolerance above fails (checked by disabling the shift: |Δr| ≈ 1e-5).
      expect(res.r(1, 6)).toBeGreaterThan(0.1);
    });
  }

  it("finds r = 1 for a feature equal to a neuron and r = −1 for its negative twin", () => {
    const res = run(64);
    expect(res.r(2, 3)).toBeCloseTo(1, 6);
    expect(res.r(2, 4)).toBeCloseTo(-1, 6);
    expect(res.cosine(2, 3)).toBeCloseTo(1, 6);
    expect(res.best[2]).toBe(3);
    expect(res.bestR[2]).toBeCloseTo(1, 6);
    const top = res.top(2, 3);
    expect(top[0]!.index).toBe(3);
    expect(top[top.length - 1]!.r).toBeGreaterThan(-1); // neuron 4 (r = −1) is last of all, outside the top 3
    expect(res.top(2, dMlp).map((m) => m.index).at(-1)).toBe(4);
    expect(res.top(2, dMlp)).toHaveLength(dMlp - 1); // the constant neuron 5 has no r
  });

  it("gives NaN and best −1 to a feature that never fires, and NaN for a constant neuron", () => {
    const res = run(64);
    expect(res.best[11]).toBe(-1);
    expect(res.bestR[11]).toBeNaN();
    for (let c = 0; c < dMlp; c++) expect(res.r(11, c)).toBeNaN();
    expect(res.cosine(11, 0)).toBeNaN();
    expect(res.top(11)).toEqual([]);
    for (let f = 0; f < 11; f++) expect(res.r(f, 5)).toBeNaN();
    expect(res.cosine(2, 5)).toBeGreaterThan(0); // cosine is uncentred: defined for a constant neuron
  });

  it("an empty accumulator has no correlations; results go stale after add()", () => {
    const acc = new FeatureNeuronCorrelation(2, 3);
    const empty = acc.result();
    expect(Array.from(empty.best)).toEqual([-1, -1]);
    expect(empty.r(0, 0)).toBeNaN();
    acc.add({ rows: 2, k: 1, indices: Int32Array.of(0, -1), values: Float32Array.of(1, 0) }, Float32Array.of(1, 2, 3, 0, 2, 3));
    expect(() => empty.r(0, 0)).toThrow(/stale result/);
    const res = acc.result();
    expect(res.r(0, 0)).toBeCloseTo(1, 12);
    expect(res.r(0, 1)).toBeNaN();
  });

  it("names the argument in its errors and leaves the state untouched", () => {
    expect(() => new FeatureNeuronCorrelation(0, 3)).toThrow(/dSae must be an integer/);
    expect(() => new FeatureNeuronCorrelation(2, 3, { windowRows: 0 })).toThrow(/windowRows must be an integer/);
    const acc = new FeatureNeuronCorrelation(2, 3);
    const ok = { rows: 2, k: 1, indices: Int32Array.of(0, 1), values: Float32Array.of(1, 2) };
    expect(() => acc.add(ok, new Float32Array(5))).toThrow(/neurons has 5 values, expected rows 2 × d_mlp 3 = 6/);
    expect(() => acc.add({ ...ok, indices: Int32Array.of(0, 2) }, new Float32Array(6))).toThrow(/codes: feature index 2 ≥ 2 \(row 1, slot 0\)/);
    expect(() => acc.add({ ...ok, rows: 3 }, new Float32Array(9))).toThrow(/codes holds 2 indices and 2 values, need 3 rows × k 1 = 3/);
    expect(() => acc.add(ok, Float32Array.of(0, 0, 0, 0, NaN, 0))).toThrow(/neurons: non-finite value NaN \(row 1, neuron 1\)/);
    expect(acc.tokens).toBe(0);
    const res = acc.result();
    expect(() => res.r(2, 0)).toThrow(/r: feature must be an integer in \[0, 2\)/);
    expect(() => res.r(0, 3)).toThrow(/r: neuron must be an integer in \[0, 3\)/);
    expect(() => res.top(0, -1)).toThrow(/top: k must be an integer/);
    expect(() => acc.add(ok, new Float32Array(6))).not.toThrow();
  });
});

describe("FeatureFeatureCorrelation", () => {
  it("matches a naive dense Pearson on random code streams (float32 and float64 pair sums)", () => {
    const rng = new Rng(8);
    const [rows, dA, dB] = [2000, 10, 8];
    const denseA = sparseDense(rows, dA, (f) => (f === 9 ? 0 : 0.03 + 0.05 * f), rng);
    const denseB = sparseDense(rows, dB, (f) => 0.04 + 0.05 * f, rng);
    // B3 fires exactly with A4 at half the value plus independent noise firing; B5 = A1 when both would fire.
    for (let r = 0; r < rows; r++) {
      if (denseA[r * dA + 4]! > 0) denseB[r * dB + 3] = denseA[r * dA + 4]! / 2;
      if (denseA[r * dA + 1]! > 0) denseB[r * dB + 5] = denseA[r * dA + 1]!;
    }
    const codesA = toCodes(denseA, rows, dA, dA + 2, rng);
    const codesB = toCodes(denseB, rows, dB, dB, rng);
    for (const pairPrecision of ["float32", "float64"] as const) {
      const acc = new FeatureFeatureCorrelation(dA, dB, { pairPrecision });
      for (const [s, n] of batches(rows)) acc.add(sliceCodes(codesA, s, n), sliceCodes(codesB, s, n));
      const res = acc.result();
      const tol = pairPrecision === "float32" ? 1e-5 : 1e-9;
      for (let a = 0; a < dA; a++) {
        const x = column(denseA, rows, dA, a);
        let best = -1;
        let bestR = -Infinity;
        for (let b = 0; b < dB; b++) {
          const y = column(denseB, rows, dB, b);
          const want = naivePearson(x, y);
          expectR(res.r(a, b), want, tol);
          expectR(res.cosine(a, b), naiveCosine(x, y), tol);
          if (want > bestR) {
            bestR = want;
            best = b;
          }
        }
        expect(res.best[a]).toBe(best);
      }
      expect(res.best[4]).toBe(3);
      expect(res.best[9]).toBe(-1);
      expect(res.bestR[9]).toBeNaN();
      expect(res.liveA).toBe(9);
      expect(res.liveB).toBe(8);
    }
  });

  // Hand-made pair of code streams over 8 tokens (feature: {token: value}):
  //   A0 {0,2,4,6: 1}          B1 {0,2,4,6: 3}       r(A0, B1) = 1
  //   A1 {1: 2, 3: 2, 5: 1}    B2 {1,3,7: 1}         r(A1, B2) ≈ 0.640 (its best)
  //   A2 {0,1,2,3: 1}          B0 {0,1,4: 1}         r(A2, B0) = r(A2, B2) ≈ 0.258, an exact tie: best is B0
  //   A3 {5: 2, 7: 1}                                best r(A3, B2) ≈ −0.046
  //   A4 never fires
  const tokensA: Array<Array<[number, number]>> = [
    [[0, 1], [2, 1]], [[1, 2], [2, 1]], [[0, 1], [2, 1]], [[2, 1], [1, 2]], [[0, 1]], [[1, 1], [3, 2]], [[0, 1]], [[3, 1]],
  ];
  const tokensB: Array<Array<[number, number]>> = [
    [[1, 3], [0, 1]], [[2, 1], [0, 1]], [[1, 3]], [[2, 1]], [[1, 3], [0, 1]], [], [[1, 3]], [[2, 1]],
  ];
  function codesOf(tokens: Array<Array<[number, number]>>, k: number): SparseCodes {
    const indices = new Int32Array(tokens.length * k).fill(-1);
    const values = new Float32Array(tokens.length * k);
    tokens.forEach((slots, r) => slots.forEach(([f, v], j) => {
      indices[r * k + j] = f;
      values[r * k + j] = v;
    }));
    return { rows: tokens.length, k, indices, values };
  }
  const hA = codesOf(tokensA, 3);
  const hB = codesOf(tokensB, 2);
  const naive = (a: number, b: number) => {
    const x = Float64Array.from(tokensA, (slots) => slots.find(([f]) => f === a)?.[1] ?? 0);
    const y = Float64Array.from(tokensB, (slots) => slots.find(([f]) => f === b)?.[1] ?? 0);
    return naivePearson(x, y);
  };

  it("summarises universality: the share of A's live features with a match above 0.5 and 0.7", () => {
    const acc = new FeatureFeatureCorrelation(5, 3);
    acc.add(sliceCodes(hA, 0, 3), sliceCodes(hB, 0, 3));
    acc.add(sliceCodes(hA, 3, 5), sliceCodes(hB, 3, 5));
    const res = acc.result();
    for (let a = 0; a < 5; a++) for (let b = 0; b < 3; b++) expectR(res.r(a, b), naive(a, b), 1e-12);
    expect(res.r(0, 1)).toBeCloseTo(1, 12);
    expect(res.r(1, 2)).toBeCloseTo(0.640257, 6);
    expect(res.r(2, 0)).toBe(res.r(2, 2));
    expect(Array.from(res.best)).toEqual([1, 2, 0, 2, -1]);
    expect(res.bestR[3]).toBeCloseTo(-0.046374, 6);
    expect(res.bestR[4]).toBeNaN();
    expect(res.liveA).toBe(4);
    expect(res.liveB).toBe(3);
    expect(res.universality).toEqual([
      { threshold: 0.5, matched: 2, fraction: 2 / 4 },
      { threshold: 0.7, matched: 1, fraction: 1 / 4 },
    ]);
    const custom = acc.result([0.2, 0.25, 0.3, 0.99, -1]).universality;
    expect(custom.map((u) => u.matched)).toEqual([3, 3, 2, 1, 4]);
    expect(custom.map((u) => u.fraction)).toEqual([3 / 4, 3 / 4, 2 / 4, 1 / 4, 1]);
    expect(res.top(2, 3).map((m) => m.index)).toEqual([0, 2, 1]);
    expect(res.top(2, 3)[0]!.cosine).toBeCloseTo(2 / Math.sqrt(4 * 3), 12);
    const none = new FeatureFeatureCorrelation(2, 2).result().universality;
    expect(none[0]!.fraction).toBeNaN();
  });

  it("excludes a feature's own match with sameDictionary", () => {
    const same = new FeatureFeatureCorrelation(5, 5, { sameDictionary: true });
    same.add(hA, hA);
    const res = same.result();
    for (let a = 0; a < 4; a++) expect(res.best[a]).not.toBe(a);
    expect(res.top(0, 5).map((m) => m.index)).not.toContain(0);
    const plain = new FeatureFeatureCorrelation(5, 5);
    plain.add(hA, hA);
    expect(Array.from(plain.result().best.slice(0, 4))).toEqual([0, 1, 2, 3]);
    expect(plain.result().r(2, 2)).toBeCloseTo(1, 12);
  });

  it("names the argument in its errors", () => {
    expect(() => new FeatureFeatureCorrelation(3, 0)).toThrow(/dB must be an integer/);
    expect(() => new FeatureFeatureCorrelation(3, 4, { sameDictionary: true })).toThrow(/sameDictionary needs dA = dB/);
    expect(() => new FeatureFeatureCorrelation(3, 4, { pairPrecision: "float16" as "float32" })).toThrow(/pairPrecision/);
    const acc = new FeatureFeatureCorrelation(3, 3);
    expect(() => acc.add(hA, hB)).toThrow(/codesA: feature index 3 ≥ 3 \(row 5, slot 1\)/);
    expect(() => new FeatureFeatureCorrelation(5, 2).add(hA, hB)).toThrow(/codesB: feature index 2 ≥ 2 \(row 1, slot 0\)/);
    expect(acc.tokens).toBe(0);
    const acc2 = new FeatureFeatureCorrelation(5, 3);
    expect(() => acc2.add(sliceCodes(hA, 0, 3), sliceCodes(hB, 0, 2))).toThrow(/codesA has 3 rows but codesB has 2/);
    expect(() => acc2.result([1.5])).toThrow(/thresholds must lie in/);
    const res = acc2.result();
    expect(() => res.r(0, 3)).toThrow(/r: feature of B must be an integer in \[0, 3\)/);
    acc2.add(hA, hB);
    expect(() => res.top(0)).toThrow(/stale result/);
    expect(() => acc2.add({ ...hA, values: Float32Array.from(hA.values, (v, i) => (i === 4 ? Infinity : v)) }, hB))
      .toThrow(/codesA: non-finite value Infinity \(row 1, slot 1\)/);
  });
});

describe("neuronAlignment", () => {
  const dec = Float32Array.from([0.5, -2, 1, 0, 0.5, /* feature 1: */ 0, 0, 0, 0, 0]);
  const sae = new Sae(
    { architecture: "standard", dIn: 5, dSae: 2, k: null, applyBDecToInput: true },
    { encT: new Float32Array(10), bEnc: new Float32Array(2), dec, bDec: new Float32Array(5) },
  );

  it("lists the decoder row's largest entries by |value|, with share of L1 and cosine", () => {
    const norm = Math.sqrt(0.25 + 4 + 1 + 0.25);
    expect(neuronAlignment(sae, 0, 3)).toEqual([
      { neuron: 1, value: -2, l1Share: 0.5, cosine: -2 / norm },
      { neuron: 2, value: 1, l1Share: 0.25, cosine: 1 / norm },
      { neuron: 0, value: 0.5, l1Share: 0.125, cosine: 0.5 / norm }, // tie with neuron 4: smaller index first
    ]);
    expect(neuronAlignment(sae, 0).map((x) => x.neuron)).toEqual([1, 2, 0, 4, 3]);
    expect(neuronAlignment(sae, 0, 99)).toHaveLength(5);
    expect(neuronAlignment(sae, 1, 2)).toEqual([
      { neuron: 0, value: 0, l1Share: 0, cosine: 0 },
      { neuron: 1, value: 0, l1Share: 0, cosine: 0 },
    ]);
  });

  it("names the argument in its errors", () => {
    expect(() => neuronAlignment(sae, 2)).toThrow(CorrelationError);
    expect(() => neuronAlignment(sae, 2)).toThrow(/feature must be an integer in \[0, 2\)/);
    expect(() => neuronAlignment(sae, 0, -1)).toThrow(/top must be an integer/);
  });
});

describe("DenseColumnCorrelation", () => {
  it("matches a direct float64 Pearson r for every column pair, in any batching, despite large column offsets", () => {
    const rng = new Rng(31);
    const rows = 300, dA = 5, dB = 4;
    const a = new Float32Array(rows * dA);
    const b = new Float32Array(rows * dB);
    for (let r = 0; r < rows; r++) {
      const z = rng.uniform() * 2 - 1;
      for (let j = 0; j < dA; j++) a[r * dA + j] = 1000 + (j === 0 ? z : rng.uniform());
      for (let j = 0; j < dB; j++) b[r * dB + j] = -50 + (j === 2 ? 0.5 * z + 0.1 * rng.uniform() : rng.uniform());
    }
    const acc = new DenseColumnCorrelation(dA, dB);
    acc.add(a.subarray(0, 100 * dA), b.subarray(0, 100 * dB), 100);
    acc.add(a.subarray(100 * dA), b.subarray(100 * dB), 200);
    const direct = (i: number, j: number) => {
      let sx = 0, sy = 0;
      for (let r = 0; r < rows; r++) (sx += a[r * dA + i]!), (sy += b[r * dB + j]!);
      const mx = sx / rows, my = sy / rows;
      let cxy = 0, cxx = 0, cyy = 0;
      for (let r = 0; r < rows; r++) {
        const x = a[r * dA + i]! - mx, y = b[r * dB + j]! - my;
        cxy += x * y; cxx += x * x; cyy += y * y;
      }
      return cxy / Math.sqrt(cxx * cyy);
    };
    for (let i = 0; i < dA; i++) for (let j = 0; j < dB; j++) expect(acc.r(i, j)).toBeCloseTo(direct(i, j), 4);
    const { best, bestR } = acc.best();
    expect(best[0]).toBe(2);
    expect(bestR[0]).toBeGreaterThan(0.9);
  });
});
