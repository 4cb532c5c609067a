/** Ablation through the final residual and the prompt-centric ranking, checked against full forward passes. */
import { beforeAll, describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { loadGpt2Tokenizer, type Tokenizer } from "../../src/data/tokenizer.js";
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from "../../src/model/config.js";
import { HookedTransformer } from "../../src/model/transformer.js";
import { initWeights } from "../../src/model/weights.js";
import { Sae } from "../../src/sae/sae.js";
import { initSae } from "../../src/sae/init.js";
import { NextTokenScorer, ablatedRows, outputDirections, splicedResiduals } from "../../src/analysis/ablation.js";
import { PromptError, analyzePrompt } from "../../src/analysis/prompt.js";
import { nextTokenLosses, spliceSae } from "../helpers/forward.js";

const HOOK = "blocks.0.mlp.hook_post";
let model: HookedTransformer;
let sae: Sae;
let tokenizer: Tokenizer;

/** Per-token losses of a full forward with the SAE spliced in, optionally with feature f zeroed at every token. */
function fullLosses(ids: Int32Array, zeroFeature: number | null): Float32Array {
  return nextTokenLosses(model, ids, HOOK, spliceSae(sae, zeroFeature === null ? null : (_t, f) => f === zeroFeature));
}

beforeAll(() => {
  const cfg: ModelConfig = { ...DEFAULT_MODEL_CONFIG, d_model: 16, d_mlp: 32, n_heads: 2, d_head: 8, n_ctx: 24 };
  model = new HookedTransformer(cfg, initWeights(cfg, new Rng(3)));
  sae = new Sae({ architecture: "standard", dIn: 32, dSae: 64, k: null, applyBDecToInput: true });
  initSae(sae, new Rng(5), null);
  // Make a handful of features fire often: positive encoder bias.
  for (let f = 0; f < 64; f++) sae.bEnc[f] = f % 4 === 0 ? 0.3 : -0.05;
  tokenizer = loadGpt2Tokenizer();
});

describe("NextTokenScorer and ablated rows", () => {
  it("match full forward passes with the SAE spliced in, clean and with a feature zeroed", () => {
    const ids = Int32Array.from(tokenizer.encode("The state of the union is strong, and the people are free."));
    const n = ids.length;
    const { resid, codes } = splicedResiduals(model, sae, HOOK, ids, 1, n);
    const scorer = new NextTokenScorer(model, 4); // small chunks exercise the chunk loop
    const clean = scorer.losses(resid, n - 1, ids.subarray(1));
    const reference = fullLosses(ids, null);
    for (let t = 0; t < n - 1; t++) expect(clean[t]).toBeCloseTo(reference[t]!, 4);

    // Pick the feature firing at most positions and ablate it at each of them.
    const counts = new Map<number, number>();
    for (let i = 0; i < codes.indices.length; i++) if (codes.indices[i]! >= 0 && codes.values[i]! > 0) counts.set(codes.indices[i]!, (counts.get(codes.indices[i]!) ?? 0) + 1);
    const f = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0];
    const rowsIdx: number[] = [];
    const acts: number[] = [];
    for (let t = 0; t < n - 1; t++) {
      for (let j = 0; j < codes.k; j++) if (codes.indices[t * codes.k + j] === f && codes.values[t * codes.k + j]! > 0) (rowsIdx.push(t), acts.push(codes.values[t * codes.k + j]!));
    }
    expect(rowsIdx.length).toBeGreaterThan(2);
    const d = model.cfg.d_model;
    const out = new Float32Array(rowsIdx.length * d);
    ablatedRows(resid, outputDirections(model, sae), d, Int32Array.from(rowsIdx), new Int32Array(rowsIdx.length).fill(f), Float32Array.from(acts), rowsIdx.length, out);
    const ablated = scorer.losses(out, rowsIdx.length, Int32Array.from(rowsIdx, (t) => ids[t + 1]!));
    const zeroed = fullLosses(ids, f);
    rowsIdx.forEach((t, i) => expect(ablated[i]).toBeCloseTo(zeroed[t]!, 4));
    // Positions where f does not fire are untouched by zeroing it (the MLP is the last layer).
    for (let t = 0; t < n - 1; t++) if (!rowsIdx.includes(t)) expect(zeroed[t]).toBeCloseTo(reference[t]!, 5);
  });
});

