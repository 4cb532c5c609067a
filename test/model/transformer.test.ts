/**
 * The hooked transformer against an independent, loop-by-loop reference of TransformerLens' forward pass
 * (causal attention with 1/sqrt(d_head) scaling, TL weight layouts, LayerNorm, GeLU), plus hooks, caching,
 * stopAt, 2-layer models and finite-difference gradients through the whole model.
 */
import { describe, expect, it } from "vitest";
import { Tape, Var } from "../../src/core/autograd.js";
import { Rng } from "../../src/core/rng.js";
import { Tensor } from "../../src/core/tensor.js";
import { erf } from "../../src/core/kernels-js.js";
import type { ModelConfig } from "../../src/model/config.js";
import { HookedTransformer } from "../../src/model/transformer.js";
import { initWeights, type ModelWeights } from "../../src/model/weights.js";
import { expectClose } from "../helpers/numeric.js";

function tinyConfig(overrides: Partial<ModelConfig> = {}): ModelConfig {
  return {
    n_layers: 1, d_model: 8, d_head: 4, n_heads: 2, d_mlp: 12, d_vocab: 11, n_ctx: 6, act_fn: "gelu",
    normalization_type: "LN", positional_embedding_type: "standard", tokenizer_name: "gpt2", eps: 1e-5,
    ...overrides,
  } as ModelConfig;
}

/** Random weights (biases and LN params too, so every term of the forward pass is exercised). */
function randomWeights(cfg: ModelConfig, seed: number, dtype: "f32" | "f64" = "f32"): ModelWeights {
  const rng = new Rng(seed);
  const weights = initWeights(cfg, rng);
  const out: ModelWeights = new Map();
  for (const [name, t] of weights) {
    const data = dtype === "f64" ? new Float64Array(t.size) : new Float32Array(t.size);
    rng.fillNormal(data, name.endsWith(".w") ? 1 : 0, 0.3);
    out.set(name, new Tensor(data, t.shape));
  }
  return out;
}

type W = (name: string) => ArrayLike<number>;

function layerNormRef(x: number[], w: ArrayLike<number> | null, b: ArrayLike<number> | null, eps: number): number[] {
  const mean = x.reduce((s, v) => s + v, 0) / x.length;
  const variance = x.reduce((s, v) => s + (v - mean) ** 2, 0) / x.length;
  return x.map((v, i) => ((v - mean) / Math.sqrt(variance + eps)) * (w ? w[i]! : 1) + (b ? b[i]! : 0));
}

