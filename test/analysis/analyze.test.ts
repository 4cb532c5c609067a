/**
 * `analyzeRun` end to end on a tiny model and SAE: every stored figure is recomputed here the slow, direct way
 * (dense codes over all evaluation tokens, full forward passes for ablations) and compared.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { analyzeRun } from "../../src/analysis/analyze.js";
import type { EvaluationTokens } from "../../src/analysis/eval-tokens.js";
import { openInvestigation, type InvestigationStore } from "../../src/analysis/store.js";
import { Tape } from "../../src/core/autograd.js";
import { Rng } from "../../src/core/rng.js";
import { loadGpt2Tokenizer, type Tokenizer } from "../../src/data/tokenizer.js";
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from "../../src/model/config.js";
import { HookedTransformer } from "../../src/model/transformer.js";
import { initWeights } from "../../src/model/weights.js";
import { initSae } from "../../src/sae/init.js";
import { nextTokenLosses, spliceSae, zeroNeuron } from "../helpers/forward.js";
import { Sae, densify } from "../../src/sae/sae.js";

const HOOK = "blocks.0.mlp.hook_post";
const L = 16;
let root: string;
let model: HookedTransformer;
let sae: Sae;
let tokenizer: Tokenizer;
let ev: EvaluationTokens;
let feats: InvestigationStore;
let neurons: InvestigationStore;
let dense: Float32Array; // [T × dSae]
let post: Float32Array; // [T × dMlp]
const D_SAE = 48;

function forwardPost(tokens: Int32Array, n: number): Float32Array {
  const { cache } = model.forward(Tape.noGrad(), tokens, n, L, { stopAt: HOOK, cache: [HOOK] });
  return cache.get(HOOK)!.value.data as Float32Array;
}

/** Per-token next-token losses of one sequence with the SAE spliced in, optionally zeroing `feature` at `position`. */
function saeLosses(seq: number, zero: { feature: number; position: number } | null, neuron: { index: number; position: number } | null = null): Float32Array {
  const toks = ev.tokens.subarray(seq * L, (seq + 1) * L);
  if (neuron) return nextTokenLosses(model, toks, HOOK, zeroNeuron(model.cfg.d_mlp, neuron.position, neuron.index));
  return nextTokenLosses(model, toks, HOOK, spliceSae(sae, zero && ((t, f) => t === zero.position && f === zero.feature)));
}

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "saekit-analyze-"));
  const cfg: ModelConfig = { ...DEFAULT_MODEL_CONFIG, d_model: 16, d_mlp: 32, n_heads: 2, d_head: 8, n_ctx: L };
  model = new HookedTransformer(cfg, initWeights(cfg, new Rng(7)));
  sae = new Sae({ architecture: "standard", dIn: 32, dSae: D_SAE, k: null, applyBDecToInput: true });
  initSae(sae, new Rng(8), null);
  for (let f = 0; f < D_SAE; f++) sae.bEnc[f] = f % 3 === 0 ? 0.2 : -0.1;
  sae.bEnc[D_SAE - 1] = -100; // a dead feature
  tokenizer = loadGpt2Tokenizer();
  const prose = tokenizer.encode("The people of the nation are free, and the state of the union is strong. ".repeat(12));
  const code = tokenizer.encode("def area(r):\n    return 3.14 * r * r\n\nprint(area(2))\n".repeat(12));
  const seqs = 6;
  const tokens = new Int32Array(2 * seqs * L);
  tokens.set(Int32Array.from(prose).subarray(0, seqs * L), 0);
  tokens.set(Int32Array.from(code).subarray(0, seqs * L), seqs * L);
  ev = {
    tokens, seqLen: L, sequences: 2 * seqs,
    domains: [
      { domain: "prose", firstSequence: 0, sequences: seqs, validationSequences: seqs },
      { domain: "code", firstSequence: seqs, sequences: seqs, validationSequences: seqs },
    ],
  };
  await analyzeRun({
    run: "T/1", modelName: "T", model, sae, hook: HOOK, tokenizer, evaluation: ev,
    featureDir: path.join(root, "T", "1", "investigation"), neuronDir: path.join(root, "T", "investigation"),
    compare: [{ name: "T/1copy", model, sae, hook: HOOK }],
    options: { batchSequences: 5, topK: 6, intervalCount: 3, intervalSamples: 2, windowBefore: 3, windowAfter: 2, histogramBins: 8 },
  });
  feats = openInvestigation(path.join(root, "T", "1", "investigation"), tokenizer);
  neurons = openInvestigation(path.join(root, "T", "investigation"), tokenizer);
  post = forwardPost(ev.tokens, ev.sequences);
  dense = densify(sae.encode(post, ev.sequences * L), D_SAE);
});
afterAll(() => {
  feats?.close();
  neurons?.close();
  fs.rmSync(root, { recursive: true, force: true });
});

