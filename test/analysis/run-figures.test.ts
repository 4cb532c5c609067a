import { describe, expect, it } from "vitest";
import { densitiesFromCodes, formatSizePoint, rHistogram, sizePoint, sizeSeries } from "../../src/analysis/run-figures.js";

describe("universality histogram", () => {
  it("bins live units' best r in twentieths of [0, 1], counting r ≤ 0, no match and dead units apart", () => {
    const bestR = [0.02, 0.049, 0.05, 0.51, 0.99, 1, -0.2, Number.NaN, 0.7, 0.3];
    const density = [1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 0, 1e-5];
    const h = rHistogram(bestR, density);
    expect(h.edges).toHaveLength(21);
    expect(h.edges[10]).toBe(0.5);
    expect(h.units).toBe(9);
    expect(h.nonPositive).toBe(2);
    const expected = new Array(20).fill(0);
    expected[0] = 2; // 0.02, 0.049
    expected[1] = 1; // 0.05
    expected[10] = 1; // 0.51
    expected[19] = 2; // 0.99 and r = 1 (the last bin is closed)
    expected[6] = 1; // 0.3 (the dead unit's 0.7 is not counted)
    expect(h.counts).toEqual(expected);
    expect(() => rHistogram([0.1], [1, 1])).toThrow(/1 r values but 2 densities/);
  });
});

describe("dead / ultra-low-density share by dictionary size", () => {
  it("counts dead and below-threshold units of each run, from densities or codes", () => {
    const p = sizePoint("A/1", [0, 0, 5e-6, 5e-5, 1e-4, 2e-3], 1_000_000, "A/1");
    expect(p).toMatchObject({ run: "A/1", units: 6, tokens: 1_000_000, dead: 2, measuredBy: "A/1" });
    expect(p.below).toEqual([
      { threshold: 1e-4, count: 4, share: 4 / 6 },
      { threshold: 1e-5, count: 3, share: 3 / 6 },
    ]);
    // Codes: unit 0 fires on 3 of 10 tokens, unit 2 once, unit 1 never.
    const d = densitiesFromCodes({ indices: Int32Array.from([0, 2, 0, 0, 9]), entries: 4 }, 3, 10);
    expect(Array.from(d)).toEqual([Math.fround(0.3), 0, Math.fround(0.1)]);
    expect(formatSizePoint(p)).toBe("A/1          6 features  dead  33.3%  < 1e-4  66.7%  < 1e-5  50.0%  (1,000,000 tokens, measured by A/1)");
  });

  it("orders runs by size and prefers a run's own measurement over one made by a --family analysis", () => {
    const own = sizePoint("A/2", [0, 1e-3, 1e-3, 1e-3], 1000, "A/2");
    const byFamily = sizePoint("A/2", [0, 0, 0, 0], 5000, "A/1");
    const small = sizePoint("A/0", [1e-3], 5000, "A/1");
    const mid = sizePoint("A/1", [1e-3, 1e-3, 0], 5000, "A/1");
    const s = sizeSeries([byFamily, mid, own, small]);
    expect(s.map((p) => [p.run, p.units, p.measuredBy])).toEqual([["A/0", 1, "A/1"], ["A/1", 3, "A/1"], ["A/2", 4, "A/2"]]);
    // Two family measurements of one run: the one over more tokens.
    const s2 = sizeSeries([sizePoint("A/0", [0], 100, "A/1"), sizePoint("A/0", [1e-3], 900, "A/2")]);
    expect(s2).toHaveLength(1);
    expect(s2[0]!.measuredBy).toBe("A/2");
  });
});