/** TransformerLens' forward pass written out with plain loops over one sequence. */
function referenceLogits(cfg: ModelConfig, weights: ModelWeights, tokens: number[]): number[][] {
  const w: W = (name) => weights.get(name)!.data;
  const { d_model: D, n_heads: H, d_head: Dh, d_mlp: M, d_vocab: V } = cfg;
  const T = tokens.length;
  const ln = (x: number[], prefix: string) =>
    cfg.normalization_type === null ? x
      : layerNormRef(x, cfg.normalization_type === "LN" ? w(`${prefix}.w`) : null, cfg.normalization_type === "LN" ? w(`${prefix}.b`) : null, cfg.eps);
  let resid = tokens.map((tok, t) => Array.from({ length: D }, (_, d) => w("embed.W_E")[tok * D + d]! + w("pos_embed.W_pos")[t * D + d]!));
  for (let l = 0; l < cfg.n_layers; l++) {
    const b = `blocks.${l}`;
    const x = resid.map((r) => ln(r, `${b}.ln1`));
    // q/k/v[t][h][e] = Σ_d x[t][d] W[h][d][e] + b[h][e]
    const proj = (which: string) => x.map((xt) => Array.from({ length: H }, (_, h) => Array.from({ length: Dh }, (_, e) => {
      let s = w(`${b}.attn.b_${which}`)[h * Dh + e]!;
      for (let d = 0; d < D; d++) s += xt[d]! * w(`${b}.attn.W_${which}`)[(h * D + d) * Dh + e]!;
      return s;
    })));
    const q = proj("Q"), k = proj("K"), v = proj("V");
    const attnOut = resid.map(() => Array.from({ length: D }, (_, d) => w(`${b}.attn.b_O`)[d]!));
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < T; i++) {
        const scores: number[] = [];
        for (let j = 0; j <= i; j++) {
          let s = 0;
          for (let e = 0; e < Dh; e++) s += q[i]![h]![e]! * k[j]![h]![e]!;
          scores.push(s / Math.sqrt(Dh));
        }
        const mx = Math.max(...scores);
        const ex = scores.map((s) => Math.exp(s - mx));
        const total = ex.reduce((a, c) => a + c, 0);
        const z = Array.from({ length: Dh }, (_, e) => ex.reduce((s, p, j) => s + (p / total) * v[j]![h]![e]!, 0));
        for (let d = 0; d < D; d++) {
          for (let e = 0; e < Dh; e++) attnOut[i]![d]! += z[e]! * w(`${b}.attn.W_O`)[(h * Dh + e) * D + d]!;
        }
      }
    }
    resid = resid.map((r, t) => r.map((val, d) => val + attnOut[t]![d]!));
    const x2 = resid.map((r) => ln(r, `${b}.ln2`));
    const act = (u: number) => cfg.act_fn === "relu" ? Math.max(0, u)
      : cfg.act_fn === "gelu_new" ? 0.5 * u * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (u + 0.044715 * u ** 3)))
      : 0.5 * u * (1 + erf(u / Math.SQRT2));
    const post = x2.map((xt) => Array.from({ length: M }, (_, m) => {
      let s = w(`${b}.mlp.b_in`)[m]!;
      for (let d = 0; d < D; d++) s += xt[d]! * w(`${b}.mlp.W_in`)[d * M + m]!;
      return act(s);
    }));
    resid = resid.map((r, t) => r.map((val, d) => {
      let s = val + w(`${b}.mlp.b_out`)[d]!;
      for (let m = 0; m < M; m++) s += post[t]![m]! * w(`${b}.mlp.W_out`)[m * D + d]!;
      return s;
    }));
  }
  const xf = resid.map((r) => ln(r, "ln_final"));
  return xf.map((xt) => Array.from({ length: V }, (_, vv) => {
    let s = w("unembed.b_U")[vv]!;
    for (let d = 0; d < D; d++) s += xt[d]! * w("unembed.W_U")[d * V + vv]!;
    return s;
  }));
}

const TOKENS = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8]; // two sequences of 6

