/** The workspace: runs from manifests, unit names resolved (400 vs 404 errors), search, live prompts and comparisons. */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pearson } from "../../src/analysis/correlation.js";
import { NotFoundError, openWorkspace, UnavailableError, UnitNameError, type Workspace } from "../../src/analysis/workspace.js";
import { parseUnitName } from "../../src/names.js";
import { dashboardService, vocabSample, type DashboardService } from "../../src/vis/service.js";
import { PromptError } from "../../src/analysis/prompt.js";
import { buildFixture, D_SAE, DEAD, DENSE, LIVE, type Fixture } from "../web/fixture.js";

let fx: Fixture;
let ws: Workspace;
let svc: DashboardService;

beforeAll(async () => {
  fx = await buildFixture();
  ws = openWorkspace(fx.root);
  svc = dashboardService(ws);
});
afterAll(() => {
  ws?.close();
  fx?.cleanup();
});

describe("workspace", () => {
  it("lists the runs from the manifests: dead, dense, promptable", () => {
    expect(ws.problems).toEqual([]);
    ws.warm();
    const runs = ws.runs();
    expect(runs.map((r) => r.name)).toEqual(["A/1", "A/neuron", "B/1", "B/neuron"]);
    const a1 = runs[0]!;
    expect(a1).toMatchObject({ model: "A", kind: "feature", units: D_SAE, tokens: fx.tokens.length, hook: "blocks.0.mlp.hook_post", promptable: true });
    expect(a1.dead).toBe(DEAD.length);
    expect(a1.dense).toBe(DENSE.length);
    expect(a1.compare[0]!.name).toBe("B/1");
    expect(a1.densityHistogram.dead).toBe(DEAD.length);
    // The ultra-low-density shares come from the store's density column, dead units included.
    const density = Array.from(ws.store("A/1").columns.density);
    expect(a1.lowDensity!.map((b) => b.threshold)).toEqual([1e-4, 1e-5]);
    expect(a1.lowDensity![0]!.count).toBe(density.filter((d) => d < Math.fround(1e-4)).length);
    expect(a1.lowDensity![1]!.count).toBeGreaterThanOrEqual(DEAD.length);
    expect(a1.lowDensity![0]!.share).toBeCloseTo(a1.lowDensity![0]!.count / D_SAE, 12);
    const neurons = runs[1]!;
    expect(neurons).toMatchObject({ kind: "neuron", units: 32, promptable: false, sae: null });
  });

  it("resolves unit names; malformed names and unknown units are different errors that name the problem", () => {
    const u = ws.unit(`A/1/${LIVE}`);
    expect(u).toMatchObject({ name: `A/1/${LIVE}`, kind: "feature", index: LIVE });
    expect(u.top.length).toBeGreaterThan(0);
    expect(u.top[0]!.tokens.some((t) => t.text.length > 0)).toBe(true);
    expect(u.matches["B/1"]).toBeDefined();
    expect(ws.unit("A/neuron/31").kind).toBe("neuron");
    expect(ws.unit("A/01/5").name).toBe("A/1/5");

    for (const bad of ["", "A/1", "A/1/2/3", "A/x y/5", "A/1/-1", "A/1/1.5", "A/1/abc", "/1/5"]) {
      expect(() => ws.unit(bad), bad).toThrow(UnitNameError);
    }
    expect(() => ws.unit("A/1/abc")).toThrow(/index must be a non-negative integer, got "abc"/);
    expect(() => ws.unit("A/7/1")).toThrow(NotFoundError);
    // Any SAE folder name is a set name (names.ts): A/x is well-formed, just not there.
    expect(() => ws.unit("A/x/5")).toThrow(NotFoundError);
    expect(() => ws.unit("A/7/1")).toThrow(/no run "A\/7".*runs: A\/1, A\/neuron, B\/1, B\/neuron/);
    expect(() => ws.unit("C/neuron/1")).toThrow(NotFoundError);
    expect(() => ws.unit(`A/1/${D_SAE}`)).toThrow(/A\/1 has 64 features \(0–63\); 64 is out of range/);
    expect(() => ws.unit("A/neuron/99999999999999999999")).toThrow(NotFoundError);
    expect(parseUnitName("B/neuron/12")).toEqual({ model: "B", set: "neuron", kind: "neuron", name: "B/neuron", index: 12, unit: "B/neuron/12" });
  });

  it("searches names, labels and tokens across runs or in one run", () => {
    const byName = svc.search(`A/1/${LIVE}`);
    expect(byName.hits[0]).toMatchObject({ run: "A/1", name: `A/1/${LIVE}`, field: "name" });
    const rec = ws.unit(`A/1/${LIVE}`);
    const word = rec.top[0]!.tokens[rec.top[0]!.position - rec.top[0]!.start]!.text.trim();
    const hits = svc.search(word).hits;
    expect(hits.map((h) => h.name)).toContain(`A/1/${LIVE}`);
    // Every run that has hits of its own is represented in the combined list.
    const runsWithHits = ws.runs().map((r) => r.name).filter((r) => svc.search(word, r).hits.length > 0);
    expect(runsWithHits.length).toBeGreaterThan(1);
    expect(new Set(hits.map((h) => h.run))).toEqual(new Set(runsWithHits));
    expect(svc.search(word, "B/1").hits.every((h) => h.run === "B/1")).toBe(true);
    expect(svc.search(word, undefined, 3).hits).toHaveLength(3);
    expect(svc.search("").hits).toEqual([]);
    expect(() => svc.search(word, "Z/1")).toThrow(NotFoundError);
  });

  it("analyses prompts live on an SAE run, with labels from the investigation", () => {
    const p = ws.prompt("A/1", "The state of the union is strong.");
    expect(p.run).toBe("A/1");
    expect(p.tokens.map((t) => t.text).join("")).toBe("The state of the union is strong.");
    expect(p.rankings.maxActivation.length).toBeGreaterThan(0);
    const top = p.rankings.maxActivation[0]!;
    expect(top.label).toBe(ws.unit(top.name).label);
    expect(() => ws.prompt("A/1", "  ")).toThrow(PromptError);
    expect(() => ws.prompt("A/neuron", "hello")).toThrow(UnitNameError);
    expect(() => ws.prompt("A/9", "hello")).toThrow(NotFoundError);
  });

  it("compares two units: activations on shared tokens, logit weights over the vocabulary", () => {
    const rec = ws.unit(`A/1/${LIVE}`);
    const best = rec.neurons!.correlated[0]!;
    const c = svc.compare(rec.name, best.name);
    expect(c.a).toBe(rec.name);
    expect(c.b).toBe(best.name);
    expect(c.activations.tokens).toBe(fx.tokens.length); // the fixture has fewer tokens than a comparison samples
    expect(c.activations.x).toHaveLength(c.activations.tokens);
    // Same tokens as the analysis: the correlation is the record's.
    expect(c.activations.r).toBeCloseTo(best.r, 3);
    // The activations are the feature's: its max is the record's max.
    expect(Math.max(...c.activations.x)).toBeCloseTo(rec.maxActivation, 3);
    expect(c.logits.x.length).toBeLessThanOrEqual(2000);
    expect(Math.max(...c.logits.x)).toBeCloseTo(rec.logits.top[0]!.weight, 3);
    expect(Math.min(...c.logits.x)).toBeCloseTo(rec.logits.bottom[0]!.weight, 3);

    // Across models: the recorded best match in B/1 on the same token positions.
    const m = rec.matches["B/1"]!;
    const cross = svc.compare(rec.name, m.name);
    expect(cross.activations.r).toBeCloseTo(m.r, 3);
    expect(cross.logits.r).toBeCloseTo(m.logitR!, 3);
    const self = svc.compare(rec.name, rec.name);
    expect(self.activations.r).toBeCloseTo(1, 6);
    expect(self.logits.r).toBeCloseTo(1, 6);
    // r is undefined for a unit that never fires: null in the response (correlation.ts' convention).
    expect(svc.compare(`A/1/${DEAD[0]}`, rec.name).activations.r).toBeNull();
    expect(() => svc.compare("A/1/x", rec.name)).toThrow(UnitNameError);
    expect(() => svc.compare(rec.name, "A/neuron/500")).toThrow(NotFoundError);
  });

  it("reports broken investigations without failing, and a missing root clearly", () => {
    const copy = fs.mkdtempSync(path.join(fx.root, "..", "saekit-ws-broken-"));
    try {
      fs.cpSync(path.join(fx.root, "A"), path.join(copy, "A"), { recursive: true });
      fs.rmSync(path.join(copy, "A", "1", "sae_weights.safetensors"));
      fs.writeFileSync(path.join(copy, "A", "investigation", "manifest.json"), JSON.stringify({ format: "saekit-investigation", version: 99 }));
      const w = openWorkspace(copy);
      expect(w.runs().map((r) => r.name)).toEqual(["A/1"]);
      expect(w.runs()[0]!.promptable).toBe(false);
      expect(w.problems.join("\n")).toMatch(/version 99 is not supported/);
      expect(() => w.prompt("A/1", "hello")).toThrow(UnavailableError);
      w.close();
      // A single model folder works as a root too.
      expect(openWorkspace(path.join(fx.root, "B")).runs().map((r) => r.name)).toEqual(["B/1", "B/neuron"]);
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
    expect(() => openWorkspace(path.join(fx.root, "nope"))).toThrow(/does not exist/);
  });

  it("pearson and the vocabulary sample", () => {
    expect(pearson([1, 2, 3], [2, 4, 6])).toBeCloseTo(1, 12);
    expect(pearson([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1, 12);
    expect(pearson([1, 1, 1], [1, 2, 3])).toBeNaN();
    const x = Float32Array.from({ length: 10000 }, (_, i) => Math.sin(i));
    const y = Float32Array.from({ length: 10000 }, (_, i) => Math.cos(i * 0.7));
    const s = vocabSample(x, y, 2000);
    expect(s.length).toBe(2000);
    expect(new Set(s).size).toBe(2000);
    const argmax = (v: Float32Array) => v.indexOf(Math.max(...v));
    const argmin = (v: Float32Array) => v.indexOf(Math.min(...v));
    for (const t of [argmax(x), argmin(x), argmax(y), argmin(y)]) expect(s).toContain(t);
  });
});
