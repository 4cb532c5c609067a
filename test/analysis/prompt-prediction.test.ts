/**
 * The per-token prediction of analyzePrompt: the model's top next tokens at every position and the active features
 * ranked for that one prediction, each figure checked against full forward passes (a different code path: the
 * model's own unembedding and loss, with the SAE spliced in at the hook).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { Tape, constant } from "../../src/core/autograd.js";
import { Rng } from "../../src/core/rng.js";
import { Tensor } from "../../src/core/tensor.js";
import { loadGpt2Tokenizer, type Tokenizer } from "../../src/data/tokenizer.js";
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from "../../src/model/config.js";
import { HookedTransformer } from "../../src/model/transformer.js";
import { initWeights } from "../../src/model/weights.js";
import { Sae } from "../../src/sae/sae.js";
import { initSae } from "../../src/sae/init.js";
import { outputDirections, splicedResiduals } from "../../src/analysis/ablation.js";
import { topNextTokens } from "../../src/analysis/next-token.js";
import { analyzePrompt } from "../../src/analysis/prompt.js";
import type { PromptAnalysis } from "../../src/analysis/unit-record.js";
import { nextTokenLosses, spliceSae } from "../helpers/forward.js";

const HOOK = "blocks.0.mlp.hook_post";
const TEXT = "The state of the union is strong, and the people";
let model: HookedTransformer;
let sae: Sae;
let tokenizer: Tokenizer;
let ids: Int32Array;
let p: PromptAnalysis;

/** softmax of the full forward's logits [n × vocab] with the SAE spliced in (float64). */
function fullProbs(): Float64Array[] {
  const n = ids.length;
  const V = model.cfg.d_vocab;
  const { logits } = model.forward(Tape.noGrad(), ids, 1, n, {
    hooks: { [HOOK]: (x) => constant(new Tensor(spliceSae(sae)(x.value.data as Float32Array, n), x.value.shape)) },
  });
  const l = logits!.value.data as Float32Array;
  return Array.from({ length: n }, (_, t) => {
    const row = l.subarray(t * V, (t + 1) * V);
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    const e = Float64Array.from(row, (v) => Math.exp(v - max));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  });
}

beforeAll(() => {
  const cfg: ModelConfig = { ...DEFAULT_MODEL_CONFIG, d_model: 16, d_mlp: 32, n_heads: 2, d_head: 8, n_ctx: 24 };
  model = new HookedTransformer(cfg, initWeights(cfg, new Rng(3)));
  sae = new Sae({ architecture: "standard", dIn: 32, dSae: 64, k: null, applyBDecToInput: true });
  initSae(sae, new Rng(5), null);
  for (let f = 0; f < 64; f++) sae.bEnc[f] = f % 4 === 0 ? 0.3 : -0.05;
  tokenizer = loadGpt2Tokenizer();
  ids = Int32Array.from(tokenizer.encode(TEXT));
  p = analyzePrompt({ run: "A/1", model, sae, tokenizer, hook: HOOK }, TEXT, { nextTokens: 5 });
});

