/**
 * The two token passes of `analyze` before the ablations (analyze.ts' module doc):
 *   1. activationPass: codes (kept sparse in a CodeStore), feature and neuron activation statistics (density, max,
 *      top-K), the token ids holding each unit's activation mass and those of the token before (heavy-hitters.ts:
 *      the score's mass candidates), feature × neuron correlations, feature × feature correlations with each compared SAE run (its
 *      model and SAE on the same tokens), neuron × neuron correlations with each compared model.
 *   2. histogramPass: histograms and interval samples (they need each unit's max), the proxy bins of each
 *      unit's automatic proxy (the set of its top-activating tokens), and the interpretability score's proxy search
 *      over candidates drawn from the same top examples and from pass 1's mass heavy hitters (interpretability.ts).
 */
import { kernels } from "../core/backend.js";
import { Tape } from "../core/autograd.js";
import type { HookedTransformer } from "../model/transformer.js";
import type { Sae, SparseCodes } from "../sae/sae.js";
import { CodeStore } from "./code-store.js";
import { DenseColumnCorrelation } from "./correlation.js";
import { DomainMass } from "./domain-share.js";
import type { EvaluationTokens } from "./eval-tokens.js";
import { FeatureFeatureCorrelation, FeatureNeuronCorrelation } from "./feature-correlation.js";
import { FeatureStatsAccumulator, type FeatureStats, type FeatureStatsOptions, type TokenActivation } from "./feature-stats.js";
import { ExactTokenMass, MassHeavyHitters, pairKeys, positionKeys, type TokenMassRanking } from "./heavy-hitters.js";
import { MAX_BIGRAMS, MAX_MASS_TOKENS, MAX_PREVIOUS_CANDIDATES, ProxySearch } from "./interpretability.js";
import { candidatesFromTop, mergeMassCandidates } from "./proxy-candidates.js";
import { TokenSetLlr, TokenSetProxyBins } from "./proxy-stats.js";
import { rankTopTokens } from "./store/format.js";

/** Another SAE run whose features (and whose model's neurons) the analysed units are matched against. */
export interface CompareSae {
  /** Its unit-set name, e.g. "B/1". */
  name: string;
  model: HookedTransformer;
  sae: Sae;
  hook: string;
}

export interface PassContext {
  model: HookedTransformer;
  sae: Sae;
  hook: string;
  evaluation: EvaluationTokens;
  compare: CompareSae[];
  /** SAE runs of the same model and hook (analyze --family) encoded on the same activations; their codes are kept. */
  family?: Sae[];
  neurons: boolean;
  batchSequences: number;
  stats: Omit<FeatureStatsOptions, "dSae">;
  progress: (stage: string, doneTokens: number) => void;
}

function forwardTo(model: HookedTransformer, tokens: Int32Array, batch: number, seq: number, hook: string): Float32Array {
  const { cache } = model.forward(Tape.noGrad(), tokens, batch, seq, { stopAt: hook, cache: [hook] });
  return cache.get(hook)!.value.data as Float32Array;
}

/** Every positive neuron activation of x [rows, d_mlp] as sparse codes (so neurons share the features' statistics). */
function neuronCodes(x: Float32Array, rows: number, dMlp: number): SparseCodes {
  const values = new Float32Array(rows * dMlp);
  const indices = new Int32Array(rows * dMlp);
  kernels().positiveRowsToSparse(x, rows, dMlp, dMlp, values, indices, new Int32Array(rows));
  return { rows, k: dMlp, indices, values };
}

/** Per unit, the token ids holding its activation mass, those of the token before, and (features) the bigram keys. */
export interface UnitMass {
  current: TokenMassRanking;
  previous: TokenMassRanking;
  /** Keys previous·d_vocab + current; absent for the neurons (no exact table of V² pairs, and sketching 512 dense units per row costs more than it is worth). */
  pairs?: TokenMassRanking;
}

export interface ActivationPassResult {
  codes: CodeStore;
  featStats: FeatureStatsAccumulator;
  neuronStats: FeatureStatsAccumulator | null;
  neuronCorr: FeatureNeuronCorrelation;
  ffCorr: FeatureFeatureCorrelation[];
  nnCorr: DenseColumnCorrelation[];
  /** Codes of each ctx.family run over the same tokens (family.ts). */
  familyCodes: CodeStore[];
  /**
   * Per feature, the token ids holding its activation mass, and the ids of the token before (space-saving sketches);
   * histogramPass reads them into its candidates and sets them to null (so later steps do not hold them).
   */
  featureMass: UnitMass | null;
  /** The same for the neurons, exact (ExactTokenMass); null without neurons. */
  neuronMass: UnitMass | null;
}

