/** Code share per unit: the accumulator's arithmetic, and the codeShare column analyze writes into a fixture store. */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Tape } from "../../src/core/autograd.js";
import { DomainMass } from "../../src/analysis/domain-share.js";
import { openInvestigation } from "../../src/analysis/store/reader.js";
import { INVESTIGATION_DIR } from "../../src/analysis/store.js";
import { loadModelFolder } from "../../src/model/checkpoint.js";
import { HookedTransformer } from "../../src/model/transformer.js";
import { loadSaeFolder } from "../../src/sae/format.js";
import { buildFixture, D_SAE, DEAD, HOOK, SEQ_LEN, type Fixture } from "../web/fixture.js";

describe("DomainMass", () => {
  it("divides each unit's code mass by its mass in all domains; NaN without mass or without a code domain", () => {
    const m = new DomainMass(3, ["prose", "code"]);
    // unit 0: 1 + 2 on prose, 3 on code → 0.5; unit 1: only code → 1; unit 2: never fires → NaN.
    m.addSparse(0, Int32Array.of(0, 1, 0), Float32Array.of(1, 0, 2), 0, 1);
    m.addSparse(0, Int32Array.of(0, 1, 0), Float32Array.of(1, 0, 2), 2, 3);
    m.addSparse(1, Int32Array.of(0, 1), Float32Array.of(3, 0.25), 0, 2);
    m.add(1, 1, 0.75);
    const s = m.share();
    expect(Array.from(s.subarray(0, 2))).toEqual([0.5, 1]);
    expect(Number.isNaN(s[2]!)).toBe(true);
    expect(Array.from(m.share("prose").subarray(0, 2))).toEqual([0.5, 0]);
    expect(Array.from(new DomainMass(2, ["prose"]).share()).every(Number.isNaN)).toBe(true);
  });
});

describe("codeShare column of an analysed store", () => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await buildFixture();
  }, 120_000);
  afterAll(() => fx?.cleanup());

  it("equals the code share recomputed from the SAE's codes on the evaluation tokens; dead units NaN", () => {
    const model = loadModelFolder(path.join(fx.root, "A"));
    const net = new HookedTransformer(model.cfg, model.weights);
    const { sae } = loadSaeFolder(path.join(fx.root, "A", "1"));
    const { cache } = net.forward(Tape.noGrad(), fx.tokens, fx.sequences, SEQ_LEN, { cache: [HOOK], stopAt: HOOK });
    const rows = fx.tokens.length;
    const dense = sae.encodeDense(cache.get(HOOK)!.data as Float32Array, rows);
    const codeFirst = fx.domains.find((d) => d.domain === "code")!.firstSequence * SEQ_LEN;
    const code = new Float64Array(D_SAE);
    const all = new Float64Array(D_SAE);
    for (let r = 0; r < rows; r++) {
      for (let f = 0; f < D_SAE; f++) {
        const v = dense[r * D_SAE + f]!;
        all[f]! += v;
        if (r >= codeFirst) code[f]! += v;
      }
    }
    const store = openInvestigation(path.join(fx.root, "A", "1", INVESTIGATION_DIR), fx.tokenizer);
    try {
      const col = store.columns.codeShare!;
      expect(col.length).toBe(D_SAE);
      let live = 0;
      for (let f = 0; f < D_SAE; f++) {
        if (DEAD.includes(f)) {
          expect(Number.isNaN(col[f]!)).toBe(true);
          expect(store.storedUnit(f).codeShare).toBeNull();
          continue;
        }
        live++;
        expect(col[f]!).toBeCloseTo(code[f]! / all[f]!, 4);
        expect(store.storedUnit(f).codeShare).toBeCloseTo(code[f]! / all[f]!, 3);
      }
      expect(live).toBe(D_SAE - DEAD.length);
      // The fixture's prose and code differ enough that some units lean clearly one way.
      expect(Array.from(col).some((v) => v > 0.7)).toBe(true);
      expect(Array.from(col).some((v) => v < 0.3)).toBe(true);
    } finally {
      store.close();
    }
    const neurons = openInvestigation(path.join(fx.root, "A", INVESTIGATION_DIR), fx.tokenizer);
    try {
      const c = neurons.columns.codeShare!;
      expect(Array.from(c).filter((v) => Number.isFinite(v)).every((v) => v >= 0 && v <= 1)).toBe(true);
      expect(Array.from(c).some((v) => Number.isFinite(v))).toBe(true);
    } finally {
      neurons.close();
    }
  });
});