describe("analyzePrompt: the prediction at each token", () => {
  it("lists the model's top next tokens with the probabilities of a full forward, and the target's", () => {
    const probs = fullProbs();
    expect(p.tokens).toHaveLength(ids.length);
    p.tokens.forEach((tok, t) => {
      const pred = tok.prediction!;
      const want = Array.from(probs[t]!.keys()).sort((i, j) => probs[t]![j]! - probs[t]![i]! || i - j).slice(0, 5);
      expect(pred.top.map((x) => x.id)).toEqual(want);
      pred.top.forEach((x, j) => {
        expect(x.prob).toBeCloseTo(probs[t]![want[j]!]!, 4);
        expect(x.text).toBe(tokenizer.tokenText(x.id));
      });
      if (t < ids.length - 1) {
        expect(pred.target).toMatchObject({ id: ids[t + 1], actual: true });
        expect(pred.target.prob).toBeCloseTo(probs[t]![ids[t + 1]!]!, 5);
        // The token's loss is −log of that probability.
        expect(tok.loss!).toBeCloseTo(-Math.log(probs[t]![ids[t + 1]!]!), 3);
      } else {
        // At the last token the attributions are for the model's own first choice.
        expect(pred.target).toEqual({ ...pred.top[0]!, actual: false });
      }
    });
  });

  it("ranks every active feature at a token with its loss effect and direct logit effect for that one prediction", () => {
    const { codes } = splicedResiduals(model, sae, HOOK, ids, 1, ids.length);
    const clean = nextTokenLosses(model, ids, HOOK, spliceSae(sae));
    const t = 3;
    const pred = p.tokens[t]!.prediction!;
    const active = [];
    for (let j = 0; j < codes.k; j++) if (codes.indices[t * codes.k + j]! >= 0 && codes.values[t * codes.k + j]! > 0) active.push(codes.indices[t * codes.k + j]!);
    expect(pred.features.map((f) => f.index).sort((a, b) => a - b)).toEqual(active.sort((a, b) => a - b));
    expect(pred.features.length).toBeGreaterThan(p.tokens[t]!.features.length - 1);
    for (let i = 1; i < pred.features.length; i++) expect(pred.features[i - 1]!.activation).toBeGreaterThanOrEqual(pred.features[i]!.activation);
    // Loss effect of each feature: zero it at token t alone in a full forward.
    for (const f of pred.features.slice(0, 4)) {
      const zeroed = nextTokenLosses(model, ids, HOOK, spliceSae(sae, (tok, feat) => tok === t && feat === f.index));
      expect(f.lossEffect).toBeCloseTo(zeroed[t]! - clean[t]!, 3);
    }
    // The whole-prompt loss effect is the sum of the per-token ones.
    const top = p.rankings.lossEffect[0]!;
    const sum = p.tokens.slice(0, -1).reduce((s, tok) => s + (tok.prediction!.features.find((f) => f.index === top.index)?.lossEffect ?? 0), 0);
    expect(sum).toBeCloseTo(top.value, 2);
    // The logit ranking's best entry is the largest per-token logit effect.
    const le = p.rankings.logitEffect[0]!;
    const best = Math.max(...p.tokens.slice(0, -1).map((tok) => tok.prediction!.features.find((f) => f.index === le.index)?.logitEffect ?? -Infinity));
    expect(best).toBeCloseTo(le.value, 3);
  });

  it("the direct logit effect at the last token is for the predicted token: the logit drop with ln_final's scale frozen", () => {
    const n = ids.length;
    const pred = p.tokens[n - 1]!.prediction!;
    const f = pred.features[0]!;
    const { resid } = splicedResiduals(model, sae, HOOK, ids, 1, n);
    const d = model.cfg.d_model;
    const V = model.cfg.d_vocab;
    const dirs = outputDirections(model, sae);
    const wU = model.params["unembed.W_U"]!.value.data as Float32Array;
    const w = model.params["ln_final.w"]!.value.data as Float32Array;
    const row = Array.from(resid.subarray((n - 1) * d, n * d));
    const mean = row.reduce((a, b) => a + b) / d;
    const rstd = 1 / Math.sqrt(row.reduce((a, b) => a + (b - mean) ** 2, 0) / d + model.cfg.eps);
    const logit = (x: number[]) => {
      const m = x.reduce((s, v) => s + v) / d;
      return x.reduce((s, v, i) => s + (v - m) * rstd * w[i]! * wU[i * V + pred.target.id]!, 0);
    };
    expect(f.logitEffect).toBeCloseTo(logit(row) - logit(row.map((v, i) => v - f.activation * dirs[f.index * d + i]!)), 3);
  });

  it("topNextTokens: chunking does not change the answer, and a bad k is refused", () => {
    const n = ids.length;
    const { resid } = splicedResiduals(model, sae, HOOK, ids, 1, n);
    const targets = Int32Array.from(ids, (_, t) => (t < n - 1 ? ids[t + 1]! : -1));
    const a = topNextTokens(model, resid, n, 7, targets, 64);
    const b = topNextTokens(model, resid, n, 7, targets, 3);
    expect(Array.from(b.ids)).toEqual(Array.from(a.ids));
    expect(Array.from(b.probs)).toEqual(Array.from(a.probs));
    expect(Number.isNaN(a.targetProbs[n - 1])).toBe(true);
    expect(() => topNextTokens(model, resid, n, 0, targets)).toThrow(/k must be in/);
  });

  it("carries each token's raw bytes: a Cyrillic word split inside a character", () => {
    const q = analyzePrompt({ run: "A/1", model, sae, tokenizer, hook: HOOK }, "Привет");
    const bytes = q.tokens.flatMap((t) => t.bytes!);
    expect(Buffer.from(bytes).toString("utf8")).toBe("Привет");
    expect(q.tokens[0]!.text).toBe("\ufffd");
    expect(q.tokens[0]!.bytes).toEqual([0xd0]);
  });
});
