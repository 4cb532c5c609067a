import { describe, expect, it } from "vitest";
import { Tape } from "../../src/core/autograd.js";
import { Rng } from "../../src/core/rng.js";
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from "../../src/model/config.js";
import { validationLoss } from "../../src/model/train-eval.js";
import { HookedTransformer } from "../../src/model/transformer.js";
import { initWeights } from "../../src/model/weights.js";
import { evaluateSae, formatSaeEval, log10Histogram } from "../../src/sae/eval.js";
import { Sae } from "../../src/sae/sae.js";

const cfg: ModelConfig = { ...DEFAULT_MODEL_CONFIG, d_model: 16, d_mlp: 12, n_heads: 2, d_head: 8, n_ctx: 8, d_vocab: 40 };
const HOOK = "blocks.0.mlp.hook_post";

function tinyModel(): HookedTransformer {
  const rng = new Rng(2);
  const w = initWeights(cfg, rng);
  for (const [name, t] of w) rng.fillNormal(t.data, name.endsWith(".w") ? 1 : 0, 0.5);
  return new HookedTransformer(cfg, w);
}

function sequences(seed: number, n: number) {
  const rng = new Rng(seed);
  return { tokens: Int32Array.from({ length: n * cfg.n_ctx }, () => rng.int(cfg.d_vocab)), nCtx: cfg.n_ctx };
}

/** x = ReLU(x) − ReLU(−x): 2·d features ±e_i reconstruct any input exactly. */
function exactSae(d: number): Sae {
  const sae = new Sae({ architecture: "standard", dIn: d, dSae: 2 * d, k: null, applyBDecToInput: true });
  for (let i = 0; i < d; i++) {
    sae.encT[i * d + i] = 1;
    sae.encT[(d + i) * d + i] = -1;
    sae.dec[i * d + i] = 1;
    sae.dec[(d + i) * d + i] = -1;
  }
  return sae;
}

describe("SAE evaluation", () => {
  const model = tinyModel();
  const data = { prose: sequences(1, 12), code: sequences(2, 9) };

  it("an exact SAE recovers 100 % of the loss with zero error; L0 counts the signs; clean CE matches validationLoss", () => {
    const r = evaluateSae({ model, sae: exactSae(cfg.d_mlp), hookName: HOOK, data, batch: 5 });
    for (const d of ["prose", "code"] as const) {
      const m = r.domains[d]!;
      expect(m.tokens).toBe(data[d].tokens.length);
      expect(m.mse).toBeLessThan(1e-10);
      expect(m.fvu).toBeLessThan(1e-10);
      expect(m.ceSae).toBeCloseTo(m.ceClean, 5);
      expect(m.lossRecovered).toBeCloseTo(1, 4);
      expect(m.ceClean).toBeCloseTo(validationLoss(model, data[d], 4).loss, 5);
      expect(m.ceZeroAblation).not.toBeCloseTo(m.ceClean, 2);
    }
    // Each non-zero neuron value fires exactly one of ±e_i (GELU underflows to 0 for very negative inputs).
    let nonZero = 0;
    for (const d of ["prose", "code"] as const) {
      const { cache } = model.forward(Tape.noGrad(), data[d].tokens, data[d].tokens.length / cfg.n_ctx, cfg.n_ctx, { cache: [HOOK], stopAt: HOOK });
      nonZero += cache.get(HOOK)!.data.filter((v) => v !== 0).length;
    }
    expect(r.overall.l0).toBeCloseTo(nonZero / (21 * cfg.n_ctx), 10);
    expect(r.overall.l0).toBeGreaterThan(cfg.d_mlp * 0.9);
    expect(r.overall.tokens).toBe(21 * cfg.n_ctx);
    expect(formatSaeEval(r)).toMatch(/CE loss recovered\s+100\.0%\s+100\.0%\s+100\.0%/);
  });

  it("an all-zero SAE recovers 0 % (it is the zero ablation); every feature is dead", () => {
    const sae = new Sae({ architecture: "standard", dIn: cfg.d_mlp, dSae: 5, k: null, applyBDecToInput: true });
    const r = evaluateSae({ model, sae, hookName: HOOK, data: { prose: data.prose } });
    const m = r.domains.prose!;
    expect(m.ceSae).toBeCloseTo(m.ceZeroAblation, 6);
    expect(m.lossRecovered).toBeCloseTo(0, 6);
    expect(m.fvu).toBeGreaterThan(1); // x̂ = 0 is worse than the mean
    expect(r.deadFeatures).toBe(5);
    expect(m.l0).toBe(0);
  });

  it("FVU is pooled: Σ‖x − x̂‖² / Σ‖x − x̄‖²", () => {
    // An SAE that outputs the constant b_dec = 0 except one feature copying neuron 0.
    const sae = new Sae({ architecture: "standard", dIn: cfg.d_mlp, dSae: 1, k: null, applyBDecToInput: false });
    sae.encT[0] = 1;
    sae.dec[0] = 1;
    const r = evaluateSae({ model, sae, hookName: HOOK, data: { code: data.code } });
    const { cache } = model.forward(Tape.noGrad(), data.code.tokens, 9, cfg.n_ctx, { cache: [HOOK], stopAt: HOOK });
    const x = cache.get(HOOK)!.data;
    const rows = x.length / cfg.d_mlp;
    let err = 0;
    const mean = new Float64Array(cfg.d_mlp);
    for (let i = 0; i < x.length; i++) mean[i % cfg.d_mlp]! += x[i]! / rows;
    let total = 0;
    for (let i = 0; i < x.length; i++) {
      const c = i % cfg.d_mlp;
      const xh = c === 0 ? Math.max(0, x[i]!) : 0;
      err += (x[i]! - xh) ** 2;
      total += (x[i]! - mean[c]!) ** 2;
    }
    expect(r.domains.code!.fvu).toBeCloseTo(err / total, 4);
    expect(r.domains.code!.mse).toBeCloseTo(err / rows, 4);
  });

  it("density histogram bins log10 densities and skips dead features", () => {
    const h = log10Histogram(Float32Array.from([0, 1e-3, 0.5, 1, 2e-3]));
    expect(h.counts.reduce((a, b) => a + b, 0)).toBe(4);
    expect(h.edges[0]).toBe(-7);
    expect(h.counts[(Math.floor((-3 + 7) / 0.25))]).toBe(1);
    expect(h.counts[h.counts.length - 1]).toBe(1); // density 1 = log10 0 falls in the last bin [−0.25, 0]
    expect(h.counts[h.counts.length - 2]).toBe(1); // 0.5: log10 = −0.30
  });
});