describe("HookedTransformer forward", () => {
  for (const variant of [
    {}, { act_fn: "gelu_new" }, { act_fn: "relu" }, { normalization_type: "LNPre" }, { n_layers: 2 },
  ] as Partial<ModelConfig>[]) {
    it(`matches the loop reference (${JSON.stringify(variant)})`, () => {
      const cfg = tinyConfig(variant);
      const weights = randomWeights(cfg, 1, "f64");
      const model = new HookedTransformer(cfg, weights);
      const { logits } = model.forward(Tape.noGrad(), Int32Array.from(TOKENS), 2, 6);
      expect(logits!.shape).toEqual([12, cfg.d_vocab]);
      for (let b = 0; b < 2; b++) {
        const ref = referenceLogits(cfg, weights, TOKENS.slice(b * 6, b * 6 + 6)).flat();
        expectClose(logits!.data.subarray(b * 6 * cfg.d_vocab, (b + 1) * 6 * cfg.d_vocab), ref, 1e-10, 1e-10);
      }
    });
  }

  it("float32 weights agree with float64", () => {
    const cfg = tinyConfig();
    const w64 = randomWeights(cfg, 2, "f64");
    const w32: ModelWeights = new Map([...w64].map(([k, t]) => [k, t.to("f32")]));
    const l64 = new HookedTransformer(cfg, w64).forward(Tape.noGrad(), Int32Array.from(TOKENS), 2, 6).logits!;
    const l32 = new HookedTransformer(cfg, w32).forward(Tape.noGrad(), Int32Array.from(TOKENS), 2, 6).logits!;
    expectClose(l32.data, l64.data, 1e-4, 1e-4);
  });

  it("a sequence's logits do not depend on later tokens (causal mask)", () => {
    const cfg = tinyConfig();
    const model = new HookedTransformer(cfg, randomWeights(cfg, 3, "f64"));
    const a = model.forward(Tape.noGrad(), Int32Array.from([1, 2, 3, 4, 5, 6]), 1, 6).logits!.data;
    const b = model.forward(Tape.noGrad(), Int32Array.from([1, 2, 3, 9, 9, 9]), 1, 6).logits!.data;
    expectClose(b.subarray(0, 3 * cfg.d_vocab), a.subarray(0, 3 * cfg.d_vocab), 0);
    expect(Math.abs(b[4 * cfg.d_vocab]! - a[4 * cfg.d_vocab]!)).toBeGreaterThan(1e-6);
  });

  it("rejects bad inputs and unknown hook names, listing the valid ones", () => {
    const cfg = tinyConfig();
    const model = new HookedTransformer(cfg, randomWeights(cfg, 4));
    expect(() => model.forward(Tape.noGrad(), new Int32Array(7), 1, 7)).toThrow(/seq must be an integer in \[1, n_ctx=6\]/);
    expect(() => model.forward(Tape.noGrad(), new Int32Array(5), 1, 6)).toThrow(/tokens has 5 ids/);
    expect(() => model.forward(Tape.noGrad(), Int32Array.from([11, 0]), 1, 2)).toThrow(/id 11/);
    expect(() => model.forward(Tape.noGrad(), new Int32Array(2), 1, 2, { cache: ["blocks.0.mlp.hook_pots"] }))
      .toThrow(/unknown hook point "blocks.0.mlp.hook_pots". Valid hook points: .*blocks.0.mlp.hook_post/);
    expect(() => model.forward(Tape.noGrad(), new Int32Array(2), 1, 2, { hooks: { "blocks.0.ln1.hook_scale": (x) => x } }))
      .toThrow(/read-only/);
  });
});

