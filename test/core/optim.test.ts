import { describe, expect, it } from "vitest";
import { constant, param, Tape, type Var } from "../../src/core/autograd.js";
import { Adam, AdamW, clipGradNorm, decayMatricesOnly, lrAt } from "../../src/core/optim.js";
import { Rng } from "../../src/core/rng.js";
import { Tensor } from "../../src/core/tensor.js";

function setGrad(p: Var, values: number[]): void {
  p.grad = Tensor.from(values, p.shape, p.value.dtype);
}

describe("AdamW", () => {
  it("two steps match the update computed by hand", () => {
    const [lr, b1, b2, eps, wd] = [0.1, 0.9, 0.999, 1e-8, 0.01];
    const p = param(Tensor.from([1, -2], [2], "f64"), "p");
    const opt = new AdamW({ p }, { beta1: b1, beta2: b2, eps, weightDecay: wd });

    // Step 1: m̂ = g and v̂ = g², so the Adam part is g/(|g| + eps) ≈ ±1.
    setGrad(p, [0.5, -4]);
    opt.step(lr);
    const after1 = [1 - lr * (0.5 / (0.5 + eps) + wd * 1), -2 - lr * (-4 / (4 + eps) + wd * -2)];
    expect(p.data[0]).toBeCloseTo(after1[0]!, 12);
    expect(p.data[1]).toBeCloseTo(after1[1]!, 12);
    expect(opt.stepCount).toBe(1);

    // Step 2 with g = [-1, 2]: m = 0.9·m1 + 0.1·g, v = 0.999·v1 + 0.001·g², bc1 = 1 − 0.81, bc2 = 1 − 0.999².
    setGrad(p, [-1, 2]);
    opt.step(lr);
    const g1 = [0.5, -4];
    const g2 = [-1, 2];
    for (let i = 0; i < 2; i++) {
      const m = 0.9 * (0.1 * g1[i]!) + 0.1 * g2[i]!;
      const v = 0.999 * (0.001 * g1[i]! ** 2) + 0.001 * g2[i]! ** 2;
      const mHat = m / (1 - 0.9 ** 2);
      const vHat = v / (1 - 0.999 ** 2);
      const expected = after1[i]! - lr * (mHat / (Math.sqrt(vHat) + eps) + wd * after1[i]!);
      expect(p.data[i]).toBeCloseTo(expected, 12);
    }
  });

  it("exempts parameters from weight decay on request", () => {
    const w = param(Tensor.from([2, 2, 2, 2], [2, 2], "f64"), "w");
    const b = param(Tensor.from([2, 2], [2], "f64"), "b");
    const opt = new AdamW({ w, b }, { weightDecay: 0.1, decay: decayMatricesOnly });
    expect(opt.decayedNames).toEqual(["w"]);
    // Zero gradients: the Adam part is 0, only decay moves the weights: p ← p·(1 − lr·wd).
    setGrad(w, [0, 0, 0, 0]);
    setGrad(b, [0, 0]);
    opt.step(0.5);
    for (const x of w.data) expect(x).toBeCloseTo(2 * (1 - 0.5 * 0.1), 14);
    expect([...b.data]).toEqual([2, 2]);
  });

  it("skips parameters without a gradient; zeroGrad clears", () => {
    const a = param(Tensor.from([1], [1], "f64"), "a");
    const b = param(Tensor.from([1], [1], "f64"), "b");
    const opt = new Adam({ a, b });
    setGrad(a, [1]);
    opt.step(0.1);
    expect(a.data[0]).toBeCloseTo(0.9, 6);
    expect(b.data[0]).toBe(1);
    opt.zeroGrad();
    expect(a.grad!.data[0]).toBe(0);
    expect(() => opt.step(-1)).toThrow(/lr must be/);
    expect(() => new AdamW({ a, b: constant(Tensor.zeros([1])) })).toThrow(/"b" does not require a gradient/);
  });

  it("stateDict / loadStateDict resume training exactly", () => {
    const rng = new Rng(3);
    const makeParams = () => ({ "w": param(Tensor.zeros([3, 2]), "w"), "b": param(Tensor.zeros([2]), "b") });
    const grads = Array.from({ length: 5 }, () => {
      const g = { w: new Float32Array(6), b: new Float32Array(2) };
      rng.fillNormal(g.w, 0, 1);
      rng.fillNormal(g.b, 0, 1);
      return g;
    });
    const apply = (opt: AdamW, p: ReturnType<typeof makeParams>, step: number) => {
      p.w.grad = Tensor.from(grads[step]!.w.slice(), [3, 2]);
      p.b.grad = Tensor.from(grads[step]!.b.slice(), [2]);
      opt.step(0.01);
    };
    const p1 = makeParams();
    const opt1 = new AdamW(p1, { decay: decayMatricesOnly });
    for (let s = 0; s < 3; s++) apply(opt1, p1, s);
    const snapshot = { w: p1.w.data.slice(), b: p1.b.data.slice(), state: opt1.stateDict() };
    expect(snapshot.state.step).toBe(3);
    expect(snapshot.state.m.w).toBeInstanceOf(Float32Array);
    for (let s = 3; s < 5; s++) apply(opt1, p1, s);

    const p2 = makeParams();
    p2.w.data.set(snapshot.w);
    p2.b.data.set(snapshot.b);
    const opt2 = new AdamW(p2, { decay: decayMatricesOnly });
    opt2.loadStateDict(snapshot.state);
    expect(opt2.stepCount).toBe(3);
    for (let s = 3; s < 5; s++) apply(opt2, p2, s);
    expect([...p2.w.data]).toEqual([...p1.w.data]);
    expect([...p2.b.data]).toEqual([...p1.b.data]);

    const bad = opt2.stateDict();
    delete bad.m.b;
    expect(() => opt2.loadStateDict(bad)).toThrow(/missing parameter "b"/);
    expect(() => opt2.loadStateDict({ ...opt2.stateDict(), v: { ...opt2.stateDict().v, extra: new Float32Array(1) } }))
      .toThrow(/unknown parameter "extra"/);
  });

  it("Adam fits a tiny linear regression (loss falls by orders of magnitude)", () => {
    const rng = new Rng(42);
    const x = Tensor.zeros([32, 4]);
    rng.fillNormal(x.data, 0, 1);
    const wTrue = Tensor.zeros([4, 2]);
    rng.fillNormal(wTrue.data, 0, 1);
    // y = x·wTrue + [0.5, −1], computed through the same ops without gradients.
    const ng = Tape.noGrad();
    const y = ng.addBias(ng.matmul(constant(x), constant(wTrue)), constant(Tensor.from([0.5, -1], [2]))).value;
    const w = param(Tensor.zeros([4, 2]), "w");
    const b = param(Tensor.zeros([2]), "b");
    const opt = new Adam({ w, b });
    const lossAt = () => {
      const t = new Tape();
      const loss = t.mse(t.addBias(t.matmul(constant(x), w), b), y);
      t.backward(loss);
      return loss.value.item();
    };
    const first = lossAt();
    opt.zeroGrad();
    let last = first;
    for (let step = 0; step < 300; step++) {
      opt.zeroGrad();
      last = lossAt();
      opt.step(0.05);
    }
    expect(last).toBeLessThan(first / 1000);
    wTrue.data.forEach((v, i) => expect(w.data[i]).toBeCloseTo(v, 2));
  });
});