describe("analyzePrompt", () => {
  it("lists the features per token and ranks features by max activation, loss effect and logit effect", () => {
    const text = "def main():\n    return the_state(42)";
    const p = analyzePrompt({ run: "A/1", model, sae, tokenizer, hook: HOOK, labels: (i) => `feature ${i}` }, text, { rankingSize: 64, featuresPerToken: 64 });
    const ids = Int32Array.from(tokenizer.encode(text));
    expect(p.tokens.map((t) => t.id)).toEqual([...ids]);
    expect(p.tokens.map((t) => t.text).join("")).toBe(text);
    expect(p.tokens.at(-1)!.loss).toBeNull();
    // Activations agree with a direct encode of the hook activation.
    const { codes } = splicedResiduals(model, sae, HOOK, ids, 1, ids.length);
    const t0 = p.tokens[0]!.features[0]!;
    let direct = 0;
    for (let j = 0; j < codes.k; j++) if (codes.indices[j] === t0.index) direct = codes.values[j]!;
    expect(t0.activation).toBeCloseTo(direct, 6);
    expect(t0.name).toBe(`A/1/${t0.index}`);
    // Max activation ranking is sorted and its first entry is the largest activation anywhere.
    const all = p.tokens.flatMap((t) => t.features.map((f) => f.activation));
    expect(p.rankings.maxActivation[0]!.value).toBeCloseTo(Math.max(...all), 6);
    expect(p.rankings.maxActivation[0]!.label).toBe(`feature ${p.rankings.maxActivation[0]!.index}`);
    // Loss effect of the top feature = Σ over tokens of (loss with it zeroed − loss with the SAE), by full forwards.
    const top = p.rankings.lossEffect[0]!;
    const clean = fullLosses(ids, null);
    const zeroed = fullLosses(ids, top.index);
    let sum = 0;
    for (let t = 0; t < ids.length - 1; t++) sum += zeroed[t]! - clean[t]!;
    expect(top.value).toBeCloseTo(sum, 4);
    for (let i = 1; i < p.rankings.lossEffect.length; i++) expect(p.rankings.lossEffect[i - 1]!.value).toBeGreaterThanOrEqual(p.rankings.lossEffect[i]!.value);
    // The logit effect is the drop of the next token's logit when a·u_f leaves the final residual, with ln_final's
    // scale frozen at the token (TransformerLens' direct logit attribution): recompute it from the residual.
    const le = p.rankings.logitEffect[0]!;
    const { resid } = splicedResiduals(model, sae, HOOK, ids, 1, ids.length);
    const d = model.cfg.d_model;
    const dirs = outputDirections(model, sae);
    const wU = model.params["unembed.W_U"]!.value.data as Float32Array;
    const w = model.params["ln_final.w"]!.value.data as Float32Array;
    const row = Array.from(resid.subarray(le.position * d, (le.position + 1) * d));
    const mean = row.reduce((a, b) => a + b) / d;
    const rstd = 1 / Math.sqrt(row.reduce((a, b) => a + (b - mean) ** 2, 0) / d + model.cfg.eps);
    const a = p.tokens[le.position]!.features.find((f) => f.index === le.index)!.activation;
    const next = ids[le.position + 1]!;
    const logit = (x: number[]) => {
      const m = x.reduce((s, v) => s + v) / d;
      return x.reduce((s, v, i) => s + (v - m) * rstd * w[i]! * wU[i * model.cfg.d_vocab + next]!, 0);
    };
    const ablatedRow = row.map((v, i) => v - a * dirs[le.index * d + i]!);
    expect(le.value).toBeCloseTo(logit(row) - logit(ablatedRow), 4);
  });

  it("rejects empty and over-long prompts with clear errors", () => {
    const ctx = { run: "A/1", model, sae, tokenizer, hook: HOOK };
    expect(() => analyzePrompt(ctx, "   ")).toThrow(PromptError);
    expect(() => analyzePrompt(ctx, "word ".repeat(100))).toThrow(/at most 24 fit/);
    expect(() => analyzePrompt({ ...ctx, hook: "blocks.0.hook_resid_mid" }, "hi")).toThrow(/hook must be blocks.0.mlp.hook_post/);
  });
});