export async function activationPass(ctx: PassContext): Promise<ActivationPassResult> {
  const { model, sae, hook, evaluation: ev, compare } = ctx;
  const dMlp = model.cfg.d_mlp;
  const L = ev.seqLen;
  const B = ctx.batchSequences;
  const featStats = new FeatureStatsAccumulator({ dSae: sae.dSae, ...ctx.stats });
  const neuronStats = ctx.neurons ? new FeatureStatsAccumulator({ dSae: dMlp, ...ctx.stats }) : null;
  const neuronCorr = new FeatureNeuronCorrelation(sae.dSae, dMlp);
  const ffCorr = compare.map((c) => new FeatureFeatureCorrelation(sae.dSae, c.sae.dSae));
  // Neuron universality: the same question for the raw MLP neurons of the two models (the paper's baseline).
  const nnCorr = ctx.neurons ? compare.map((c) => new DenseColumnCorrelation(dMlp, c.model.cfg.d_mlp)) : [];
  const codes = new CodeStore(ev.sequences * L, 24);
  const familyCodes = (ctx.family ?? []).map(() => new CodeStore(ev.sequences * L, 24));
  const V = model.cfg.d_vocab;
  const featureMass = { current: new MassHeavyHitters(sae.dSae), previous: new MassHeavyHitters(sae.dSae), pairs: new MassHeavyHitters(sae.dSae) };
  const neuronMass = ctx.neurons ? { current: new ExactTokenMass(dMlp, V), previous: new ExactTokenMass(dMlp, V) } : null;
  for (let s = 0; s < ev.sequences; s += B) {
    const n = Math.min(B, ev.sequences - s);
    const rows = n * L;
    const toks = ev.tokens.subarray(s * L, (s + n) * L);
    const x = forwardTo(model, toks, n, L, hook);
    const c = sae.encode(x, rows);
    codes.append(c);
    ctx.family?.forEach((f, i) => familyCodes[i]!.append(f.encode(x, rows)));
    featStats.addPass1(c, s, L);
    const before = positionKeys(toks, L, true); // batches hold whole sequences: position 0 of each has no token before
    featureMass.current.addRows(toks, rows, c.k, c.indices, c.values);
    featureMass.previous.addRows(before, rows, c.k, c.indices, c.values);
    featureMass.pairs.addRows(pairKeys(toks, L, V), rows, c.k, c.indices, c.values);
    if (neuronMass) {
      neuronMass.current.addDense(toks, rows, x);
      neuronMass.previous.addDense(before, rows, x);
    }
    neuronCorr.add(c, x);
    if (neuronStats) neuronStats.addPass1(neuronCodes(x, rows, dMlp), s, L);
    compare.forEach((cmp, i) => {
      const xb = forwardTo(cmp.model, toks, n, L, cmp.hook);
      ffCorr[i]!.add(c, cmp.sae.encode(xb, rows));
      nnCorr[i]?.add(x, xb, rows);
    });
    ctx.progress("pass 1/3: activations, codes, correlations", (s + n) * L);
    await new Promise((r) => setImmediate(r));
  }
  return { codes, featStats, neuronStats, neuronCorr, ffCorr, nnCorr, familyCodes, featureMass, neuronMass };
}

export interface HistogramPassResult {
  features: FeatureStats;
  neurons: FeatureStats | null;
  /** Per unit, its automatic proxy: the distinct ids of its top-activating tokens, most frequent first. */
  featureSets: number[][];
  neuronSets: number[][];
  featureProxy: TokenSetProxyBins;
  neuronProxy: TokenSetProxyBins | null;
  /** The interpretability score's candidate statistics (best proxy per unit: .results()). */
  featureSearch: ProxySearch;
  neuronSearch: ProxySearch | null;
  /** Per unit, the share of its activation mass on code tokens (domain-share.ts; NaN for dead units). */
  featureCodeShare: Float32Array;
  neuronCodeShare: Float32Array | null;
}

/** Distinct token ids of a unit's top examples, most frequent first. */
function topTokenIds(top: TokenActivation[], tokens: Int32Array, seqLen: number): number[] {
  return rankTopTokens(top.map((e) => tokens[e.sequence * seqLen + e.position]!));
}

