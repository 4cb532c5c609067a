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
    // 16,384 rows: the largest table the page must page through (speed is a bench figure, not a timed test).
    const t = featureTable(src, { sort: "score", limit: 100, offset: 0 });
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

  it("refuses a domain filter on a store without code shares, bad domains, sorts, limits and bins by name", () => {
    expect(() => featureTable(src, { domain: "code" })).toThrow(/no per-unit code share.*re-run `saekit analyze`/);
    expect(featureTable(src, { domain: "any" }).total).toBe(16384);
    expect(featureTable(src, { limit: 1 }).codeShareAvailable).toBe(false);
    expect(featureTable(src, { limit: 1 }).rows[0]!.codeShare).toBeNull();
    expect(() => featureTable(src, { domain: "python" as never })).toThrow(/domain "python" is not one of code, prose, any/);
    expect(() => featureTable(src, { minCodeShare: 1.5 })).toThrow(/minCodeShare must be a share in \[0, 1\]/);
    expect(() => featureTable(src, { sort: "nope" as never })).toThrow(FeatureTableError);
    expect(() => featureTable(src, { limit: 0 })).toThrow(/limit/);
    expect(() => featureTable(src, { bin: 28 })).toThrow(/bin must be below 28/);
    expect(() => featureTable(src, { densityMin: 2 })).toThrow(/densityMin/);
  });
});

describe("featureTable domain filter", () => {
  // Six units: codeShare 0.9, 0.5, 0.1, NaN (dead), 0.7, 0.3.
  const src = source(6);
  src.columns.codeShare = Float32Array.of(0.9, 0.5, 0.1, Number.NaN, 0.7, 0.3);
  const ids = (t: ReturnType<typeof featureTable>) => t.rows.map((r) => r.index);

  it("keeps code units (share ≥ 0.5), prose units (< 0.5), or all; dead units only under any", () => {
    expect(ids(featureTable(src, { domain: "code" }))).toEqual([0, 1, 4]);
    expect(ids(featureTable(src, { domain: "prose" }))).toEqual([2, 5]);
    expect(ids(featureTable(src, { domain: "any" }))).toEqual([0, 1, 2, 3, 4, 5]);
    expect(ids(featureTable(src, { minCodeShare: 0.6 }))).toEqual([0, 4]);
    expect(ids(featureTable(src, { domain: "prose", maxCodeShare: 0.2 }))).toEqual([2]);
    const t = featureTable(src, { domain: "code", minCodeShare: 0.8 });
    expect(ids(t)).toEqual([0]);
    expect(t.filters).toMatchObject({ domain: "code", minCodeShare: 0.8, maxCodeShare: null });
    expect(t.codeShareAvailable).toBe(true);
    expect(t.rows[0]!.codeShare).toBeCloseTo(0.9, 6);
  });

  it("sorts by code share, the dead unit last", () => {
    expect(ids(featureTable(src, { sort: "codeShare" }))).toEqual([0, 4, 1, 5, 2, 3]);
    expect(ids(featureTable(src, { sort: "codeShare", desc: false }))).toEqual([2, 5, 1, 4, 0, 3]);
  });
});
