/** analyze --family end to end on planted splits: the store's links, the workspace's family view, the run figures and `saekit family`. */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openWorkspace, type Workspace } from "../../src/analysis/workspace.js";
import { densitySummary } from "../../src/sae/density.js";
import { captureCliOutput, runCli } from "../helpers/cli.js";
import { buildFamilyFixture, type FamilyFixture } from "./family-fixture.js";

const out = captureCliOutput();
let fx: FamilyFixture;
let ws: Workspace;

beforeAll(async () => {
  fx = await buildFamilyFixture();
  ws = openWorkspace(fx.root);
}, 120_000);
afterAll(() => {
  ws?.close();
  fx?.cleanup();
});

function cosine(run1: string, i: number, run2: string, j: number): number {
  const a = fx.saes[run1]!.dec;
  const b = fx.saes[run2]!.dec;
  const d = 32;
  let ab = 0, aa = 0, bb = 0;
  for (let c = 0; c < d; c++) {
    ab += a[i * d + c]! * b[j * d + c]!;
    aa += a[i * d + c]! ** 2;
    bb += b[j * d + c]! ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

/** Pearson r of two features' activations over the evaluation tokens, from dense codes (the test's reference). */
function activationR(run1: string, i: number, run2: string, j: number): number {
  const x = fx.saes[run1]!.encodeDense(fx.actsA, fx.rows);
  const y = fx.saes[run2]!.encodeDense(fx.actsA, fx.rows);
  const n = fx.rows;
  const d1 = fx.saes[run1]!.dSae;
  const d2 = fx.saes[run2]!.dSae;
  let sx = 0, sy = 0;
  for (let t = 0; t < n; t++) {
    sx += x[t * d1 + i]!;
    sy += y[t * d2 + j]!;
  }
  let cxy = 0, cxx = 0, cyy = 0;
  for (let t = 0; t < n; t++) {
    const u = x[t * d1 + i]! - sx / n;
    const v = y[t * d2 + j]! - sy / n;
    cxy += u * v;
    cxx += u * u;
    cyy += v * v;
  }
  return cxy / Math.sqrt(cxx * cyy);
}

describe("analyze --family", () => {
  it("stores family.safetensors (checksummed) and the run figures in the manifest and summary.json", () => {
    const dir = path.join(fx.root, "A", "1", "investigation");
    const m = JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8"));
    expect(m.family).toEqual({ file: "family.safetensors", sides: [{ side: "smaller", run: "A/0", units: 8, k: 3 }, { side: "larger", run: "A/2", units: 32, k: 3 }] });
    expect(m.checksums["family.safetensors"]).toMatch(/^[0-9a-f]{64}$/);
    const summary = JSON.parse(fs.readFileSync(path.join(dir, "summary.json"), "utf8"));
    expect(summary.runFigures.sizes.map((p: { run: string; units: number }) => [p.run, p.units])).toEqual([["A/0", 8], ["A/1", 16], ["A/2", 32]]);
    expect(summary.interpretability.features.live).toBeGreaterThan(0);
    expect(fx.resultA1.family).toEqual([
      { side: "smaller", run: "A/0", units: 8, linked: 16 },
      { side: "larger", run: "A/2", units: 32, linked: 16 },
    ]);
    // A/0 is analysed with --family A/1 A/2: only the next larger run (A/1) is linked.
    const m0 = JSON.parse(fs.readFileSync(path.join(fx.root, "A", "0", "investigation", "manifest.json"), "utf8"));
    expect(m0.family.sides).toEqual([{ side: "larger", run: "A/1", units: 16, k: 3 }]);
  });

  it("finds every planted parent and pair of children, with the decoder cosine and activation r of each", () => {
    for (let j = 0; j < 16; j++) {
      const u = ws.unit(`A/1/${j}`);
      const [smaller, larger] = u.family!.sides;
      expect(smaller!.run).toBe("A/0");
      expect(smaller!.available).toBe(true);
      const parent = smaller!.members[0]!;
      expect(parent).toMatchObject({ relation: "parent", name: `A/0/${j >> 1}`, index: j >> 1 });
      expect(parent.cos).toBeCloseTo(cosine("A/1", j, "A/0", j >> 1), 5);
      expect(parent.r).toBeCloseTo(activationR("A/1", j, "A/0", j >> 1), 4);
      expect(parent.r!).toBeGreaterThan(0.3);
      const a0 = ws.store("A/0");
      expect(parent.density).toBe(a0.columns.density[j >> 1]);
      expect(parent.label).toBe(a0.searchTable[j >> 1]!.label);
      expect(parent.topTokens).toEqual(a0.searchTable[j >> 1]!.topTokens.slice(0, 6));
      const children = larger!.members.filter((m) => m.relation === "child");
      expect(children.map((c) => c.index).sort((x, y) => x - y)).toEqual([2 * j, 2 * j + 1]);
      for (const c of children) {
        expect(c.cos).toBeCloseTo(cosine("A/1", j, "A/2", c.index), 5);
        expect(c.r).toBeCloseTo(activationR("A/1", j, "A/2", c.index), 4);
        expect(c.density).toBe(ws.store("A/2").columns.density[c.index]);
      }
      expect(children[0]!.cos!).toBeGreaterThanOrEqual(children[1]!.cos!);
    }
    // From the larger run's side, the same link is the child's parent.
    const child = ws.unit("A/2/13").family!;
    expect(child.sides.map((s) => s.side)).toEqual(["smaller"]);
    expect(child.sides[0]!.members[0]).toMatchObject({ relation: "parent", name: "A/1/6" });
    expect(child.sides[0]!.members[0]!.cos).toBeCloseTo(cosine("A/2", 13, "A/1", 6), 5);
    // A store without --family has no family (B/1).
    expect(ws.unit("B/1/0").family).toBeUndefined();
  });

  it("measures the universality histograms and the dead / low-density share of every size on the same tokens", () => {
    const f = fx.resultA1.runFigures;
    const u = f.universality[0]!;
    expect(u.against).toBe("B/1");
    const a1 = ws.store("A/1");
    const liveA1 = Array.from(a1.columns.density).filter((d) => d > 0).length;
    expect(u.features.units).toBe(liveA1);
    expect(u.features.counts.reduce((s, c) => s + c, 0) + u.features.nonPositive).toBe(liveA1);
    // Each bin holds exactly the live features whose stored best-match r falls in it.
    for (let b = 0; b < 20; b++) {
      let n = 0;
      a1.columns.matchR.forEach((r, i) => {
        if (a1.columns.density[i]! > 0 && r > 0 && Math.min(19, Math.floor(r * 20)) === b) n++;
      });
      expect(u.features.counts[b]).toBe(n);
    }
    const neurons = ws.store("A/neuron");
    expect(u.neurons!.against).toBe("B/neuron");
    expect(u.neurons!.units).toBe(Array.from(neurons.columns.density).filter((d) => d > 0).length);
    // The family runs' shares, measured on A/1's tokens, equal those of their own stores (same tokens).
    for (const run of ["A/0", "A/2"]) {
      const p = f.sizes.find((s) => s.run === run)!;
      const own = densitySummary(ws.store(run).columns.density, [1e-4, 1e-5]);
      expect(p.measuredBy).toBe("A/1");
      expect(p.dead).toBe(own.dead);
      expect(p.below.map((b) => b.count)).toEqual(own.below.map((b) => b.count));
    }
  });
});

describe("saekit family", () => {
  it("prints the parent and the children, and the same as JSON", async () => {
    await runCli("family", "A/1/5", "--models", fx.root);
    expect(process.exitCode ?? 0).toBe(0);
    const text = out.text();
    expect(text).toMatch(/parent in A\/0 \(8 features, smaller\)/);
    expect(text).toMatch(/parent\s+A\/0\/2\s+0\.\d{3}/);
    expect(text).toMatch(/children in A\/2 \(32 features, larger\)/);
    expect(text).toMatch(/child\s+A\/2\/10 /);
    expect(text).toMatch(/child\s+A\/2\/11 /);
    out.clear();
    await runCli("family", "A/1/5", "--models", fx.root, "--json");
    const json = JSON.parse(out.text());
    expect(json.name).toBe("A/1/5");
    expect(json.family.sides[0].members[0]).toMatchObject({ relation: "parent", name: "A/0/2" });
    expect(json.family.sides[0].members[0].cos).toBeCloseTo(cosine("A/1", 5, "A/0", 2), 5);
    expect(json.family.sides[1].members.filter((m: { relation: string }) => m.relation === "child").map((m: { name: string }) => m.name).sort()).toEqual(["A/2/10", "A/2/11"]);
  });

  it("explains a store without family links and refuses a neuron", async () => {
    await runCli("family", "B/1/3", "--models", fx.root);
    expect(process.exitCode).toBe(1);
    expect(out.text()).toMatch(/B\/1\/3: its investigation has no family links; run saekit analyze --sae <run> --family/);
    out.clear();
    process.exitCode = undefined;
    await runCli("family", "A/neuron/3", "--models", fx.root);
    expect(process.exitCode).toBe(1);
    expect(out.text()).toMatch(/A\/neuron\/3 is a neuron/);
  });
});
