import { describe, expect, it } from "vitest";
import { constant, param, Tape, type Var } from "../../src/core/autograd.js";
import { setPrecision } from "../../src/core/backend.js";
import { Rng } from "../../src/core/rng.js";
import { Tensor } from "../../src/core/tensor.js";
import { Sae, type SaeArchitecture } from "../../src/sae/sae.js";
import { SaeBatchStep } from "../../src/sae/sae-step.js";
import { expectClose } from "../helpers/numeric.js";

const D_IN = 6;
const D_SAE = 10;
const ROWS = 7;

function tinySae(architecture: SaeArchitecture, k: number | null, seed: number): Sae {
  const rng = new Rng(seed);
  const sae = new Sae({ architecture, dIn: D_IN, dSae: D_SAE, k, applyBDecToInput: true });
  rng.fillNormal(sae.encT, 0, 0.6);
  rng.fillNormal(sae.dec, 0, 0.5);
  rng.fillNormal(sae.bEnc, 0.1, 0.3);
  rng.fillNormal(sae.bDec, 0, 0.2);
  for (let j = 0; j < D_SAE; j++) {
    const row = sae.dec.subarray(j * D_IN, (j + 1) * D_IN);
    const n = Math.hypot(...row);
    row.forEach((v, i) => (row[i] = v / n));
  }
  return sae;
}

function f64(a: Float32Array, shape: number[], name: string): Var {
  return param(new Tensor(Float64Array.from(a), shape), name);
}

/**
 * The same loss on a float64 tape with dense ops: selected codes enter through a constant additive mask
 * (0 where kept, −1e9 elsewhere), so the gradient flows only where the SAE kept a code — exactly top-k's.
 */
function referenceGradients(sae: Sae, x: Float32Array, lambda: number, keep: Uint8Array | null, auxKeep: Uint8Array | null, alpha: number, auxShift: Float64Array | null = null) {
  const encT = f64(sae.encT, [D_SAE, D_IN], "encT");
  const bEnc = f64(sae.bEnc, [D_SAE], "bEnc");
  const dec = f64(sae.dec, [D_SAE, D_IN], "dec");
  const bDec = f64(sae.bDec, [D_IN], "bDec");
  const tape = new Tape();
  const xs = constant(new Tensor(Float64Array.from(x), [ROWS, D_IN]));
  const xc = tape.add(xs, tape.reshape(tape.matmul(constant(Tensor.full([ROWS, 1], -1, "f64")), tape.reshape(bDec, [1, D_IN])), [ROWS, D_IN]));
  const pre = tape.addBias(tape.matmul(xc, encT, { transB: true }), bEnc);
  const mask = (m: Uint8Array) => constant(new Tensor(Float64Array.from(m, (v) => (v ? 0 : -1e9)), [ROWS, D_SAE]));
  const f = tape.relu(keep ? tape.add(pre, mask(keep)) : pre);
  const xh = tape.addBias(tape.matmul(f, dec), bDec);
  let loss = tape.add(tape.mse(xh, xs), tape.scale(tape.sum(f), lambda / ROWS));
  if (auxKeep) {
    // auxShift (standard AuxK): a constant per row subtracted from the kept pre-activations.
    const auxMask = auxShift
      ? constant(new Tensor(Float64Array.from(auxKeep, (v, i) => (v ? 0 : -1e9) - auxShift[Math.floor(i / D_SAE)]!), [ROWS, D_SAE]))
      : mask(auxKeep);
    // AuxK holds b_dec constant (sae-step.ts): its pre-activations use a detached copy.
    const xcAux = tape.add(xs, constant(new Tensor(Float64Array.from({ length: ROWS * D_IN }, (_, i) => -sae.bDec[i % D_IN]!), [ROWS, D_IN])));
    const preAux = tape.addBias(tape.matmul(xcAux, encT, { transB: true }), bEnc);
    const fAux = tape.relu(tape.add(preAux, auxMask));
    const residual = new Tensor(Float64Array.from(x, (v, i) => v - xh.data[i]!), [ROWS, D_IN]);
    loss = tape.add(loss, tape.scale(tape.mse(tape.matmul(fAux, dec), constant(residual)), alpha));
  }
  tape.backward(loss);
  return { loss: loss.value.item(), encT: encT.grad!.data, bEnc: bEnc.grad!.data, dec: dec.grad!.data, bDec: bDec.grad!.data };
}

function randomInput(seed: number): Float32Array {
  const x = new Float32Array(ROWS * D_IN);
  new Rng(seed).fillNormal(x, 0, 1);
  return x;
}

function keepMaskOf(indices: Int32Array, k: number): Uint8Array {
  const m = new Uint8Array(ROWS * D_SAE);
  for (let r = 0; r < ROWS; r++) for (let j = 0; j < k; j++) {
    const idx = indices[r * k + j]!;
    if (idx >= 0) m[r * D_SAE + idx] = 1;
  }
  return m;
}