export async function histogramPass(ctx: PassContext, p1: ActivationPassResult, llrAlpha: number): Promise<HistogramPassResult> {
  const { model, hook, evaluation: ev } = ctx;
  const { codes, featStats, neuronStats } = p1;
  const dMlp = model.cfg.d_mlp;
  const V = model.cfg.d_vocab;
  const L = ev.seqLen;
  const B = ctx.batchSequences;
  const bins = ctx.stats.histogramBins!;
  const unigram = new Float64Array(V);
  for (let i = 0; i < ev.sequences * L; i++) unigram[ev.tokens[i]!]! += 1;
  // Pass-1 results (max, top-K) are read before pass 2 starts; pass 2 only adds histograms and intervals.
  const pass1F = featStats.result();
  const pass1N = neuronStats?.result() ?? null;
  featStats.startPass2();
  neuronStats?.startPass2();
  const featureSets = Array.from({ length: pass1F.maxActivation.length }, (_, f) => topTokenIds(pass1F.top(f), ev.tokens, L));
  const featureProxy = new TokenSetProxyBins(new TokenSetLlr(unigram, featureSets, llrAlpha), bins, pass1F.maxActivation);
  const neuronSets = pass1N ? Array.from({ length: dMlp }, (_, n) => topTokenIds(pass1N.top(n), ev.tokens, L)) : [];
  const neuronProxy = pass1N ? new TokenSetProxyBins(new TokenSetLlr(unigram, neuronSets, llrAlpha), bins, pass1N.maxActivation) : null;
  // The score's candidates: the same top examples as the automatic proxy (its ranking, and their bigrams), then the
  // ids holding the most mass (pass 1's heavy hitters; interpretability.ts' mergeMassCandidates).
  const domainNames = ev.domains.map((d) => d.domain);
  const domainOf = new Int32Array(ev.sequences);
  ev.domains.forEach((d, i) => domainOf.fill(i, d.firstSequence, d.firstSequence + d.sequences));
  const candidates = (set: number[], top: TokenActivation[], mass: UnitMass | null, u: number) => {
    const fromTop = candidatesFromTop(set, top, ev.tokens, L);
    return mass ? mergeMassCandidates(fromTop, mass.current.top(u, MAX_MASS_TOKENS), mass.previous.top(u, MAX_PREVIOUS_CANDIDATES), mass.pairs?.top(u, MAX_BIGRAMS) ?? [], V) : fromTop;
  };
  const featureSearch = new ProxySearch(featureSets.map((set, f) => candidates(set, pass1F.top(f), p1.featureMass, f)), V, domainNames);
  const neuronSearch = pass1N ? new ProxySearch(neuronSets.map((set, n) => candidates(set, pass1N.top(n), p1.neuronMass, n)), V, domainNames) : null;
  p1.featureMass = null;
  p1.neuronMass = null;
  const featureDomains = new DomainMass(pass1F.maxActivation.length, domainNames);
  const neuronDomains = pass1N ? new DomainMass(dMlp, domainNames) : null;
  for (let s = 0; s < ev.sequences; s += B) {
    const n = Math.min(B, ev.sequences - s);
    const rows = n * L;
    const first = s * L;
    const c = codes.batch(first, rows);
    featStats.addPass2(c, s, L);
    for (let r = 0; r < rows; r++) {
      const tok = ev.tokens[first + r]!;
      const start = codes.rowStart[first + r]!;
      const end = codes.rowStart[first + r + 1]!;
      for (let e = start; e < end; e++) featureProxy.add(codes.indices[e]!, tok, codes.values[e]!);
      const prev = r % L === 0 ? -1 : ev.tokens[first + r - 1]!;
      featureSearch.addSparse(tok, prev, domainOf[s + Math.floor(r / L)]!, codes.indices, codes.values, start, end);
      featureDomains.addSparse(domainOf[s + Math.floor(r / L)]!, codes.indices, codes.values, start, end);
    }
    if (neuronStats && neuronProxy) {
      const x = forwardTo(model, ev.tokens.subarray(first, first + rows), n, L, hook);
      neuronStats.addPass2(neuronCodes(x, rows, dMlp), s, L);
      for (let r = 0; r < rows; r++) {
        const tok = ev.tokens[first + r]!;
        const domain = domainOf[s + Math.floor(r / L)]!;
        for (let u = 0; u < dMlp; u++) {
          const v = x[r * dMlp + u]!;
          if (v > 0) {
            neuronProxy.add(u, tok, v);
            neuronDomains!.add(domain, u, v);
          }
        }
        const prev = r % L === 0 ? -1 : ev.tokens[first + r - 1]!;
        neuronSearch!.addDense(tok, prev, domainOf[s + Math.floor(r / L)]!, x, r * dMlp);
      }
    }
    ctx.progress("pass 2/3: histograms, intervals, proxies", first + rows);
    await new Promise((r) => setImmediate(r));
  }
  return {
    features: featStats.result(), neurons: neuronStats?.result() ?? null, featureSets, neuronSets, featureProxy, neuronProxy, featureSearch, neuronSearch,
    featureCodeShare: featureDomains.share(), neuronCodeShare: neuronDomains?.share() ?? null,
  };
}
