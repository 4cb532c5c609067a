import { describe, expect, it } from "vitest";
import { constant, crossEntropyPerToken, detach, param, Tape, type Var, zeroGrad } from "../../src/core/autograd.js";
import type { DType } from "../../src/core/tensor.js";
import { Tensor } from "../../src/core/tensor.js";
import { Rng } from "../../src/core/rng.js";

// ---------------------------------------------------------------------------------------------------------------
// Finite-difference gradient checking (float64, central differences)

function randn(rng: Rng, shape: number[], std = 1, dtype: DType = "f64"): Tensor {
  const t = Tensor.zeros(shape, dtype);
  rng.fillNormal(t.data, 0, std);
  return t;
}

function randParam(rng: Rng, name: string, shape: number[], std = 1): Var {
  return param(randn(rng, shape, std), name);
}

type BuildLoss = (tape: Tape) => Var;

/**
 * Compares tape gradients with central differences for every parameter: all coordinates, or `coords` random ones
 * per parameter. Error = |analytic − numeric| / max(|analytic|, |numeric|, 1e-2): relative for gradients ≥ 1e-2,
 * absolute (1e-8 at tol 1e-6) below, where central differences on O(10) losses carry ~1e-9 of rounding noise.
 */
function gradCheck(params: Var[], build: BuildLoss, opts: { coords?: number; seed?: number; eps?: number; tol?: number } = {}): number {
  const eps = opts.eps ?? 1e-6;
  const tol = opts.tol ?? 1e-6;
  const rng = new Rng(opts.seed ?? 7);
  for (const p of params) p.grad = null;
  const tape = new Tape();
  const loss = build(tape);
  tape.backward(loss);
  let worst = 0;
  for (const p of params) {
    const n = p.value.size;
    const idx = opts.coords === undefined || opts.coords >= n
      ? Array.from({ length: n }, (_, i) => i)
      : Array.from({ length: opts.coords }, () => rng.int(n));
    for (const i of idx) {
      const orig = p.data[i]!;
      p.data[i] = orig + eps;
      const plus = build(Tape.noGrad()).value.item();
      p.data[i] = orig - eps;
      const minus = build(Tape.noGrad()).value.item();
      p.data[i] = orig;
      const numeric = (plus - minus) / (2 * eps);
      const analytic = p.grad?.data[i] ?? 0;
      const err = Math.abs(analytic - numeric) / Math.max(Math.abs(analytic), Math.abs(numeric), 1e-2);
      worst = Math.max(worst, err);
      expect(err, `${p.name}[${i}]: analytic ${analytic}, numeric ${numeric}`).toBeLessThan(tol);
    }
  }
  return worst;
}

// ---------------------------------------------------------------------------------------------------------------