describe("SAE batch step: loss and gradients against a float64 autograd reference", () => {
  for (const denseThreshold of [1, 0]) {
    it(`standard ReLU + L1, ${denseThreshold === 0 ? "dense" : "sparse"} path`, () => {
      const sae = tinySae("standard", null, 1);
      const x = randomInput(2);
      const step = new SaeBatchStep(sae);
      const { stats, codes, firedCounts } = step.run(x, ROWS, { l1Coefficient: 0.3, denseThreshold });
      expect(stats.dense).toBe(denseThreshold === 0);
      expect(codes === null).toBe(denseThreshold === 0);
      const ref = referenceGradients(sae, x, 0.3, null, null, 0);
      expect(stats.loss).toBeCloseTo(ref.loss, 4);
      expectClose(step.grads.encT, ref.encT, 1e-5, 1e-4);
      expectClose(step.grads.bEnc, ref.bEnc, 1e-5, 1e-4);
      expectClose(step.grads.dec, ref.dec, 1e-5, 1e-4);
      expectClose(step.grads.bDec, ref.bDec, 1e-5, 1e-4);
      // L0 and L1 of the codes, by hand from the dense activations.
      const f = sae.encodeDense(x, ROWS);
      expect(stats.l0).toBeCloseTo(f.filter((v) => v > 0).length / ROWS, 10);
      expect(stats.l1).toBeCloseTo(f.reduce((s, v) => s + v, 0) / ROWS, 5);
      expect(stats.l0).toBeGreaterThan(1); // the test exercises real codes
      // The dense path also says how many rows each feature fired on (density tracking needs counts).
      if (denseThreshold === 0) {
        const expected = Array.from({ length: D_SAE }, (_, j) => Array.from({ length: ROWS }, (_, r) => f[r * D_SAE + j]!).filter((v) => v > 0).length);
        expect(Array.from(firedCounts!)).toEqual(expected);
        expect(expected.some((c) => c > 1)).toBe(true);
      } else expect(firedCounts).toBeUndefined();
    });
  }

  // AuxK's two ways of decoding and back-propagating its codes (sae-step.ts auxPath), each against the reference.
  for (const auxPath of ["sparse", "dense"] as const) {
    it(`topk with AuxK on dead latents (${auxPath} AuxK path)`, () => {
      const k = 3;
      const sae = tinySae("topk", k, 3);
      const x = randomInput(4);
      const dead = new Uint8Array(D_SAE);
      dead[1] = dead[4] = dead[7] = dead[8] = 1;
      const step = new SaeBatchStep(sae);
      const { stats, codes } = step.run(x, ROWS, { l1Coefficient: 0, deadMask: dead, auxK: 2, auxCoefficient: 0.5, auxPath });
      const keep = keepMaskOf(codes!.indices, codes!.k);
      // AuxK picks the 2 largest dead pre-activations per row (positive ones only).
      const xc = sae.centred(x, ROWS);
      const pre = sae.preActivations(xc, ROWS);
      const auxKeep = new Uint8Array(ROWS * D_SAE);
      for (let r = 0; r < ROWS; r++) {
        const cands = [1, 4, 7, 8].sort((a, b) => pre[r * D_SAE + b]! - pre[r * D_SAE + a]!).slice(0, 2);
        for (const j of cands) if (pre[r * D_SAE + j]! > 0) auxKeep[r * D_SAE + j] = 1;
      }
      expect(auxKeep.some((v) => v === 1)).toBe(true);
      const ref = referenceGradients(sae, x, 0, keep, auxKeep, 0.5);
      expect(stats.auxLoss).toBeGreaterThan(0);
      expect(stats.loss).toBeCloseTo(ref.loss, 4);
      expect(stats.l0).toBeLessThanOrEqual(k);
      expectClose(step.grads.encT, ref.encT, 1e-5, 1e-4);
      expectClose(step.grads.bEnc, ref.bEnc, 1e-5, 1e-4);
      expectClose(step.grads.dec, ref.dec, 1e-5, 1e-4);
      expectClose(step.grads.bDec, ref.bDec, 1e-5, 1e-4);
    });

    it(`standard ReLU + L1 with AuxK: dead latents' codes are their pre-activations above the row's (k_aux+1)-th (${auxPath} AuxK path)`, () => {
      const sae = tinySae("standard", null, 5);
      // Dead latents with negative pre-activations everywhere: ReLU aux codes would carry no gradient at all.
      for (const j of [2, 5, 6, 9]) sae.bEnc[j] = -4;
      const x = randomInput(6);
      const dead = new Uint8Array(D_SAE);
      dead[2] = dead[5] = dead[6] = dead[9] = 1;
      const step = new SaeBatchStep(sae);
      const { stats, codes } = step.run(x, ROWS, { l1Coefficient: 0.3, deadMask: dead, auxK: 2, auxCoefficient: 0.5, denseThreshold: 1, auxPath });
      expect(codes).not.toBeNull();
      const pre = sae.preActivations(sae.centred(x, ROWS), ROWS);
      const auxKeep = new Uint8Array(ROWS * D_SAE);
      const shift = new Float64Array(ROWS);
      for (let r = 0; r < ROWS; r++) {
        const ranked = [2, 5, 6, 9].sort((a, b) => pre[r * D_SAE + b]! - pre[r * D_SAE + a]!);
        expect(pre[r * D_SAE + ranked[0]!]!).toBeLessThan(0);
        shift[r] = pre[r * D_SAE + ranked[2]!]!;
        for (const j of ranked.slice(0, 2)) auxKeep[r * D_SAE + j] = 1;
      }
      const ref = referenceGradients(sae, x, 0.3, null, auxKeep, 0.5, shift);
      expect(stats.auxLoss).toBeGreaterThan(0);
      expect(stats.loss).toBeCloseTo(ref.loss, 4);
      expectClose(step.grads.encT, ref.encT, 1e-5, 1e-4);
      expectClose(step.grads.bEnc, ref.bEnc, 1e-5, 1e-4);
      expectClose(step.grads.dec, ref.dec, 1e-5, 1e-4);
      expectClose(step.grads.bDec, ref.bDec, 1e-5, 1e-4);
      // The dead latents do get a gradient.
      for (const j of [2, 5, 6, 9]) expect(Math.abs(step.grads.bEnc[j]!)).toBeGreaterThan(0);
    });
  }
});

