import { describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { planHeavyRows, reluCodesBounded, Sae } from "../../src/sae/sae.js";
import { SaeBatchStep } from "../../src/sae/sae-step.js";
import { expectClose } from "../helpers/numeric.js";

const D_IN = 8;
const D_SAE = 64;
const ROWS = 64;
const HEAVY = [5, 40];

/** Most rows fire a few features (negative b_enc); rows 5 and 40 have 40× the norm and fire about half of them. */
function setup(seed: number): { sae: Sae; x: Float32Array } {
  const rng = new Rng(seed);
  const sae = new Sae({ architecture: "standard", dIn: D_IN, dSae: D_SAE, k: null, applyBDecToInput: true });
  rng.fillNormal(sae.encT, 0, 0.5);
  rng.fillNormal(sae.dec, 0, 0.5);
  sae.bEnc.fill(-2.5);
  rng.fillNormal(sae.bDec, 0, 0.1);
  for (let j = 0; j < D_SAE; j++) {
    const row = sae.dec.subarray(j * D_IN, (j + 1) * D_IN);
    const n = Math.hypot(...row);
    row.forEach((v, i) => (row[i] = v / n));
  }
  const x = new Float32Array(ROWS * D_IN);
  rng.fillNormal(x, 0, 1);
  for (const r of HEAVY) for (let c = 0; c < D_IN; c++) x[r * D_IN + c]! *= 40;
  return { sae, x };
}

describe("planHeavyRows", () => {
  it("pads the few densest rows apart only when that at least halves the padded slots", () => {
    // 8 rows, at most 1 heavy: one group 8 × 100 = 800 slots; apart 7 × 3 + 1 × 100 = 121.
    const plan = planHeavyRows(Int32Array.from([2, 3, 100, 1, 2, 3, 2, 1]), 8);
    expect(plan).not.toBeNull();
    expect(Array.from(plan!.heavy)).toEqual([2]);
    expect(plan!.lightSlots).toBe(3);
    expect(plan!.heavySlots).toBe(100);
    // 16 rows, at most 2 heavy: the two densest apart, light rows padded to 4.
    const counts = Int32Array.from([4, 90, 3, 4, 2, 1, 0, 4, 3, 3, 80, 2, 1, 4, 4, 2]);
    const two = planHeavyRows(counts, 16)!;
    expect(Array.from(two.heavy)).toEqual([1, 10]);
    expect(two.lightSlots).toBe(4);
    expect(two.heavySlots).toBe(90);
    // Close counts: one padded matrix (16 × 9 = 144 vs 14 × 6 + 2 × 9 = 102 saves less than half).
    expect(planHeavyRows(Int32Array.from([9, 8, 6, 6, 5, 5, 5, 4, 4, 4, 4, 3, 3, 3, 3, 3]), 16)).toBeNull();
    expect(planHeavyRows(Int32Array.from([7]), 1)).toBeNull();
  });
});

describe("SAE training step with heavy rows padded apart", () => {
  it("the split codes hold every positive pre-activation of their rows", () => {
    const { sae, x } = setup(3);
    const pre = sae.preActivations(sae.centred(x, ROWS), ROWS);
    const counts = new Int32Array(ROWS);
    const { codes, split } = reluCodesBounded(pre, ROWS, D_SAE, { slots: 4, counts, splitHeavy: true });
    expect(codes).toBeNull();
    // The outlier rows are heavy; the plan may add the next densest rows when that lowers the light padding.
    expect(Array.from(split!.heavy)).toEqual(expect.arrayContaining(HEAVY));
    expect(split!.heavy.length).toBeLessThanOrEqual(ROWS / 8);
    expect(split!.light.length + split!.heavy.length).toBe(ROWS);
    expect(Math.max(...Array.from(split!.light, (r) => counts[r]!))).toBe(split!.lightCodes.k);
    expect(Math.min(...Array.from(split!.heavy, (r) => counts[r]!))).toBeGreaterThanOrEqual(split!.lightCodes.k);
    expect(split!.heavyCodes.k).toBe(Math.max(...Array.from(split!.heavy, (r) => counts[r]!)));
    expect(split!.heavyCodes.k).toBeGreaterThan(4 * split!.lightCodes.k);
    for (const [at, c] of [[split!.light, split!.lightCodes], [split!.heavy, split!.heavyCodes]] as const) {
      for (let i = 0; i < at.length; i++) {
        const r = at[i]!;
        const expected: number[] = [];
        for (let j = 0; j < D_SAE; j++) if (pre[r * D_SAE + j]! > 0) expected.push(j);
        const got = Array.from(c.indices.subarray(i * c.k, (i + 1) * c.k)).filter((j) => j >= 0);
        expect(got).toEqual(expected);
        got.forEach((j, s) => expect(c.values[i * c.k + s]).toBe(pre[r * D_SAE + j]));
      }
    }
    // A first pass wide enough for every light row: the light codes are compacted from it, and are the same.
    const wide = reluCodesBounded(pre, ROWS, D_SAE, { slots: split!.lightCodes.k + 1, counts: new Int32Array(ROWS), splitHeavy: true });
    expect(wide.codes).toBeNull();
    expect(Array.from(wide.split!.light)).toEqual(Array.from(split!.light));
    expect(wide.split!.lightCodes.k).toBe(split!.lightCodes.k);
    expect(Array.from(wide.split!.lightCodes.indices)).toEqual(Array.from(split!.lightCodes.indices));
    expect(Array.from(wide.split!.lightCodes.values)).toEqual(Array.from(split!.lightCodes.values));
    expect(Array.from(wide.split!.heavyCodes.indices)).toEqual(Array.from(split!.heavyCodes.indices));
  });

  for (const aux of [false, true]) {
    it(`gives the one-group step's loss, L0 and gradients${aux ? " with AuxK on low-density latents" : ", and the dense path's"}`, () => {
      const { sae, x } = setup(7);
      const deadMask = aux ? Uint8Array.from({ length: D_SAE }, (_, j) => (j % 3 === 0 ? 1 : 0)) : null;
      const options = { l1Coefficient: 0.7, deadMask, auxK: 4, auxCoefficient: 0.25, auxPath: "dense" as const };
      const splitStep = new SaeBatchStep(sae);
      const split = splitStep.run(x, ROWS, options);
      expect(split.codes).toBeNull();
      expect(split.stats.dense).toBe(false);
      const oneStep = new SaeBatchStep(sae);
      const one = oneStep.run(x, ROWS, { ...options, splitHeavyRows: false });
      expect(one.codes!.k).toBe(Math.max(...HEAVY.map((r) => countOf(one.codes!, r)))); // padded to an outlier row
      expect(split.stats.mse).toBeCloseTo(one.stats.mse, 3);
      expect(split.stats.l1).toBeCloseTo(one.stats.l1, 4);
      expect(split.stats.l0).toBe(one.stats.l0);
      expect(split.stats.auxLoss).toBeCloseTo(one.stats.auxLoss, 5);
      if (aux) expect(split.stats.auxLoss).toBeGreaterThan(0);
      const fired = new Float32Array(D_SAE);
      for (const j of one.codes!.indices) if (j >= 0) fired[j]! += 1;
      expect(Array.from(split.firedCounts!)).toEqual(Array.from(fired));
      expect(Array.from(split.activeFeatures)).toEqual(Array.from(one.activeFeatures));
      for (const name of ["encT", "bEnc", "dec", "bDec"] as const) {
        const scale = Math.max(...Array.from(oneStep.grads[name], Math.abs));
        expect(scale).toBeGreaterThan(0);
        expectClose(splitStep.grads[name], oneStep.grads[name], 1e-5 * scale);
      }
      if (aux) return;
      // Without AuxK, the dense path (dense gemms over every feature) agrees too.
      const denseStep = new SaeBatchStep(sae);
      const dense = denseStep.run(x, ROWS, { ...options, denseThreshold: 0 });
      expect(dense.stats.dense).toBe(true);
      expect(split.stats.mse).toBeCloseTo(dense.stats.mse, 3);
      for (const name of ["encT", "bEnc", "dec", "bDec"] as const) {
        const scale = Math.max(...Array.from(denseStep.grads[name], Math.abs));
        expectClose(splitStep.grads[name], denseStep.grads[name], 1e-4 * scale);
      }
    });
  }
});

function countOf(c: { k: number; indices: Int32Array }, row: number): number {
  let n = 0;
  for (let s = row * c.k; s < (row + 1) * c.k; s++) n += c.indices[s]! >= 0 ? 1 : 0;
  return n;
}