describe("autograd ops: float64 finite-difference gradients", () => {
  const rng = new Rng(1234);

  it("embedding with repeated ids scatter-adds", () => {
    const w = randParam(rng, "W", [5, 3]);
    const ids = Int32Array.from([1, 3, 1, 0, 1]);
    const target = randn(rng, [5, 3]);
    gradCheck([w], (t) => t.mse(t.embedding(w, ids), target));
    // Row 2 is never looked up: exactly zero gradient; row 1 appears three times.
    expect([...w.grad!.data.subarray(6, 9)]).toEqual([0, 0, 0]);
    const out = new Tape().embedding(w, ids);
    expect([...out.data.subarray(3, 6)]).toEqual([...w.data.subarray(9, 12)]);
    expect(() => new Tape().embedding(w, Int32Array.from([5]))).toThrow(/embedding: id 5 at position 0 is outside \[0, 5\)/);
  });

  it("matmul, plain and transB, with a 3-D left operand", () => {
    const a = randParam(rng, "a", [2, 3, 4]);
    const b = randParam(rng, "b", [4, 5]);
    const bt = randParam(rng, "bT", [5, 4]);
    const target = randn(rng, [2, 3, 5]);
    gradCheck([a, b], (t) => t.mse(t.matmul(a, b), target));
    gradCheck([a, bt], (t) => t.mse(t.matmul(a, bt, { transB: true }), target));
    const y = new Tape().matmul(a, b);
    expect(y.shape).toEqual([2, 3, 5]);
    // y[0, 1, 2] = Σ_k a[0,1,k] b[k,2]
    let expected = 0;
    for (let k = 0; k < 4; k++) expected += a.data[4 + k]! * b.data[k * 5 + 2]!;
    expect(y.data[5 + 2]).toBeCloseTo(expected, 12);
    expect(() => new Tape().matmul(a, bt)).toThrow(/matmul: shapes \[2, 3, 4\] and \[5, 4\] do not match/);
  });

  it("headProjection with TransformerLens [nHeads, D, dHead] weights", () => {
    const x = randParam(rng, "x", [6, 4]);
    const w = randParam(rng, "W_Q", [3, 4, 2]);
    const target = randn(rng, [6, 6]);
    gradCheck([x, w], (t) => t.mse(t.headProjection(x, w), target));
    // Column h·dHead + e of row n is x[n] · W[h, :, e].
    const y = new Tape().headProjection(x, w);
    const n = 2, h = 1, e = 1;
    let expected = 0;
    for (let d = 0; d < 4; d++) expected += x.data[n * 4 + d]! * w.data[h * 8 + d * 2 + e]!;
    expect(y.data[n * 6 + h * 2 + e]).toBeCloseTo(expected, 12);
  });

  it("add, addBias (bias of any shape with D elements), scale, reshape", () => {
    const a = randParam(rng, "a", [4, 6]);
    const b = randParam(rng, "b", [4, 6]);
    const bias = randParam(rng, "bias", [2, 3]);
    const w = randParam(rng, "w", [3, 2]);
    const target = randn(rng, [8, 2]);
    gradCheck([a, b, bias, w], (t) => {
      const s = t.scale(t.addBias(t.add(a, b), bias), -0.7);
      // Use a twice so its gradient accumulates from two paths.
      const r = t.reshape(t.add(s, a), [8, -1]);
      return t.mse(t.matmul(r, w), target);
    });
  });

  it("layerNorm with and without affine parameters", () => {
    const x = randParam(rng, "x", [3, 5]);
    const w = randParam(rng, "ln.w", [5]);
    const b = randParam(rng, "ln.b", [5]);
    const target = randn(rng, [3, 5]);
    gradCheck([x, w, b], (t) => t.mse(t.layerNorm(x, w, b), target));
    gradCheck([x], (t) => t.mse(t.layerNorm(x, null, null), target));
    const y = new Tape().layerNorm(x, null, null);
    const row = [...y.data.subarray(0, 5)];
    expect(row.reduce((s, v) => s + v, 0)).toBeCloseTo(0, 10);
    expect(row.reduce((s, v) => s + v * v, 0) / 5).toBeCloseTo(1, 3);
  });

  it("gelu (tanh and erf), relu, softmaxRows", () => {
    const x = randParam(rng, "x", [4, 5]);
    const target = randn(rng, [4, 5], 0.3);
    gradCheck([x], (t) => t.mse(t.gelu(x, "tanh"), target));
    gradCheck([x], (t) => t.mse(t.gelu(x, "erf"), target));
    gradCheck([x], (t) => t.mse(t.relu(x), target));
    gradCheck([x], (t) => t.mse(t.softmaxRows(x), target));
  });

  it("causal attention (scores → masked softmax → mix) over several batches and heads", () => {
    const [batch, seq, nHeads, dHead] = [2, 4, 3, 2];
    const q = randParam(rng, "q", [batch * seq, nHeads * dHead]);
    const k = randParam(rng, "k", [batch * seq, nHeads * dHead]);
    const v = randParam(rng, "v", [batch * seq, nHeads * dHead]);
    const target = randn(rng, [batch * seq, nHeads * dHead]);
    const attend = (t: Tape) => {
      const scores = t.attentionScores(q, k, batch, seq, nHeads, dHead);
      const pattern = t.softmaxRows(scores);
      return { scores, pattern, z: t.attentionMix(pattern, v, batch, seq, nHeads, dHead) };
    };
    gradCheck([q, k, v], (t) => t.mse(attend(t).z, target));

    // Values: scores[b, h, i, j] = q_i · k_j / sqrt(dHead) for j ≤ i, −∞ above the diagonal.
    const tape = new Tape();
    const { scores, pattern, z } = attend(tape);
    expect(scores.shape).toEqual([batch, nHeads, seq, seq]);
    const at = (b: number, h: number, i: number, j: number) => ((b * nHeads + h) * seq + i) * seq + j;
    const row = (x: Var, b: number, i: number, h: number) => x.data.subarray((b * seq + i) * 6 + h * 2, (b * seq + i) * 6 + h * 2 + 2);
    const [qi, kj] = [row(q, 1, 3, 2), row(k, 1, 1, 2)];
    expect(scores.data[at(1, 2, 3, 1)]).toBeCloseTo((qi[0]! * kj[0]! + qi[1]! * kj[1]!) / Math.SQRT2, 12);
    expect(scores.data[at(1, 2, 1, 3)]).toBe(-Infinity);
    expect(pattern.data[at(0, 1, 0, 0)]).toBeCloseTo(1, 14);
    expect(pattern.data[at(0, 1, 0, 1)]).toBe(0);
    // z at position 0 of each head is v at position 0 (attends only to itself).
    expect([...row(z, 1, 0, 1)]).toEqual([...row(v, 1, 0, 1)].map((x) => expect.closeTo(x, 12)));
    tape.backward(tape.mse(z, target));
    // The gradient reaching masked score entries is exactly zero.
    for (let i = 0; i < seq; i++) for (let j = i + 1; j < seq; j++) expect(scores.grad!.data[at(1, 0, i, j)] === 0).toBe(true);
  });

  it("attentionScores discards NaN gradients at masked positions", () => {
    const [batch, seq, nHeads, dHead] = [1, 3, 2, 2];
    const q = randParam(rng, "q", [3, 4]);
    const k = randParam(rng, "k", [3, 4]);
    const tape = new Tape();
    const scores = tape.attentionScores(q, k, batch, seq, nHeads, dHead);
    const seed = Tensor.zeros(scores.shape, "f64");
    for (let h = 0; h < nHeads; h++) {
      for (let i = 0; i < seq; i++) {
        for (let j = 0; j < seq; j++) seed.data[(h * seq + i) * seq + j] = j > i ? NaN : 1;
      }
    }
    tape.backward(scores, seed);
    expect(q.grad!.data.every(Number.isFinite)).toBe(true);
    expect(k.grad!.data.every(Number.isFinite)).toBe(true);
    // With dS = 1 on the lower triangle: dq_i = Σ_{j≤i} k_j / sqrt(dHead).
    const dq2 = [0, 1, 2].reduce((s, j) => s + k.data[j * 4 + 0]!, 0) / Math.SQRT2;
    expect(q.grad!.data[2 * 4 + 0]).toBeCloseTo(dq2, 12);
  });

  it("unembedCrossEntropy equals crossEntropy(x W + b) in value, per-token losses and gradients (chunked)", () => {
    const x = randParam(rng, "x", [7, 3]);
    const w = randParam(rng, "W", [3, 11]);
    const b = randParam(rng, "b", [11]);
    const targets = Int32Array.from([4, -1, 10, 0, 3, -1, 7]);
    const fused = (t: Tape) => t.unembedCrossEntropy(x, w, b, targets, { chunkRows: 3 });
    const reference = (t: Tape) => t.crossEntropy(t.addBias(t.matmul(x, w), b), targets);
    gradCheck([x, w, b], (t) => t.scale(fused(t), 1.7));
    const grads = [x, w, b].map((v) => Float64Array.from(v.grad!.data));
    gradCheck([x, w, b], (t) => t.scale(reference(t), 1.7));
    [x, w, b].forEach((v, i) => expect(Math.max(...v.grad!.data.map((g, j) => Math.abs(g - grads[i]![j]!)))).toBeLessThan(1e-12));
    const perToken = new Float64Array(7);
    const value = Tape.noGrad().unembedCrossEntropy(x, w, null, targets, { perToken, chunkRows: 2 }).value.item();
    const refPer = crossEntropyPerToken(Tape.noGrad().matmul(x, w), targets);
    perToken.forEach((v, i) => (Number.isNaN(refPer[i]!) ? expect(v).toBeNaN() : expect(v).toBeCloseTo(refPer[i]!, 12)));
    expect(value).toBeCloseTo((refPer[0]! + refPer[2]! + refPer[3]! + refPer[4]! + refPer[6]!) / 5, 12);
    expect(() => new Tape().unembedCrossEntropy(x, w, b, targets.subarray(1))).toThrow(/6 targets for x \[7, 3\]/);
    expect(() => new Tape().unembedCrossEntropy(x, b, null, targets)).toThrow(/W must be \[3, V\]/);
  });

  it("crossEntropy with ignored targets, per-token losses", () => {
    const logits = randParam(rng, "logits", [5, 7]);
    const targets = Int32Array.from([1, -1, 6, 0, -1]);
    gradCheck([logits], (t) => t.crossEntropy(logits, targets));
    // Ignored rows get exactly zero gradient.
    for (const r of [1, 4]) expect([...logits.grad!.data.subarray(r * 7, r * 7 + 7)]).toEqual(new Array(7).fill(0));

    const perToken = new Float64Array(5);
    const loss = new Tape().crossEntropy(logits, targets, { perToken });
    const manual = [0, 2, 3].map((r) => {
      const row = [...logits.data.subarray(r * 7, r * 7 + 7)];
      const lse = Math.log(row.reduce((s, x) => s + Math.exp(x), 0));
      return lse - row[targets[r]!]!;
    });
    expect(loss.value.item()).toBeCloseTo((manual[0]! + manual[1]! + manual[2]!) / 3, 12);
    expect(perToken[0]).toBeCloseTo(manual[0]!, 12);
    expect(perToken[3]).toBeCloseTo(manual[2]!, 12);
    expect(Number.isNaN(perToken[1])).toBe(true);
    const standalone = crossEntropyPerToken(logits.value, targets);
    expect([...standalone]).toEqual([...perToken]);

    // A custom ignoreIndex, and everything ignored → 0 with no gradient.
    gradCheck([logits], (t) => t.crossEntropy(logits, Int32Array.from([1, 2, 6, 0, 2]), { ignoreIndex: 2 }));
    expect(new Tape().crossEntropy(logits, Int32Array.from([-1, -1, -1, -1, -1])).value.item()).toBe(0);
    expect(() => new Tape().crossEntropy(logits, Int32Array.from([1, 7, 0, 0, 0]))).toThrow(/target 7 at row 1/);
  });

  it("mse (sum over columns, mean over rows), sum, mean, sumAbs", () => {
    const x = randParam(rng, "x", [3, 4]);
    const y = randParam(rng, "y", [3, 4]);
    gradCheck([x, y], (t) => t.mse(x, y));
    gradCheck([x], (t) => t.add(t.scale(t.sum(x), 0.3), t.mean(t.gelu(x))));
    gradCheck([x], (t) => t.sumAbs(x));
    const tape = new Tape();
    let sq = 0;
    for (let i = 0; i < 12; i++) sq += (x.data[i]! - y.data[i]!) ** 2;
    expect(tape.mse(x, y).value.item()).toBeCloseTo(sq / 3, 12);
    expect(tape.sumAbs(x).value.item()).toBeCloseTo([...x.data].reduce((s, v) => s + Math.abs(v), 0), 12);
    expect(tape.mean(x).value.item()).toBeCloseTo([...x.data].reduce((s, v) => s + v, 0) / 12, 12);
  });
});