const T = () => ev.sequences * L;
const act = (t: number, f: number) => dense[t * D_SAE + f]!;

describe("analyzeRun", () => {
  it("writes manifests that describe the run, its tokens and its universality", () => {
    const m = feats.manifest;
    expect(m).toMatchObject({ format: "saekit-investigation", version: 1, kind: "feature", name: "T/1", model: "T", units: D_SAE, tokens: T(), seqLen: L });
    expect(m.compare[0]!.name).toBe("T/1copy");
    // Compared with itself, every live feature matches (r = 1 > 0.7).
    expect(m.compare[0]!.thresholds.map((t) => t.fraction)).toEqual([1, 1]);
    const frequent = m.compare[0]!.byDensity![0]!;
    expect(frequent.minDensity).toBe(1e-4);
    expect(frequent.features).toBe(Array.from(feats.columns.density).filter((d) => d >= 1e-4).length);
    expect(frequent.thresholds.map((t) => t.fraction)).toEqual([1, 1]);
    let dead = 0;
    for (let f = 0; f < D_SAE; f++) {
      let fired = false;
      for (let t = 0; t < T() && !fired; t++) fired = act(t, f) > 0;
      if (!fired) dead++;
    }
    expect(dead).toBeGreaterThan(0);
    expect(m.densityHistogram.dead).toBe(dead);
    expect(m.densityHistogram.counts.reduce((a, b) => a + b, 0)).toBe(D_SAE - dead);
    expect(neurons.manifest).toMatchObject({ kind: "neuron", name: "T/neuron", units: 32 });
    // Neurons matched against the compared model's neurons (here the same model: every live neuron finds itself).
    expect(neurons.manifest.compare[0]!.name).toBe("T/neuron");
    expect(neurons.manifest.compare[0]!.thresholds.map((t) => t.fraction)).toEqual([1, 1]);
    const n5 = neurons.unit(5).matches["T/neuron"]!;
    expect(n5).toMatchObject({ name: "T/neuron/5", index: 5 });
    expect(n5.r).toBeCloseTo(1, 4);
    expect(n5.logitR!).toBeCloseTo(1, 4);
    // The neuron store shares the feature store's token file rather than keeping a copy.
    expect(neurons.manifest.tokensFile).toBe(path.join("..", "1", "investigation", "tokens.gz"));
    expect(neurons.manifest.tokensSha256).toBe(m.tokensSha256);
    expect(fs.existsSync(path.join(root, "T", "investigation", "tokens.gz"))).toBe(false);
    expect([...feats.sequence(7)]).toEqual([...ev.tokens.subarray(7 * L, 8 * L)]);
  });

  it("stores density, max, mean and the histogram of every feature as computed directly", () => {
    for (let f = 0; f < D_SAE; f++) {
      let n = 0, sum = 0, max = 0;
      for (let t = 0; t < T(); t++) {
        const a = act(t, f);
        if (a > 0) (n++, (sum += a), (max = Math.max(max, a)));
      }
      const u = feats.unit(f);
      expect(u.firing).toBe(n);
      expect(u.density).toBeCloseTo(n / T(), 6);
      expect(u.maxActivation).toBeCloseTo(max, 3);
      expect(u.meanActivation).toBeCloseTo(n ? sum / n : 0, 3);
      expect(u.histogram.counts.reduce((a, b) => a + b, 0)).toBe(n);
      expect(feats.columns.density[f]).toBeCloseTo(n / T(), 6);
    }
    expect(feats.unit(D_SAE - 1).label).toBe("(never fires)");
  });

  it("keeps the top examples with their windows, activations and ablation effects (checked by full forward passes)", () => {
    const f = 0;
    const u = feats.unit(f);
    expect(u.top.length).toBe(6);
    const all: number[] = [];
    for (let t = 0; t < T(); t++) if (act(t, f) > 0) all.push(act(t, f));
    all.sort((a, b) => b - a);
    u.top.forEach((e, i) => expect(e.activation).toBeCloseTo(all[i]!, 3));
    const e = u.top[0]!;
    expect(e.domain).toBe(e.sequence < 6 ? "prose" : "code");
    expect(e.start).toBe(Math.max(0, e.position - 3));
    const clean = saeLosses(e.sequence, null);
    for (const [i, tok] of e.tokens.entries()) {
      const q = e.start + i;
      const t = e.sequence * L + q;
      expect(tok.id).toBe(ev.tokens[t]);
      // Window activations are stored as 0…255 of the unit's max: within half a step.
      expect(Math.abs(tok.activation - act(t, f))).toBeLessThanOrEqual(u.maxActivation / 510 + 1e-3);
      if (q === L - 1) expect(tok.logprobDelta).toBeNull();
      else if (act(t, f) > 0) {
        const ablated = saeLosses(e.sequence, { feature: f, position: q });
        // Δ log P(next) = −(loss ablated − loss clean); stored with 3 significant digits.
        expect(tok.logprobDelta!).toBeCloseTo(clean[q]! - ablated[q]!, 2);
      } else expect(tok.logprobDelta).toBe(0);
    }
  });

  it("samples interval examples inside their intervals and estimates the mean loss effect from them", () => {
    const u = feats.unit(3);
    let sampled = 0;
    for (const iv of u.intervals) {
      for (const ex of iv.examples) {
        expect(ex.activation).toBeGreaterThanOrEqual(iv.lo * 0.999);
        expect(ex.activation).toBeLessThanOrEqual(iv.hi * 1.001);
        if (ex.position < L - 1) sampled++;
      }
    }
    expect(u.ablation.sampled).toBe(sampled);
    expect(u.ablation.meanLossEffect).not.toBeNull();
    expect(u.ablation.lossEffectPerToken!).toBeCloseTo(u.ablation.meanLossEffect! * u.density, 6);
  });

  it("scores the top-token proxy: specificity, sensitivity and per-bin LLR against a direct count", () => {
    const f = 0;
    const u = feats.unit(f);
    const set = new Set(u.top.map((e) => e.tokens[e.position - e.start]!.id));
    let mass = 0, proxyMass = 0, firing = 0, proxyFiring = 0, proxyTokens = 0;
    for (let t = 0; t < T(); t++) {
      const inSet = set.has(ev.tokens[t]!);
      if (inSet) proxyTokens++;
      const a = act(t, f);
      if (a > 0) {
        firing++;
        mass += a;
        if (inSet) (proxyFiring++, (proxyMass += a));
      }
    }
    const p = u.proxy!;
    expect(p.proxyTokens).toBe(proxyTokens);
    expect(p.specificity).toBeCloseTo(proxyMass / mass, 3);
    expect(p.specificityFiring).toBeCloseTo(proxyFiring / firing, 3);
    expect(p.sensitivity).toBeCloseTo(proxyFiring / proxyTokens, 3);
    expect(p.bins.map((b) => b.count)).toEqual(u.histogram.counts);
    // LLR of an in-set token: log((N + αV) / (N_p + αV)), α = 0.5.
    const aV = 0.5 * model.cfg.d_vocab;
    const inSetLlr = Math.log((T() + aV) / (proxyTokens + aV));
    const top = p.bins.at(-1)!;
    if (top.proxyCount === top.count) expect(top.meanLlr!).toBeCloseTo(inSetLlr, 3);
  });

  it("finds the most correlated neuron and the decoder's neuron alignment", () => {
    const f = 0;
    const u = feats.unit(f);
    const pearson = (n: number) => {
      let sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
      const N = T();
      for (let t = 0; t < N; t++) {
        const x = act(t, f), y = post[t * 32 + n]!;
        sx += x; sy += y; sxx += x * x; syy += y * y; sxy += x * y;
      }
      return (N * sxy - sx * sy) / Math.sqrt((N * sxx - sx * sx) * (N * syy - sy * sy));
    };
    const rs = Array.from({ length: 32 }, (_, n) => pearson(n));
    const best = rs.indexOf(Math.max(...rs));
    expect(u.neurons!.correlated[0]!.index).toBe(best);
    expect(u.neurons!.correlated[0]!.r).toBeCloseTo(rs[best]!, 3);
    expect(u.neurons!.correlated[0]!.name).toBe(`T/neuron/${best}`);
    const row = Array.from(sae.dec.subarray(f * 32, (f + 1) * 32));
    const biggest = row.map((v, i) => [Math.abs(v), i] as const).sort((a, b) => b[0] - a[0])[0]![1];
    expect(u.neurons!.alignment[0]!.neuron).toBe(biggest);
    expect(feats.columns.bestNeuron[f]).toBe(best);
  });

  it("matches each feature to itself in a compared copy, with logit-weight r = 1", () => {
    const u = feats.unit(0);
    expect(u.matches["T/1copy"]).toMatchObject({ name: "T/1copy/0", index: 0 });
    expect(u.matches["T/1copy"]!.r).toBeCloseTo(1, 4);
    expect(u.matches["T/1copy"]!.logitR!).toBeCloseTo(1, 4);
  });

  it("stores neurons with examples from the hook activations and neuron ablations checked by full forwards", () => {
    const n = 5;
    const u = neurons.unit(n);
    let max = 0;
    for (let t = 0; t < T(); t++) max = Math.max(max, post[t * 32 + n]!);
    expect(u.maxActivation).toBeCloseTo(max, 3);
    expect(u.neurons).toBeNull();
    const e = u.top.find((x) => x.position < L - 1)!;
    const centre = e.tokens[e.position - e.start]!;
    expect(centre.activation).toBeCloseTo(post[(e.sequence * L + e.position) * 32 + n]!, 2);
    // Neurons are ablated in the clean model (no SAE): compare with a forward that zeroes the neuron.
    const toks = ev.tokens.subarray(e.sequence * L, (e.sequence + 1) * L);
    const targets = new Int32Array(L).fill(-1);
    targets.set(toks.subarray(1), 0);
    const clean = new Float32Array(L);
    model.forwardLoss(Tape.noGrad(), toks, 1, L, targets, { ignoreIndex: -1, perToken: clean });
    const ablated = saeLosses(e.sequence, null, { index: n, position: e.position });
    expect(centre.logprobDelta!).toBeCloseTo(clean[e.position]! - ablated[e.position]!, 2);
  });

  it("stores each unit's interpretability: its best proxy's spec and sens recomputed densely, and the summaries", () => {
    // Token texts → ids over the evaluation tokens (the proxy spec names tokens by text).
    const idOf = new Map<string, number>();
    for (const id of ev.tokens) idOf.set(tokenizer.tokenText(id), id);
    const domainOf = (t: number) => (Math.floor(t / L) < 6 ? "prose" : "code");
    const holds = (spec: string): ((t: number) => boolean) => {
      const bigram = /^bigram:(.*)$/.exec(spec);
      if (bigram) {
        const pairs = (JSON.parse(bigram[1]!) as [string, string][]).map(([p, c]) => `${idOf.get(p)},${idOf.get(c)}`);
        return (t) => t % L > 0 && pairs.includes(`${ev.tokens[t - 1]},${ev.tokens[t]}`);
      }
      const after = /^after:(.*)$/.exec(spec);
      if (after) {
        const prev = new Set((JSON.parse(after[1]!) as string[]).map((x) => idOf.get(x)));
        return (t) => t % L > 0 && prev.has(ev.tokens[t - 1]!);
      }
      const m = /^tokens:(\[.*\])(?: in:(prose|code))?$/.exec(spec)!;
      const ids = new Set((JSON.parse(m[1]!) as string[]).map((x) => idOf.get(x)));
      return (t) => ids.has(ev.tokens[t]!) && (m[2] === undefined || domainOf(t) === m[2]);
    };
    const check = (store: InvestigationStore, activation: (t: number, u: number) => number, units: number) => {
      const scores: number[] = [];
      for (let u = 0; u < units; u++) {
        const r = store.unit(u).interpretability!;
        if (store.columns.density[u] === 0) {
          expect(r).toBeNull();
          continue;
        }
        const inP = holds(r.proxy);
        let mass = 0, pMass = 0, pFired = 0, pTokens = 0;
        for (let t = 0; t < T(); t++) {
          const a = Math.max(0, activation(t, u));
          mass += a;
          if (inP(t)) (pTokens++, (pMass += a), a > 0 && pFired++);
        }
        expect(r.spec).toBeCloseTo(pMass / mass, 3);
        expect(r.sens).toBeCloseTo(pFired / pTokens, 3);
        expect(r.score).toBeCloseTo((2 * r.spec * r.sens) / (r.spec + r.sens), 3);
        expect(store.columns.interpScore[u]).toBeCloseTo(r.score, 3);
        scores.push(r.score);
      }
      return scores.sort((a, b) => a - b);
    };
    const fScores = check(feats, act, D_SAE);
    const nScores = check(neurons, (t, n) => post[t * 32 + n]!, 32);
    const median = (s: number[]) => (s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2);
    const summary = JSON.parse(fs.readFileSync(path.join(root, "T", "1", "investigation", "summary.json"), "utf8"));
    expect(summary.interpretability.features.median).toBeCloseTo(median(fScores), 3);
    expect(summary.interpretability.features.live).toBe(fScores.length);
    expect(fScores.length).toBe([...feats.columns.density].filter((d) => d > 0).length);
    expect(summary.interpretability.neurons.median).toBeCloseTo(median(nScores), 3);
    expect(feats.manifest.interpretability).toEqual(summary.interpretability);
    const live = [...feats.columns.density].findIndex((d) => d > 0);
    expect(feats.search(`T/1/${live}`)[0]!.score).toBeCloseTo(feats.unit(live).interpretability!.score, 3);
  });

  it("searches by name, label and top token", () => {
    expect(feats.search("T/1/3")[0]).toMatchObject({ index: 3, field: "name" });
    const e = feats.unit(0).top[0]!;
    const token = e.tokens[e.position - e.start]!.text;
    expect(feats.search(token).some((h) => h.index === 0)).toBe(true);
  });
});
