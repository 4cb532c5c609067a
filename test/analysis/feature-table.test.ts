/** The feature table: filters, sorting (missing values last), paging, histogram bins, refusals; 16,384 rows fast. */
import { describe, expect, it } from "vitest";
import { featureTable, FeatureTableError, log10Bin, type FeatureTableSource } from "../../src/analysis/feature-table.js";
import type { UnitColumns } from "../../src/analysis/unit-record.js";
import { log10Histogram } from "../../src/sae/eval.js";
import { Rng } from "../../src/core/rng.js";

function source(n: number, seed = 1): FeatureTableSource {
  const rng = new Rng(seed);
  const f = () => new Float32Array(n);
  const c: UnitColumns = {
    density: f(), maxActivation: f(), meanActivation: f(), specificity: f(), sensitivity: f(), meanLossEffect: f(),
    bestNeuron: new Int32Array(n), bestNeuronR: f(), match: new Int32Array(n), matchR: f(), matchLogitR: f(),
    interpScore: f(), interpSpec: f(), interpSens: f(),
  };
  for (let i = 0; i < n; i++) {
    c.density[i] = i % 10 === 0 ? 0 : 10 ** (-6 * rng.uniform());
    c.maxActivation[i] = rng.uniform() * 5;
    c.interpScore[i] = c.density[i] === 0 ? Number.NaN : rng.uniform();
    c.bestNeuron[i] = i % 7;
    c.match[i] = i === 3 ? -1 : i + 1;
  }
  return { name: "A/1", kind: "feature", neurons: "A/neuron", compare: "B/1", columns: c, searchTable: [], histogramEdges: log10Histogram(c.density).edges };
}

describe("featureTable", () => {
  const src = source(16384);
  const c = src.columns;

  it("sorts descending with missing values last, ties by index, and pages", () => {
    const t0 = performance.now();
    const t = featureTable(src, { sort: "score", limit: 100, offset: 0 });
    expect(performance.now() - t0).toBeLessThan(200);
    expect(t.total).toBe(16384);
    const scores = Array.from(c.interpScore).map((s, i) => [s, i] as const).filter(([s]) => !Number.isNaN(s)).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    expect(t.rows.map((r) => r.index)).toEqual(scores.slice(0, 100).map(([, i]) => i));
    const last = featureTable(src, { sort: "score", desc: false, limit: 10, offset: 16384 - 10 });
    expect(last.rows.every((r) => r.score === null)).toBe(true);
    expect(last.rows.map((r) => r.index)).toEqual([...last.rows.map((r) => r.index)].sort((a, b) => a - b));
  });

  it("filters by density range and by histogram bin, with names of neurons and matches", () => {
    const t = featureTable(src, { densityMin: 1e-3, densityMax: 1e-2, limit: 1000 });
    const want = Array.from(c.density).filter((d) => d >= 1e-3 && d <= 1e-2).length;
    expect(t.total).toBe(want);
    expect(t.rows.every((r) => r.density >= 1e-3 && r.density <= 1e-2)).toBe(true);
    const hist = log10Histogram(c.density);
    for (const bin of [0, 10, 23]) {
      const b = featureTable(src, { bin, limit: 1000 });
      expect(b.total).toBe(hist.counts[bin]);
      expect(b.rows.every((r) => log10Bin(r.density, hist.edges) === bin)).toBe(true);
    }
    const r = featureTable(src, { offset: 3, limit: 2 }).rows;
    expect(r.map((x) => [x.name, x.neuron, x.match])).toEqual([["A/1/3", "A/neuron/3", null], ["A/1/4", "A/neuron/4", "B/1/5"]]);
  });

  it("refuses a domain filter, bad sorts, limits and bins by name", () => {
    expect(() => featureTable(src, { domain: "code" })).toThrow(/no per-unit domain share/);
    expect(() => featureTable(src, { sort: "nope" as never })).toThrow(FeatureTableError);
    expect(() => featureTable(src, { limit: 0 })).toThrow(/limit/);
    expect(() => featureTable(src, { bin: 28 })).toThrow(/bin must be below 28/);
    expect(() => featureTable(src, { densityMin: 2 })).toThrow(/densityMin/);
  });
});