describe("clipGradNorm", () => {
  it("rescales the global norm to maxNorm and returns the norm before clipping", () => {
    const a = param(Tensor.zeros([2], "f64"));
    const b = param(Tensor.zeros([1], "f64"));
    const none = param(Tensor.zeros([3], "f64")); // no grad: ignored
    setGrad(a, [3, 4]);
    setGrad(b, [12]);
    const norm = clipGradNorm([a, b, none], 6.5);
    expect(norm).toBeCloseTo(13, 12);
    const after = Math.hypot(a.grad!.data[0]!, a.grad!.data[1]!, b.grad!.data[0]!);
    expect(after).toBeCloseTo(6.5, 6);
    expect(a.grad!.data[0]! / b.grad!.data[0]!).toBeCloseTo(3 / 12, 12);
    expect(none.grad).toBeNull();
  });

  it("leaves gradients below maxNorm untouched (float32 too)", () => {
    const a = param(Tensor.zeros([2]));
    setGrad(a, [0.3, 0.4]);
    expect(clipGradNorm({ a }, 1)).toBeCloseTo(0.5, 6);
    expect([...a.grad!.data]).toEqual([Math.fround(0.3), Math.fround(0.4)]);
  });
});

describe("lrAt", () => {
  const base = { base: 1e-3, warmupSteps: 10, totalSteps: 110, minRatio: 0.1 };

  it("warms up linearly from base/warmupSteps to base", () => {
    expect(lrAt(0, { ...base, schedule: "cosine" })).toBeCloseTo(1e-4, 15);
    expect(lrAt(4, { ...base, schedule: "cosine" })).toBeCloseTo(5e-4, 15);
    expect(lrAt(9, { ...base, schedule: "cosine" })).toBeCloseTo(1e-3, 15);
    expect(lrAt(10, { ...base, schedule: "cosine" })).toBeCloseTo(1e-3, 15);
  });

  it("cosine: halfway between base and the floor at mid-decay, the floor at and after the end", () => {
    const s = { ...base, schedule: "cosine" as const };
    expect(lrAt(60, s)).toBeCloseTo(0.55e-3, 15);
    expect(lrAt(35, s)).toBeCloseTo(1e-4 + 0.9e-3 * 0.5 * (1 + Math.cos(Math.PI / 4)), 15);
    expect(lrAt(110, s)).toBeCloseTo(1e-4, 15);
    expect(lrAt(500, s)).toBeCloseTo(1e-4, 15);
  });

  it("linear decay and constant", () => {
    const s = { ...base, schedule: "linear" as const };
    expect(lrAt(35, s)).toBeCloseTo(1e-3 - 0.9e-3 * 0.25, 15);
    expect(lrAt(110, s)).toBeCloseTo(1e-4, 15);
    expect(lrAt(0, { base: 2, schedule: "constant" })).toBe(2);
    expect(lrAt(1000, { base: 2, warmupSteps: 4 })).toBe(2);
    expect(lrAt(1, { base: 2, warmupSteps: 4 })).toBe(1);
  });

  it("validates its inputs", () => {
    expect(() => lrAt(-1, base)).toThrow(/step must be/);
    expect(() => lrAt(20, { base: 1, schedule: "cosine" })).toThrow(/totalSteps is required/);
    expect(() => lrAt(0, { base: 1, minRatio: 2 })).toThrow(/minRatio/);
  });
});
