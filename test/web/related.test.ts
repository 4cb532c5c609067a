/**
 * Related units end to end on the fixture workspace (written by analyze): the stored top matches both ways, nearest
 * features by activation r and a neuron's features against dense recomputations from the models and SAEs, the
 * ablation's standard error against its intervals, GET /api/related, and `saekit related --json`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { Tape } from "../../src/core/autograd.js";
import { stratifiedMean } from "../../src/analysis/ablation.js";
import { pearson } from "../../src/analysis/correlation.js";
import { decoderNeighbours, logitOverlap } from "../../src/analysis/related-units.js";
import type { RelatedUnitsView } from "../../src/analysis/related-types.js";
import { openWorkspace, type Workspace } from "../../src/analysis/workspace.js";
import { createServer } from "../../src/web/server.js";
import { captureCliOutput, runCli } from "../helpers/cli.js";
import { buildFixture, D_SAE, DEAD, HOOK, LIVE, SEQ_LEN, type Fixture } from "./fixture.js";

const cli = captureCliOutput();
let fx: Fixture;
let ws: Workspace;
let app: FastifyInstance;
/** Dense activations [tokens, units] of A/1's features, B/1's features and A's neurons on the evaluation tokens. */
let featA: Float32Array;
let featB: Float32Array;
let neuronsA: Float32Array;
let T: number;
let dMlp: number;

const columns = new Map<Float32Array, Float32Array[]>();
/** Column j of x [tokens, width] (cached: the tests read every column many times). */
function column(x: Float32Array, width: number, j: number): Float32Array {
  let cols = columns.get(x);
  if (!cols) {
    cols = Array.from({ length: width }, (_, c) => Float32Array.from({ length: x.length / width }, (_, t) => x[t * width + c]!));
    columns.set(x, cols);
  }
  return cols[j]!;
}

beforeAll(async () => {
  fx = await buildFixture();
  ws = openWorkspace(fx.root);
  app = createServer(ws);
  await app.ready();
  T = fx.tokens.length;
  const dense = (run: string) => {
    const { unit } = ws.liveUnit(`${run}/0`);
    const { cache } = unit.model.forward(Tape.noGrad(), fx.tokens, fx.sequences, SEQ_LEN, { cache: [HOOK], stopAt: HOOK });
    const x = Float32Array.from(cache.get(HOOK)!.data);
    return { x, f: unit.sae!.encodeDense(x, T) };
  };
  const a = dense("A/1");
  featA = a.f;
  neuronsA = a.x;
  dMlp = a.x.length / T;
  featB = dense("B/1").f;
}, 120_000);
afterAll(async () => {
  await app?.close();
  ws?.close();
  fx?.cleanup();
});

