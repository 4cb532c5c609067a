import { describe, it, expect } from "vitest";
import { Rng } from "../../src/core/rng.js";

function draws(rng: Rng, n: number): number[] {
  return Array.from({ length: n }, () => rng.uniform());
}

function meanAndVariance(xs: ArrayLike<number>): { mean: number; variance: number } {
  let sum = 0;
  for (let i = 0; i < xs.length; i++) sum += xs[i]!;
  const mean = sum / xs.length;
  let sq = 0;
  for (let i = 0; i < xs.length; i++) sq += (xs[i]! - mean) ** 2;
  return { mean, variance: sq / xs.length };
}

describe("Rng", () => {
  it("implements xoshiro128** (reference outputs for the state [1, 2, 3, 4])", () => {
    const rng = Rng.fromState({ algorithm: "xoshiro128**", s: [1, 2, 3, 4], spare: null });
    const outputs = Array.from({ length: 6 }, () => rng.uint32());
    expect(outputs).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  });

  it("gives the same sequence for the same seed and different ones for different seeds", () => {
    expect(draws(new Rng(42), 20)).toEqual(draws(new Rng(42), 20));
    const a = draws(new Rng(42), 20);
    for (const other of [0, 1, 43, -42, 2 ** 40 + 42, Number.MAX_SAFE_INTEGER]) {
      const b = draws(new Rng(other), 20);
      expect(b.filter((v, i) => v === a[i]).length).toBe(0);
    }
  });

  it("pins the seeding and output functions (golden values, also reproduced by an independent Python model)", () => {
    const rng = new Rng(1234);
    expect([rng.uint32(), rng.uint32(), rng.uint32(), rng.uint32()]).toEqual(
      [1982081445, 1154856076, 2791227453, 3812546458],
    );
    expect(rng.uniform()).toBe(0.009398645905139058);
    expect(rng.normal()).toBeCloseTo(-1.0230296831184578, 14);
    expect(rng.int(1000)).toBe(682);
  });

  it("rejects seeds that are not safe integers", () => {
    expect(() => new Rng(1.5)).toThrow(RangeError);
    expect(() => new Rng(NaN)).toThrow(RangeError);
    expect(() => new Rng(2 ** 60)).toThrow(RangeError);
  });

  it("forks reproducible streams that differ from each other and from the parent", () => {
    const parent = new Rng(7);
    const before = parent.state();
    const s1 = draws(parent.fork(1), 50);
    const s2 = draws(parent.fork(2), 50);
    expect(parent.state()).toEqual(before); // forking does not advance the parent
    expect(draws(new Rng(7).fork(1), 50)).toEqual(s1);
    const fromParent = draws(new Rng(7), 50);
    for (const [x, y] of [[s1, s2], [s1, fromParent], [s2, fromParent]] as const) {
      expect(x.filter((v, i) => v === y[i]).length).toBe(0);
    }
    // A fork taken after the parent advanced is a different stream.
    const advanced = new Rng(7);
    advanced.uniform();
    expect(draws(advanced.fork(1), 50)).not.toEqual(s1);
  });

  it("resumes exactly from a JSON round-trip of its state, including a cached normal", () => {
    const rng = new Rng(99);
    draws(rng, 10);
    rng.normal(); // leaves the second Box–Muller sample cached
    const saved = JSON.parse(JSON.stringify(rng.state()));
    const resumed = Rng.fromState(saved);
    const expected = [rng.normal(), rng.normal(), rng.uniform(), rng.int(1000)];
    expect([resumed.normal(), resumed.normal(), resumed.uniform(), resumed.int(1000)]).toEqual(expected);
  });

  it("rejects malformed states", () => {
    expect(() => Rng.fromState({ algorithm: "xoshiro128**", s: [0, 0, 0, 0], spare: null })).toThrow(RangeError);
    expect(() => Rng.fromState({ algorithm: "xoshiro128**", s: [1, 2, 3, -4], spare: null })).toThrow(RangeError);
    expect(() => Rng.fromState({ algorithm: "pcg" as "xoshiro128**", s: [1, 2, 3, 4], spare: null })).toThrow(
      RangeError,
    );
  });

  it("uniform lies in [0, 1) with mean ≈ 1/2 and variance ≈ 1/12", () => {
    const xs = new Float64Array(100_000);
    new Rng(1).fillUniform(xs, 0, 1);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    const { mean, variance } = meanAndVariance(xs);
    // Standard error of the mean is 0.29/√1e5 ≈ 0.0009.
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.005);
    expect(Math.abs(variance - 1 / 12)).toBeLessThan(0.002);
  });

  it("fillUniform scales to [lo, hi)", () => {
    const xs = new Float32Array(1000);
    new Rng(2).fillUniform(xs, -3, -1);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(-3);
    expect(Math.max(...xs)).toBeLessThanOrEqual(-1);
  });

  it("normal has mean ≈ 0, variance ≈ 1 and Gaussian tails", () => {
    const xs = new Float64Array(100_000);
    new Rng(3).fillNormal(xs, 0, 1);
    const { mean, variance } = meanAndVariance(xs);
    expect(Math.abs(mean)).toBeLessThan(0.015); // SE ≈ 0.003
    expect(Math.abs(variance - 1)).toBeLessThan(0.02); // SE ≈ 0.0045
    const beyond2 = xs.filter((v) => Math.abs(v) > 2).length / xs.length;
    expect(Math.abs(beyond2 - 0.0455)).toBeLessThan(0.004); // P(|Z| > 2) = 0.0455
    const shifted = new Float32Array(20_000);
    new Rng(4).fillNormal(shifted, 5, 0.5);
    const s = meanAndVariance(shifted);
    expect(Math.abs(s.mean - 5)).toBeLessThan(0.02);
    expect(Math.abs(s.variance - 0.25)).toBeLessThan(0.01);
  });

  it("int(n) stays in [0, n) and is roughly uniform", () => {
    const rng = new Rng(5);
    const n = 10;
    const counts = new Array(n).fill(0);
    const samples = 100_000;
    let outOfRange = 0;
    for (let i = 0; i < samples; i++) {
      const v = rng.int(n);
      if (!(Number.isInteger(v) && v >= 0 && v < n)) outOfRange++;
      else counts[v]++;
    }
    expect(outOfRange).toBe(0);
    // Chi-square with 9 degrees of freedom: 99.9th percentile is 27.9.
    const expected = samples / n;
    const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(27.9);
    expect(rng.int(1)).toBe(0);
    const big = 2 ** 40 + 3;
    for (let i = 0; i < 100; i++) {
      const v = rng.int(big);
      expect(Number.isInteger(v) && v >= 0 && v < big).toBe(true);
    }
    expect(() => rng.int(0)).toThrow(RangeError);
    expect(() => rng.int(2.5)).toThrow(RangeError);
  });

  it("permutation returns a permutation, and shuffle permutes in place", () => {
    const rng = new Rng(6);
    for (const n of [0, 1, 7, 1000]) {
      const perm = rng.permutation(n);
      expect(perm).toBeInstanceOf(Int32Array);
      expect(Array.from(perm).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    }
    expect(Array.from(rng.permutation(1000))).not.toEqual(Array.from({ length: 1000 }, (_, i) => i));
    const words = ["a", "b", "c", "d", "e", "f"];
    const shuffled = rng.shuffle([...words]);
    expect([...shuffled].sort()).toEqual(words);
    // Each of the 6 positions of a 3-element shuffle is hit roughly equally.
    const firsts = new Map<number, number>();
    for (let i = 0; i < 6000; i++) {
      const first = rng.shuffle(new Int32Array([0, 1, 2]))[0]!;
      firsts.set(first, (firsts.get(first) ?? 0) + 1);
    }
    for (const v of [0, 1, 2]) expect(Math.abs(firsts.get(v)! - 2000)).toBeLessThan(200);
  });
});
