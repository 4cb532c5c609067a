/**
 * The shipped investigations (models/A/investigation, models/A/1/investigation, and B's) open with this version of the store
 * and hold what `saekit demo` promises: if the store format changes, this fails until `scripts/train-shipped.sh
 * investigations` is rerun.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openWorkspace, shippedModelsRoot, type Workspace } from "../../src/analysis/workspace.js";
import { mostInterpretableFeatureWithTopToken } from "../helpers/shipped-features.js";

let ws: Workspace;
beforeAll(() => {
  ws = openWorkspace(shippedModelsRoot());
});
afterAll(() => ws?.close());

describe("shipped investigations", () => {
  it("cover runs A/1 and B/1 and both models' neurons over 1M evaluation tokens", () => {
    expect(ws.problems).toEqual([]);
    const runs = ws.runs();
    expect(runs.map((r) => r.name).sort()).toEqual(["A/1", "A/neuron", "B/1", "B/neuron"]);
    for (const r of runs) {
      expect(r.tokens).toBeGreaterThanOrEqual(1_000_000);
      expect(r.units).toBe(r.kind === "feature" ? 4096 : 512);
    }
    const a1 = ws.runInfoOf("A/1");
    expect(a1.promptable).toBe(true);
    expect(a1.compare[0]!.name).toBe("B/1");
    expect(ws.runInfoOf("B/1").compare[0]!.name).toBe("A/1");
  });

  it("A/1's most interpretable ' United' feature is specific, sensitive, not a neuron, and universal", () => {
    const u = ws.unit(mostInterpretableFeatureWithTopToken(ws, "A/1", " United").name);
    expect(u.label).toBe('" United"');
    expect(u.proxy!.specificity).toBeGreaterThan(0.95);
    expect(u.proxy!.sensitivity).toBeGreaterThan(0.95);
    expect(u.neurons!.correlated[0]!.r).toBeLessThan(0.5);
    expect(u.matches["B/1"]!.r).toBeGreaterThan(0.9);
    expect(u.logits.top.map((t) => t.text)).toContain(" States");
    const e = u.top[0]!;
    expect(e.tokens[e.position - e.start]!.text).toBe(" United");
  });
});