describe("stored related units (analyze)", () => {
  it("each feature's top 5 matches in B/1 are the 5 largest r over the tokens, best first, the first being its stored best match", () => {
    let checked = 0;
    for (let f = 0; f < D_SAE; f++) {
      if (DEAD.includes(f)) continue;
      const u = ws.unit(`A/1/${f}`);
      const list = u.related!.matches["B/1"]!;
      const fa = column(featA, D_SAE, f);
      const rs = Array.from({ length: D_SAE }, (_, b) => ({ b, r: pearson(fa, column(featB, D_SAE, b)) })).filter((x) => !Number.isNaN(x.r));
      rs.sort((x, y) => y.r - x.r || x.b - y.b);
      expect(list).toHaveLength(5);
      // Ties aside, the same features in the same order, with r to the store's 4 digits.
      list.forEach((m, i) => expect(m.r).toBeCloseTo(rs[i]!.r, 3));
      expect(list.map((m) => m.index).slice(0, 2)).toEqual(rs.slice(0, 2).map((x) => x.b));
      expect(list[0]!.index).toBe(u.matches["B/1"]!.index);
      checked++;
    }
    expect(checked).toBe(D_SAE - DEAD.length);
  });

  it("each match's best match back is the A/1 feature with the largest r with it; mutual exactly when that is the unit itself", () => {
    const seen = new Map<number, number>();
    let asymmetric = 0;
    for (let f = 0; f < D_SAE; f++) {
      if (DEAD.includes(f)) continue;
      for (const m of ws.unit(`A/1/${f}`).related!.matches["B/1"]!) {
        const fb = column(featB, D_SAE, m.index);
        const back = Array.from({ length: D_SAE }, (_, a) => pearson(column(featA, D_SAE, a), fb));
        let best = -1;
        back.forEach((r, a) => {
          if (!Number.isNaN(r) && (best < 0 || r > back[best]!)) best = a;
        });
        expect(m.reverse!.index).toBe(best);
        expect(m.reverse!.r).toBeCloseTo(back[best]!, 3);
        expect(m.reverse!.name).toBe(`A/1/${best}`);
        if (seen.has(m.index)) expect(seen.get(m.index)).toBe(best);
        seen.set(m.index, best);
        if (m.index === ws.unit(`A/1/${f}`).matches["B/1"]!.index && best !== f) asymmetric++;
      }
    }
    // Matching is not symmetric in this fixture either: some best matches point back elsewhere.
    expect(asymmetric).toBeGreaterThan(0);
  });

  it("nearest features by activation r: the co-firing features of the same SAE with the largest r", () => {
    const u = ws.unit(`A/1/${LIVE}`);
    const near = u.related!.coactivation!;
    const fa = column(featA, D_SAE, LIVE);
    const want: { g: number; r: number }[] = [];
    for (let g = 0; g < D_SAE; g++) {
      if (g === LIVE) continue;
      const fg = column(featA, D_SAE, g);
      let cofire = false;
      for (let t = 0; t < T; t++) if (fa[t]! > 0 && fg[t]! > 0) cofire = true;
      if (cofire) want.push({ g, r: pearson(fa, fg) });
    }
    want.sort((x, y) => y.r - x.r || x.g - y.g);
    expect(near.length).toBe(Math.min(8, want.length));
    expect(near.length).toBeGreaterThan(2);
    near.forEach((n, i) => {
      expect(n.r).toBeCloseTo(want[i]!.r, 3);
      expect(n.name).toBe(`A/1/${n.index}`);
    });
    expect(near[0]!.index).toBe(want[0]!.g);
  });

  it("a neuron's features: the A/1 features with the largest r with it", () => {
    const n = 3;
    const u = ws.unit(`A/neuron/${n}`);
    const xs = column(neuronsA, dMlp, n);
    const want = Array.from({ length: D_SAE }, (_, f) => ({ f, r: pearson(column(featA, D_SAE, f), xs) })).filter((x) => !Number.isNaN(x.r));
    want.sort((x, y) => y.r - x.r || x.f - y.f);
    const got = u.related!.features!;
    expect(got).toHaveLength(8);
    got.forEach((g, i) => expect(g.r).toBeCloseTo(want[i]!.r, 3));
    expect(got[0]!.name).toBe(`A/1/${want[0]!.f}`);
  });

  it("the ablation's standard error is the stratified SE of the interval samples' −Δlog-prob", () => {
    let checked = 0;
    for (const f of [LIVE, 1, 2, 4]) {
      const u = ws.unit(`A/1/${f}`);
      const strata = u.intervals.map((iv) => ({
        weight: iv.fraction,
        values: iv.examples.map((e) => e.tokens[e.position - e.start]!.logprobDelta).filter((d): d is number => d !== null).map((d) => -d),
      }));
      const want = stratifiedMean(strata);
      expect(u.ablation.sampled).toBe(want.n);
      if (want.se === null) {
        expect(u.ablation.standardError).toBeNull();
        continue;
      }
      // Δlog-probs in example windows are stored as float16 (3 digits): the SE to about 1 %.
      expect(u.ablation.standardError!).toBeGreaterThan(0);
      expect(Math.abs(u.ablation.standardError! - want.se) / want.se).toBeLessThan(0.02);
      expect(ws.columnsOf("A/1").meanLossEffectSE![f]).toBeCloseTo(u.ablation.standardError!, 3);
      expect(ws.columnsOf("A/1").meanLossEffectN![f]).toBe(u.ablation.sampled);
      checked++;
    }
    expect(checked).toBeGreaterThan(1);
  });
});

