import { describe, expect, it } from "vitest";
import { densitySummary, formatDensityBands, formatThreshold, parseThresholdList } from "../../src/sae/density.js";
import { formatDensityHistogram, log10Histogram } from "../../src/sae/eval.js";
import { FeatureDensityTracker, lowDensityCheckSteps } from "../../src/sae/resample.js";

describe("ultra-low-density bands", () => {
  // 10 features: 2 dead, 3 in [1e-5, 1e-4), 1 below 1e-5, 4 at or above 1e-4 (1e-4 itself is not "below").
  const density = Float32Array.from([0, 0, 5e-6, 2e-5, 5e-5, 9.9e-5, 1e-4, 1e-3, 0.02, 0.3]);

  it("counts features below each threshold, dead ones included, and the median", () => {
    const s = densitySummary(density, [1e-4, 1e-5], 1_048_576);
    expect(s.features).toBe(10);
    expect(s.dead).toBe(2);
    expect(s.tokens).toBe(1_048_576);
    expect(s.below.map((b) => b.count)).toEqual([6, 3]);
    expect(s.below.map((b) => b.share)).toEqual([0.6, 0.3]);
    expect(s.median).toBeCloseTo((5e-5 + 9.9e-5) / 2, 9); // the mean of the 5th and 6th of 10
    expect(formatDensityBands(s)).toBe("< 1e-4 6 (60.0%), < 1e-5 3 (30.0%)");
  });

  it("parses and checks threshold lists, naming the flag", () => {
    expect(parseThresholdList("1e-4, 3e-6", "--low-density")).toEqual([1e-4, 3e-6]);
    expect(() => parseThresholdList("1e-4,abc", "--low-density")).toThrow(/--low-density "1e-4,abc".*not a density/);
    expect(() => parseThresholdList("2", "--low-density")).toThrow(/2 is not a density in \(0, 1\]/);
    expect(formatThreshold(1e-5)).toBe("1e-5");
    expect(formatThreshold(3e-4)).toBe("3e-4");
  });

  it("the text histogram marks the bins below the thresholds", () => {
    const lines = formatDensityHistogram(log10Histogram(density), [1e-4, 1e-5]);
    expect(lines[0]).toMatch(/░ = below 1e-4 \/ 1e-5/);
    const bin = (lo: string) => lines.find((l) => l.trimStart().startsWith(lo))!;
    expect(bin("-5.50")).toMatch(/░+\s+1  < 1e-5$/);
    expect(bin("-4.75")).toMatch(/░+\s+1  < 1e-4$/);
    expect(bin("-4.00")).toMatch(/█+\s+1$/); // 1e-4 is at the cluster's edge, not in it
    expect(bin("-1.75")).not.toMatch(/░/);
  });
});

describe("feature density tracker", () => {
  const codes = (rows: number[][]) => {
    const k = Math.max(...rows.map((r) => r.length));
    const indices = new Int32Array(rows.length * k).fill(-1);
    rows.forEach((r, i) => r.forEach((f, j) => (indices[i * k + j] = f)));
    return { rows: rows.length, k, indices, values: new Float32Array(indices.length) };
  };

  it("counts firings over the window and a bias-corrected moving average; dense steps only mark the window", () => {
    const t = new FeatureDensityTracker(3, 4, 8);
    t.observe(codes([[0], [0, 1], [0], []]), new Uint8Array(3));
    expect(Array.from(t.windowCounts)).toEqual([3, 1, 0]);
    // Bias-corrected after one step: exactly that batch's densities.
    expect(Array.from(t.densities())).toEqual([0.75, 0.25, 0]);
    const mask = new Uint8Array(3);
    expect(t.belowMask(0.3, mask)).toBe(2);
    expect(Array.from(mask)).toEqual([0, 1, 1]);
    // Window: 0.3 × 4 tokens = 1.2 firings; features 1 (1 firing) and 2 (none) are below.
    mask.fill(0);
    expect(t.windowBelowMask(0.3, 4, mask)).toBe(2);
    expect(Array.from(mask)).toEqual([0, 1, 1]);
    t.observe(null, Uint8Array.from([1, 1, 0]));
    expect(t.windowDenseSteps).toBe(1);
    expect(t.emaSteps).toBe(1);
    const restored = new FeatureDensityTracker(3, 4, 8, t.state());
    expect(Array.from(restored.windowCounts)).toEqual([4, 2, 0]);
    restored.resetWindow();
    expect(restored.windowDenseSteps).toBe(0);
    expect(Array.from(restored.windowCounts)).toEqual([0, 0, 0]);
  });

  it("a fresh tracker flags nothing for AuxK before its first sparse step", () => {
    const t = new FeatureDensityTracker(2, 4, 8);
    expect(t.belowMask(1e-4, new Uint8Array(2))).toBe(0);
  });

  it("schedules low-density checks every interval up to the last allowed step", () => {
    expect(lowDensityCheckSteps({ threshold: 1e-4, everySteps: 25, windowSteps: 25, untilStep: 80 })).toEqual([25, 50, 75]);
  });
});