describe("autograd: tape semantics", () => {
  const rng = new Rng(99);

  it("gradients accumulate across backward passes until zeroGrad", () => {
    const w = randParam(rng, "w", [3, 2]);
    const x = constant(randn(rng, [4, 3]));
    const target = randn(rng, [4, 2]);
    const step = () => {
      const t = new Tape();
      t.backward(t.mse(t.matmul(x, w), target));
    };
    step();
    const once = w.grad!.data.slice();
    step();
    w.grad!.data.forEach((g, i) => expect(g).toBeCloseTo(2 * once[i]!, 12));
    zeroGrad([w]);
    expect(w.grad!.data.every((g) => g === 0)).toBe(true);
    zeroGrad({ w });
    expect(x.grad).toBeNull();
  });

  it("no-grad tapes record nothing; tapes are single-use and do not mix", () => {
    const w = randParam(rng, "w", [2, 2]);
    const x = constant(randn(rng, [3, 2]));
    const ng = Tape.noGrad();
    const y = ng.matmul(x, w);
    expect(y.requiresGrad).toBe(false);
    expect(ng.length).toBe(0);
    expect(() => ng.backward(ng.sum(y))).toThrow(/no-grad tape/);

    const t1 = new Tape();
    const h = t1.matmul(x, w);
    expect(t1.length).toBe(1);
    const t2 = new Tape();
    expect(() => t2.relu(h)).toThrow(/recorded on another tape/);
    expect(() => t1.backward(h)).toThrow(/loss must be a scalar, got shape \[3, 2\]/);
    const loss = t1.sum(h);
    t1.backward(loss);
    expect(t1.length).toBe(0);
    expect(() => t1.backward(loss)).toThrow(/already used/);
    expect(() => t1.relu(h)).toThrow(/already used/);
    expect(() => new Tape().backward(new Tape().sum(x))).toThrow(/does not depend on anything/);
  });

  it("detach and constants stop gradients; mixed dtypes are rejected", () => {
    const w = randParam(rng, "w", [2, 2]);
    const t = new Tape();
    const d = detach(t.scale(w, 2));
    const loss = t.add(t.sum(t.scale(w, 3)), t.sum(d));
    t.backward(loss);
    expect(w.grad!.data.every((g) => g === 3)).toBe(true);
    const w32 = param(Tensor.zeros([2, 2], "f32"));
    expect(() => new Tape().add(w, w32)).toThrow(/add: mixed dtypes \(f64, f32\)/);
    expect(() => new Tape().add(w, param(Tensor.zeros([4], "f64")))).toThrow(/add: shapes \[2, 2\] and \[4\] differ/);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// A tiny 1-layer transformer assembled from the ops (TransformerLens layout and names)

interface TinyConfig { vocab: number; dModel: number; nHeads: number; dHead: number; dMlp: number; nCtx: number }

function tinyParams(rng: Rng, c: TinyConfig, dtype: DType): Record<string, Var> {
  const shapes: Record<string, number[]> = {
    "embed.W_E": [c.vocab, c.dModel],
    "pos_embed.W_pos": [c.nCtx, c.dModel],
    "blocks.0.ln1.w": [c.dModel], "blocks.0.ln1.b": [c.dModel],
    "blocks.0.attn.W_Q": [c.nHeads, c.dModel, c.dHead], "blocks.0.attn.b_Q": [c.nHeads, c.dHead],
    "blocks.0.attn.W_K": [c.nHeads, c.dModel, c.dHead], "blocks.0.attn.b_K": [c.nHeads, c.dHead],
    "blocks.0.attn.W_V": [c.nHeads, c.dModel, c.dHead], "blocks.0.attn.b_V": [c.nHeads, c.dHead],
    "blocks.0.attn.W_O": [c.nHeads, c.dHead, c.dModel], "blocks.0.attn.b_O": [c.dModel],
    "blocks.0.ln2.w": [c.dModel], "blocks.0.ln2.b": [c.dModel],
    "blocks.0.mlp.W_in": [c.dModel, c.dMlp], "blocks.0.mlp.b_in": [c.dMlp],
    "blocks.0.mlp.W_out": [c.dMlp, c.dModel], "blocks.0.mlp.b_out": [c.dModel],
    "ln_final.w": [c.dModel], "ln_final.b": [c.dModel],
    "unembed.W_U": [c.dModel, c.vocab], "unembed.b_U": [c.vocab],
  };
  const out: Record<string, Var> = {};
  for (const [name, shape] of Object.entries(shapes)) {
    const t = Tensor.zeros(shape, "f64");
    // LN gains around 1; everything else random so every path carries gradient.
    rng.fillNormal(t.data, name.endsWith("ln1.w") || name.endsWith("ln2.w") || name.endsWith("final.w") ? 1 : 0, 0.5);
    out[name] = param(dtype === "f64" ? t : t.to("f32"), name);
  }
  return out;
}

function tinyForward(t: Tape, p: Record<string, Var>, c: TinyConfig, tokens: Int32Array, batch: number, seq: number, targets: Int32Array): Var {
  const P = (n: string) => p[n]!;
  const positions = Int32Array.from({ length: batch * seq }, (_, i) => i % seq);
  const resid = t.add(t.embedding(P("embed.W_E"), tokens), t.embedding(P("pos_embed.W_pos"), positions));
  const x1 = t.layerNorm(resid, P("blocks.0.ln1.w"), P("blocks.0.ln1.b"));
  const q = t.addBias(t.headProjection(x1, P("blocks.0.attn.W_Q")), P("blocks.0.attn.b_Q"));
  const k = t.addBias(t.headProjection(x1, P("blocks.0.attn.W_K")), P("blocks.0.attn.b_K"));
  const v = t.addBias(t.headProjection(x1, P("blocks.0.attn.W_V")), P("blocks.0.attn.b_V"));
  const scores = t.attentionScores(q, k, batch, seq, c.nHeads, c.dHead);
  const pattern = t.softmaxRows(scores);
  const z = t.attentionMix(pattern, v, batch, seq, c.nHeads, c.dHead);
  const wO = t.reshape(P("blocks.0.attn.W_O"), [c.nHeads * c.dHead, c.dModel]);
  const attnOut = t.addBias(t.matmul(z, wO), P("blocks.0.attn.b_O"));
  const mid = t.add(resid, attnOut);
  const x2 = t.layerNorm(mid, P("blocks.0.ln2.w"), P("blocks.0.ln2.b"));
  const pre = t.addBias(t.matmul(x2, P("blocks.0.mlp.W_in")), P("blocks.0.mlp.b_in"));
  const post = t.gelu(pre, "tanh");
  const mlpOut = t.addBias(t.matmul(post, P("blocks.0.mlp.W_out")), P("blocks.0.mlp.b_out"));
  const final = t.layerNorm(t.add(mid, mlpOut), P("ln_final.w"), P("ln_final.b"));
  const logits = t.addBias(t.matmul(final, P("unembed.W_U")), P("unembed.b_U"));
  return t.crossEntropy(logits, targets);
}

describe("end-to-end: tiny 1-layer transformer", () => {
  const cfg: TinyConfig = { vocab: 7, dModel: 8, nHeads: 2, dHead: 3, dMlp: 12, nCtx: 5 };
  const [batch, seq] = [2, 4];
  const tokens = Int32Array.from([1, 3, 3, 6, 0, 2, 5, 1]);
  const targets = Int32Array.from([3, 3, 6, 2, 2, 5, -1, 4]);

  it("gradient of every parameter matches finite differences (float64)", () => {
    const params = tinyParams(new Rng(5), cfg, "f64");
    const worst = gradCheck(Object.values(params), (t) => tinyForward(t, params, cfg, tokens, batch, seq, targets), { coords: 4, seed: 11 });
    expect(worst).toBeLessThan(1e-6);
    for (const [name, p] of Object.entries(params)) {
      expect(p.grad, name).not.toBeNull();
      // b_K shifts every score of a query row by the same q·b_K, which softmax ignores: its gradient is 0 up to rounding.
      if (name.endsWith("b_K")) continue;
      expect(p.grad!.data.some((g) => g !== 0), name).toBe(true);
    }
  });

  it("float32 agrees with float64 (loss and gradients)", () => {
    const p64 = tinyParams(new Rng(5), cfg, "f64");
    const p32 = tinyParams(new Rng(5), cfg, "f32");
    const run = (p: Record<string, Var>) => {
      const t = new Tape();
      const loss = tinyForward(t, p, cfg, tokens, batch, seq, targets);
      t.backward(loss);
      return loss.value.item();
    };
    const l64 = run(p64);
    const l32 = run(p32);
    expect(Math.abs(l32 - l64) / l64).toBeLessThan(1e-5);
    for (const name of Object.keys(p64)) {
      const g64 = p64[name]!.grad!.data;
      const g32 = p32[name]!.grad!.data;
      expect(g32).toBeInstanceOf(Float32Array);
      const scale = Math.max(...g64.map(Math.abs));
      let maxDiff = 0;
      for (let i = 0; i < g64.length; i++) maxDiff = Math.max(maxDiff, Math.abs(g64[i]! - g32[i]!));
      // Floor: b_K's true gradient is 0 (see above), so its float32 value is pure rounding noise.
      expect(maxDiff / Math.max(scale, 1e-2), name).toBeLessThan(1e-4);
    }
  });
});
