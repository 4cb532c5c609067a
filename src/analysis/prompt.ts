/**
 * The prompt-centric view: run a prompt through the model with the SAE spliced in, list the features that fire at
 * each token, and rank features for the whole prompt by max activation, by their effect on the next-token loss
 * when zeroed (exact, through the final residual: see ablation.ts), and by their direct effect on the actual next
 * token's logit (activation × the feature's logit weight for that token, through ln_final at that token's scale).
 *
 * Per token it also gives the prediction made there: the model's top next tokens and every active feature's part in
 * that one prediction (its direct logit effect and its loss effect when zeroed at that token alone) for the actual
 * next token, or at the last token for the model's top prediction.
 */
import type { Tokenizer } from "../data/tokenizer.js";
import type { HookedTransformer } from "../model/transformer.js";
import type { Sae } from "../sae/sae.js";
import { unembed } from "../model/readout.js";
import { topNextTokens } from "./next-token.js";
import { roundTo } from "./store/format.js";
import { NextTokenScorer, ablatedRows, checkAblationHook, outputDirections, splicedResiduals } from "./ablation.js";
import type { PredictionFeature, PromptAnalysis, PromptFeatureScore, PromptTokenFeatures } from "./unit-record.js";

export class PromptError extends Error {
  override name = "PromptError";
}

export interface PromptContext {
  /** The SAE run's name, e.g. "A/1". */
  run: string;
  model: HookedTransformer;
  sae: Sae;
  tokenizer: Tokenizer;
  hook: string;
  labels?: (index: number) => string | null;
}

export interface PromptOptions {
  /** Longest prompt in tokens (default and maximum: the model's n_ctx). */
  maxTokens?: number;
  /** Features listed per token (default 10). */
  featuresPerToken?: number;
  /** Entries per ranking (default 25). */
  rankingSize?: number;
  /** Most probable next tokens listed per token (default 10). */
  nextTokens?: number;
}

/** Per-token prediction figures are sent rounded to 4 significant digits (a prompt carries every active feature's). */
const r4 = (v: number) => roundTo(v, 4);

const scorers = new WeakMap<HookedTransformer, NextTokenScorer>();
const directionCache = new WeakMap<Sae, Float32Array>();

function scorerFor(model: HookedTransformer): NextTokenScorer {
  let s = scorers.get(model);
  if (!s) scorers.set(model, (s = new NextTokenScorer(model, 64)));
  return s;
}

function directionsFor(model: HookedTransformer, sae: Sae): Float32Array {
  let d = directionCache.get(sae);
  if (!d) directionCache.set(sae, (d = outputDirections(model, sae)));
  return d;
}

