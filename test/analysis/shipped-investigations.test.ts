/**
 * The shipped investigations (models/A/investigation, models/A/{0,1,2}/investigation, and B's) open with this version
 * of the store and hold what `saekit demo` promises: if the store format changes, this fails until
 * `scripts/train-shipped.sh investigations` is rerun.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { familySidesOf } from "../../src/analysis/family-view.js";
import { readAtlas } from "../../src/analysis/atlas-store.js";
import { openWorkspace, shippedModelsRoot, type Workspace } from "../../src/analysis/workspace.js";
import { mostInterpretableFeatureWithTopToken } from "../helpers/shipped-features.js";

let ws: Workspace;
beforeAll(() => {
  ws = openWorkspace(shippedModelsRoot());
});
afterAll(() => ws?.close());

const SIZES: Record<string, number> = { "A/0": 512, "A/1": 4096, "A/2": 16384, "B/1": 4096, "A/neuron": 512, "B/neuron": 512 };

describe("shipped investigations", () => {
  it("cover runs A/0, A/1, A/2 and B/1 and both models' neurons over 1M evaluation tokens", () => {
    expect(ws.problems).toEqual([]);
    const runs = ws.runs();
    expect(runs.map((r) => r.name).sort()).toEqual(Object.keys(SIZES).sort());
    for (const r of runs) {
      expect(r.tokens).toBeGreaterThanOrEqual(1_000_000);
      expect(r.units, r.name).toBe(SIZES[r.name]);
    }
    const a1 = ws.runInfoOf("A/1");
    expect(a1.promptable).toBe(true);
    expect(a1.compare[0]!.name).toBe("B/1");
    expect(ws.runInfoOf("B/1").compare[0]!.name).toBe("A/1");
  });

  it("link A/0 ↔ A/1 ↔ A/2 as families, and A/1 holds the atlas of all three", () => {
    const sides = (run: string) => (familySidesOf(ws.store(run)) ?? []).map((s) => `${s.side} ${s.run} ${s.units}`).sort();
    expect(sides("A/1")).toEqual(["larger A/2 16384", "smaller A/0 512"]);
    expect(sides("A/0")).toEqual(["larger A/1 4096"]);
    expect(sides("A/2")).toEqual(["smaller A/1 4096"]);
    const atlas = readAtlas(ws.store("A/1").dir)!;
    expect(atlas.runs.map((r) => [r.name, r.units])).toEqual(expect.arrayContaining([["A/0", 512], ["A/1", 4096], ["A/2", 16384]]));
    expect(atlas.coords.length).toBe(2 * (512 + 4096 + 16384));
  });

  it("A/1's most interpretable ' United' feature is specific, sensitive, not a neuron, and universal", () => {
    const u = ws.unit(mostInterpretableFeatureWithTopToken(ws, "A/1", " United").name);
    expect(u.label).toBe('" United"');
    // Retrained A/1 (100 M activations): 85 % of its activation mass is on " United", 99 % of " United" tokens fire it.
    expect(u.proxy!.specificity).toBeGreaterThan(0.8);
    expect(u.proxy!.sensitivity).toBeGreaterThan(0.95);
    expect(u.neurons!.correlated[0]!.r).toBeLessThan(0.5);
    expect(u.matches["B/1"]!.r).toBeGreaterThan(0.9);
    expect(u.logits.top.map((t) => t.text)).toContain(" States");
    const e = u.top[0]!;
    expect(e.tokens[e.position - e.start]!.text).toBe(" United");
  });
});