/** How many of 0…383 satisfy `pred`. */
function deadCount(pred: (j: number) => boolean): number {
  let n = 0;
  for (let j = 0; j < 384; j++) if (pred(j)) n++;
  return n;
}

describe("AuxK's dense and sparse paths at a realistic shape", () => {
  it("give the same loss and gradients (fp32 products) with hundreds of dead latents, for both architectures", () => {
    const [dIn, dSae, rows] = [24, 384, 96];
    const rng = new Rng(11);
    for (const architecture of ["standard", "topk"] as const) {
      const sae = new Sae({ architecture, dIn, dSae, k: architecture === "topk" ? 8 : null, applyBDecToInput: true });
      rng.fillNormal(sae.encT, 0, 0.4);
      rng.fillNormal(sae.dec, 0, 0.3);
      rng.fillNormal(sae.bEnc, -0.2, 0.3);
      rng.fillNormal(sae.bDec, 0, 0.1);
      const x = new Float32Array(rows * dIn);
      rng.fillNormal(x, 0, 1);
      const dead = new Uint8Array(dSae);
      for (let j = 0; j < dSae; j++) if (rng.uniform() < 0.3) dead[j] = 1;
      const run = (auxPath: "sparse" | "dense", auxK: number) => {
        const step = new SaeBatchStep(sae);
        const { stats } = step.run(x, rows, { l1Coefficient: 0.2, deadMask: dead, auxK, auxCoefficient: 0.25, denseThreshold: 1, auxPath });
        return { stats, grads: { encT: step.grads.encT.slice(), bEnc: step.grads.bEnc.slice(), dec: step.grads.dec.slice() } };
      };
      setPrecision("fp32");
      // k_aux well below the dead count (the threshold from the top k_aux) and close to it (from the bottom).
      for (const auxK of [12, Math.max(1, dead.reduce((a, b) => a + b, 0) - 9)]) try {
        const sparse = run("sparse", auxK);
        const dense = run("dense", auxK);
        expect(sparse.stats.auxLoss).toBeGreaterThan(0);
        expect(Math.abs(dense.stats.auxLoss - sparse.stats.auxLoss)).toBeLessThan(1e-6 * sparse.stats.auxLoss);
        expectClose(dense.grads.encT, sparse.grads.encT, 1e-5, 1e-4);
        expectClose(dense.grads.bEnc, sparse.grads.bEnc, 1e-5, 1e-4);
        expectClose(dense.grads.dec, sparse.grads.dec, 1e-5, 1e-4);
        // Only dead latents get AuxK's gradient: the live ones' rows match a run without AuxK.
        const step = new SaeBatchStep(sae);
        step.run(x, rows, { l1Coefficient: 0.2, deadMask: null, denseThreshold: 1 });
        for (let j = 0; j < dSae; j++) if (!dead[j]) expect(dense.grads.bEnc[j]).toBeCloseTo(step.grads.bEnc[j]!, 6);
        // The dead latents do get AuxK's gradient.
        expect(deadCount((j) => dead[j] === 1 && dense.grads.bEnc[j] !== step.grads.bEnc[j])).toBeGreaterThan(10);
      } finally {
        setPrecision("auto");
      }
    }
  });
});