export function analyzePrompt(ctx: PromptContext, text: string, options: PromptOptions = {}): PromptAnalysis {
  const { model, sae, tokenizer, hook } = ctx;
  checkAblationHook(model, hook);
  if (typeof text !== "string" || text.trim() === "") throw new PromptError("the prompt is empty");
  const nCtx = model.cfg.n_ctx;
  const maxTokens = Math.min(options.maxTokens ?? nCtx, nCtx);
  const ids = Int32Array.from(tokenizer.encode(text));
  const n = ids.length;
  if (n === 0) throw new PromptError("the prompt has no tokens");
  if (n > maxTokens) {
    throw new PromptError(`the prompt has ${n} tokens; at most ${maxTokens} fit (the model's context is ${nCtx} tokens)`);
  }
  const perTokenCount = options.featuresPerToken ?? 10;
  const rankingSize = options.rankingSize ?? 25;
  const d = model.cfg.d_model;
  const dVocab = model.cfg.d_vocab;

  const { resid, codes } = splicedResiduals(model, sae, hook, ids, 1, n);
  const scorer = scorerFor(model);
  const scored = n - 1;
  // Each token's target: the actual next token, and at the last token the model's top prediction.
  const nextK = Math.max(1, Math.min(options.nextTokens ?? 10, dVocab));
  const actualNext = new Int32Array(n).fill(-1);
  actualNext.set(ids.subarray(1));
  const top = topNextTokens(model, resid, n, nextK, actualNext);
  const targets = Int32Array.from(actualNext);
  targets[n - 1] = top.ids[(n - 1) * nextK]!;
  const clean = scorer.losses(resid, n, targets);

  // Every (token, feature) pair that fires: one ablated row each (the last token's rows only feed its prediction).
  const pairRow: number[] = [];
  const pairUnit: number[] = [];
  const pairAct: number[] = [];
  const K = codes.k;
  for (let t = 0; t < n; t++) {
    for (let j = 0; j < K; j++) {
      const f = codes.indices[t * K + j]!;
      const a = codes.values[t * K + j]!;
      if (f >= 0 && a > 0) {
        pairRow.push(t);
        pairUnit.push(f);
        pairAct.push(a);
      }
    }
  }
  const directions = directionsFor(model, sae);
  const P = pairRow.length;
  const rows = new Float32Array(P * d);
  const rowIdx = Int32Array.from(pairRow);
  const unitIdx = Int32Array.from(pairUnit);
  const acts = Float32Array.from(pairAct);
  ablatedRows(resid, directions, d, rowIdx, unitIdx, acts, P, rows);
  const pairTargets = new Int32Array(P);
  for (let i = 0; i < P; i++) pairTargets[i] = targets[rowIdx[i]!]!;
  const ablated = P > 0 ? scorer.losses(rows, P, pairTargets) : new Float32Array(0);

  // Direct logit effect: a · rstd_t · Σ_m (u_f,m − mean u_f) · w_m · W_U[m, next] (ln_final linearised at token t).
  const { wU, lnW, norm } = unembed(model);
  const hasLn = norm !== null;
  const rstd = new Float64Array(n);
  for (let t = 0; t < n; t++) {
    if (!hasLn) {
      rstd[t] = 1;
      continue;
    }
    let mean = 0;
    for (let m = 0; m < d; m++) mean += resid[t * d + m]!;
    mean /= d;
    let v = 0;
    for (let m = 0; m < d; m++) v += (resid[t * d + m]! - mean) ** 2;
    rstd[t] = 1 / Math.sqrt(v / d + model.cfg.eps);
  }

  type Acc = { max: number; maxPos: number; loss: number; lossPos: number; lossAbs: number; logit: number; logitPos: number };
  const acc = new Map<number, Acc>();
  const get = (f: number): Acc => {
    let a = acc.get(f);
    if (!a) acc.set(f, (a = { max: 0, maxPos: 0, loss: 0, lossPos: 0, lossAbs: -1, logit: -Infinity, logitPos: 0 }));
    return a;
  };
  const tokens: PromptTokenFeatures[] = [];
  for (let t = 0; t < n; t++) {
    const feats: { name: string; index: number; activation: number }[] = [];
    for (let j = 0; j < K; j++) {
      const f = codes.indices[t * K + j]!;
      const a = codes.values[t * K + j]!;
      if (f < 0 || !(a > 0)) continue;
      feats.push({ name: `${ctx.run}/${f}`, index: f, activation: a });
      const s = get(f);
      if (a > s.max) {
        s.max = a;
        s.maxPos = t;
      }
    }
    feats.sort((x, y) => y.activation - x.activation || x.index - y.index);
    const entry: PromptTokenFeatures = { id: ids[t]!, text: tokenizer.tokenText(ids[t]!), features: feats.slice(0, perTokenCount), loss: t < scored ? clean[t]! : null };
    if (tokenizer.tokenBytes) entry.bytes = Array.from(tokenizer.tokenBytes(ids[t]!));
    const prob = (id: number, p: number) => ({ id, text: tokenizer.tokenText(id), prob: r4(p) });
    const topHere = Array.from({ length: nextK }, (_, j) => prob(top.ids[t * nextK + j]!, top.probs[t * nextK + j]!));
    entry.prediction = {
      top: topHere,
      target: t < scored ? { ...prob(targets[t]!, top.targetProbs[t]!), actual: true } : { ...topHere[0]!, actual: false },
      features: [],
    };
    tokens.push(entry);
  }
  for (let i = 0; i < P; i++) {
    const t = rowIdx[i]!;
    const f = unitIdx[i]!;
    const delta = ablated[i]! - clean[t]!;
    const next = targets[t]!;
    const u = directions.subarray(f * d, (f + 1) * d);
    let mean = 0;
    if (hasLn) {
      for (let m = 0; m < d; m++) mean += u[m]!;
      mean /= d;
    }
    let dot = 0;
    for (let m = 0; m < d; m++) dot += (u[m]! - mean) * (lnW ? lnW[m]! : 1) * wU[m * dVocab + next]!;
    const effect = acts[i]! * rstd[t]! * dot;
    const part: PredictionFeature = { name: `${ctx.run}/${f}`, index: f, activation: r4(acts[i]!), logitEffect: r4(effect), lossEffect: r4(delta) };
    tokens[t]!.prediction!.features.push(part);
    if (t >= scored) continue; // the whole-prompt rankings score actual next tokens only
    const s = get(f);
    s.loss += delta;
    if (Math.abs(delta) > s.lossAbs) {
      s.lossAbs = Math.abs(delta);
      s.lossPos = t;
    }
    if (effect > s.logit) {
      s.logit = effect;
      s.logitPos = t;
    }
  }
  for (const t of tokens) t.prediction!.features.sort((x, y) => y.activation - x.activation || x.index - y.index);
  const label = (f: number) => ctx.labels?.(f) ?? null;
  const ranking = (value: (s: Acc) => number, pos: (s: Acc) => number, keep: (s: Acc) => boolean): PromptFeatureScore[] =>
    [...acc.entries()]
      .filter(([, s]) => keep(s))
      .map(([f, s]) => ({ name: `${ctx.run}/${f}`, index: f, value: value(s), position: pos(s), label: label(f) }))
      .sort((a, b) => b.value - a.value || a.index - b.index)
      .slice(0, rankingSize);
  return {
    run: ctx.run,
    text,
    tokens,
    rankings: {
      maxActivation: ranking((s) => s.max, (s) => s.maxPos, (s) => s.max > 0),
      lossEffect: ranking((s) => s.loss, (s) => s.lossPos, (s) => s.lossAbs >= 0),
      logitEffect: ranking((s) => s.logit, (s) => s.logitPos, (s) => Number.isFinite(s.logit)),
    },
  };
}