describe("hook points", () => {
  const cfg = tinyConfig({ n_layers: 2 });
  const weights = randomWeights(cfg, 5, "f64");
  const model = new HookedTransformer(cfg, weights);
  const tokens = Int32Array.from(TOKENS);

  it("cache 'all' records every TransformerLens hook point with its documented shape", () => {
    const { cache } = model.forward(Tape.noGrad(), tokens, 2, 6, { cache: "all" });
    expect([...cache.keys()]).toEqual(HookedTransformer.hookNames(cfg));
    expect(cache.get("hook_embed")!.shape).toEqual([12, 8]);
    expect(cache.get("blocks.1.attn.hook_q")!.shape).toEqual([12, 8]);
    expect(cache.get("blocks.0.attn.hook_pattern")!.shape).toEqual([2, 2, 6, 6]);
    expect(cache.get("blocks.0.mlp.hook_post")!.shape).toEqual([12, 12]);
    expect(cache.get("ln_final.hook_scale")!.shape).toEqual([12, 1]);
    // Each pattern row is a distribution over earlier positions only.
    const pattern = cache.get("blocks.0.attn.hook_pattern")!.data;
    for (let row = 0; row < 2 * 2 * 6; row++) {
      const i = row % 6;
      let total = 0;
      for (let j = 0; j < 6; j++) {
        if (j > i) expect(pattern[row * 6 + j]).toBe(0);
        total += pattern[row * 6 + j]!;
      }
      expect(total).toBeCloseTo(1, 12);
    }
    // resid_post = resid_mid + mlp_out, and hook_scale is TL's sqrt(var + eps).
    const mid = cache.get("blocks.1.hook_resid_mid")!.data, out = cache.get("blocks.1.hook_mlp_out")!.data;
    expectClose(cache.get("blocks.1.hook_resid_post")!.data, Array.from(mid, (v, i) => v + out[i]!), 1e-12);
    const r = Array.from(cache.get("blocks.1.hook_resid_post")!.data.subarray(0, 8));
    const mean = r.reduce((a, c) => a + c, 0) / 8;
    expect(cache.get("ln_final.hook_scale")!.data[0]).toBeCloseTo(Math.sqrt(r.reduce((a, c) => a + (c - mean) ** 2, 0) / 8 + 1e-5), 10);
  });

  it("a hook that ablates an MLP neuron equals zeroing that neuron's W_out row", () => {
    const neuron = 3;
    const hooked = model.forward(Tape.noGrad(), tokens, 2, 6, {
      hooks: {
        "blocks.0.mlp.hook_post": (act, tape) => {
          const edited = act.value.clone();
          for (let r = 0; r < 12; r++) edited.data[r * cfg.d_mlp + neuron] = 0;
          return tape.reshape(new Var(edited, false), act.shape);
        },
      },
    }).logits!;
    const ablated: ModelWeights = new Map([...weights].map(([k, t]) => [k, t.clone()]));
    ablated.get("blocks.0.mlp.W_out")!.data.fill(0, neuron * cfg.d_model, (neuron + 1) * cfg.d_model);
    const expected = new HookedTransformer(cfg, ablated).forward(Tape.noGrad(), tokens, 2, 6).logits!;
    expectClose(hooked.data, expected.data, 1e-12);
  });

  it("stopAt ends the pass at the hook point and returns no logits", () => {
    const { logits, cache } = model.forward(Tape.noGrad(), tokens, 2, 6, {
      stopAt: "blocks.0.mlp.hook_post", cache: ["blocks.0.mlp.hook_post"],
    });
    expect(logits).toBeNull();
    expect(cache.get("blocks.0.mlp.hook_post")!.shape).toEqual([12, 12]);
    const full = model.forward(Tape.noGrad(), tokens, 2, 6, { cache: ["blocks.0.mlp.hook_post"] }).cache;
    expectClose(cache.get("blocks.0.mlp.hook_post")!.data, full.get("blocks.0.mlp.hook_post")!.data, 0);
  });
});

describe("gradients through the whole model", () => {
  it("match central finite differences in float64 for every parameter (sampled coordinates)", () => {
    const cfg = tinyConfig({ n_layers: 2 });
    const weights = randomWeights(cfg, 6, "f64");
    const model = new HookedTransformer(cfg, weights);
    const tokens = Int32Array.from(TOKENS);
    const targets = Int32Array.from([...TOKENS.slice(1), -1]);
    const loss = () => {
      const tape = new Tape();
      const out = model.forward(tape, tokens, 2, 6).logits!;
      return { tape, value: tape.crossEntropy(out, targets) };
    };
    for (const p of model.parameterList()) p.grad = null;
    const { tape, value } = loss();
    tape.backward(value);
    const rng = new Rng(7);
    for (const [name, p] of Object.entries(model.params)) {
      for (let trial = 0; trial < 2; trial++) {
        const i = rng.int(p.value.size);
        const saved = p.data[i]!;
        const h = 1e-6;
        p.data[i] = saved + h;
        const up = Tape.noGrad().crossEntropy(model.forward(Tape.noGrad(), tokens, 2, 6).logits!, targets).data[0]!;
        p.data[i] = saved - h;
        const down = Tape.noGrad().crossEntropy(model.forward(Tape.noGrad(), tokens, 2, 6).logits!, targets).data[0]!;
        p.data[i] = saved;
        const numeric = (up - down) / (2 * h);
        const analytic = p.grad!.data[i]!;
        expect(Math.abs(numeric - analytic), `${name}[${i}]: numeric ${numeric} vs analytic ${analytic}`)
          .toBeLessThan(1e-6 + 1e-5 * Math.abs(numeric));
      }
    }
  });
});