describe("GET /api/related and saekit related", () => {
  it("serves the stored matches with the logit overlap of each pair and the decoder neighbours from the weights", async () => {
    const res = await app.inject({ method: "GET", url: `/api/related/A/1/${LIVE}` });
    expect(res.statusCode, res.body).toBe(200);
    const v = JSON.parse(res.body) as RelatedUnitsView;
    const u = ws.unit(`A/1/${LIVE}`);
    expect(v.unit).toBe(`A/1/${LIVE}`);
    expect(v.runs.map((r) => [r.run, r.source, r.matches.length])).toEqual([["B/1", "analysis", 5]]);
    const m0 = v.runs[0]!.matches[0]!;
    expect(m0.name).toBe(u.matches["B/1"]!.name);
    expect(m0.logitR).toBeCloseTo(u.matches["B/1"]!.logitR!, 6);
    expect(v.runs[0]!.matches.slice(1).every((m) => m.logitR === null)).toBe(true);
    expect(m0.mutual).toBe(m0.reverse!.index === LIVE);
    for (const m of v.runs[0]!.matches) {
      const b = ws.unit(m.name);
      const o = logitOverlap({ top: u.logits.top.map((t) => t.id), bottom: u.logits.bottom.map((t) => t.id) }, { top: b.logits.top.map((t) => t.id), bottom: b.logits.bottom.map((t) => t.id) });
      expect(m.logitOverlap!.top.shared).toBe(o.top.shared);
      expect(m.logitOverlap!.top.jaccard).toBe(o.top.jaccard);
      expect(m.logitOverlap!.bottom.shared).toBe(o.bottom.shared);
      expect(m.logitOverlap!.top.tokens).toEqual(o.top.tokens.map((id) => u.logits.top.find((t) => t.id === id)!.text));
      expect(m.label).toBe(b.label);
    }
    const { sae } = ws.loader.sae(ws.resolve("A/1/0").set);
    const want = decoderNeighbours(sae.dec, sae.dSae, sae.dIn, LIVE, 8);
    expect(v.decoder!.map((d) => [d.index, d.value])).toEqual(want);
    expect(v.coactivation!.map((c) => c.index)).toEqual(u.related!.coactivation!.map((c) => c.index));
    expect(v.features).toBeNull();
    expect(v.notes).toEqual([]);
  });

  it("a neuron: its features from the analysis, its matches from the compared model's neurons", async () => {
    const res = await app.inject({ method: "GET", url: "/api/related/A/neuron/3" });
    const v = JSON.parse(res.body) as RelatedUnitsView;
    expect(v.featuresSource).toBe("analysis");
    expect(v.features!.map((f) => f.name)).toEqual(ws.unit("A/neuron/3").related!.features!.map((f) => f.name));
    expect(v.decoder).toBeNull();
    expect(v.runs[0]!.run).toBe("B/neuron");
    expect(v.runs[0]!.matches).toHaveLength(5);
  });

  it("names a bad unit (400) and an unknown one (404)", async () => {
    expect((await app.inject({ method: "GET", url: "/api/related/A/1/x" })).statusCode).toBe(400);
    const res = await app.inject({ method: "GET", url: `/api/related/A/1/${D_SAE}` });
    expect(res.statusCode).toBe(404);
    expect(JSON.parse(res.body).error).toMatch(/out of range/);
  });

  it("saekit related --json prints the same view", async () => {
    await runCli("related", `A/1/${LIVE}`, "--models", fx.root, "--json");
    const v = JSON.parse(cli.text()) as RelatedUnitsView;
    expect(v.runs[0]!.matches.map((m) => m.name)).toEqual(ws.unit(`A/1/${LIVE}`).related!.matches["B/1"]!.map((m) => m.name));
    cli.clear();
    await runCli("related", `A/1/${LIVE}`, "--models", fx.root);
    expect(cli.text()).toContain("matches in B/1");
    expect(cli.text()).toContain(`${v.runs[0]!.matches[0]!.name} `);
    expect(cli.text()).toMatch(/nearest features by activation r/);
  });
});
