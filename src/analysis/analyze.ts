/**
 * `saekit analyze`: the detailed investigation of every feature of an SAE run (and of every MLP neuron of its
 * model), streamed over the evaluation tokens and written to investigation stores (store.ts).
 *
 * Three passes over the tokens, each a forward pass of the model in batches of sequences:
 *   1. codes (kept sparse in a CodeStore), feature and neuron activation statistics (density, max, top-K),
 *      feature × neuron correlations, feature × feature correlations with each compared run (its model and SAE
 *      run on the same tokens), unigram counts.
 *   2. histograms and interval samples (they need each unit's max), and the proxy bins: by default each unit's
 *      proxy is the set of its top-activating tokens, scored per activation bin with the log-likelihood ratio.
 *   3. ablations of the examples: each (unit, token) is one extra final-residual row (ablation.ts).
 * Per-unit weights work (logit weights, neuron alignment, universality logit correlation) needs no tokens.
 */
import { kernels } from "../core/backend.js";
import { Tape } from "../core/autograd.js";
import type { Tokenizer } from "../data/tokenizer.js";
import type { HookedTransformer } from "../model/transformer.js";
import type { Sae, SparseCodes } from "../sae/sae.js";
import { NextTokenScorer, checkAblationHook, featureResidualDirections, neuronResidualDirections } from "./ablation.js";
import { CodeStore } from "./code-store.js";
import { DenseColumnCorrelation, FeatureFeatureCorrelation, FeatureNeuronCorrelation, pearsonFromSums, neuronAlignment, type FeatureFeatureCorrelationResult } from "./correlation.js";
import type { EvaluationTokens } from "./eval-tokens.js";
import { FeatureStatsAccumulator, binOf, type FeatureStats, type TokenActivation } from "./feature-stats.js";
import type { InvestigationManifest, UniversalitySummary, UnitKind } from "./investigation.js";
import { logitWeightSummaries, logitWeights } from "./logit-weights.js";
import { DEFAULT_LLR_ALPHA, llrOffset } from "./proxy.js";
import { InvestigationWriter, autoProxySpec, rankTopTokens, tokenDtype, type StoredExample, type StoredProxy, type StoredUnit } from "./store.js";

export interface AnalyzeOptions {
  /** Max-activating examples per unit (default 20). */
  topK?: number;
  histogramBins?: number;
  intervalCount?: number;
  intervalSamples?: number;
  /** Tokens shown before / after an example's token (default 8 / 4). */
  windowBefore?: number;
  windowAfter?: number;
  /** Tokens in the top and bottom logit lists (default 10). */
  logitTop?: number;
  /** Sequences per forward pass (default 32). */
  batchSequences?: number;
  seed?: number;
  /** Smoothing of the proxy log-likelihood ratio (default DEFAULT_LLR_ALPHA, 0.5). */
  llrAlpha?: number;
}

export interface CompareRun {
  /** e.g. "B/1". */
  name: string;
  model: HookedTransformer;
  sae: Sae;
  hook: string;
}

export interface AnalyzeProgress {
  stage: string;
  done: number;
  total: number;
}

export interface AnalyzeInput {
  /** The SAE run, e.g. "A/1", and its model, e.g. "A". */
  run: string;
  modelName: string;
  model: HookedTransformer;
  sae: Sae;
  hook: string;
  tokenizer: Tokenizer;
  evaluation: EvaluationTokens;
  /** Where the feature store goes (…/A/1/investigation). */
  featureDir: string;
  /** Where the model's neuron store goes (…/A/investigation), or null to skip neurons. */
  neuronDir: string | null;
  compare?: CompareRun[];
  saeSummary?: InvestigationManifest["sae"];
  /** A store over the same tokens (e.g. a compared run's) whose token file to point at instead of a copy. */
  shareTokensWith?: string;
  options?: AnalyzeOptions;
  onProgress?: (p: AnalyzeProgress) => void;
}

export interface AnalyzeResult {
  /** Seconds per stage, plus tokens/s over the whole run. */
  timing: Record<string, number>;
  universality: UniversalitySummary[];
  /** The same for the model's neurons against each compared model's neurons (when neurons are analysed). */
  neuronUniversality: UniversalitySummary[];
  tokens: number;
}

const DEFAULTS = {
  topK: 20,
  histogramBins: 40,
  intervalCount: 5,
  intervalSamples: 5,
  windowBefore: 8,
  windowAfter: 4,
  logitTop: 10,
  batchSequences: 32,
  seed: 0,
  llrAlpha: DEFAULT_LLR_ALPHA,
};

/** One example to render and ablate: the unit, its token, and the firing window positions (filled in pass 3). */
interface ExamplePlan {
  sequence: number;
  position: number;
  activation: number;
  /** [offset, activation, request index or −1] of the window's firing tokens. */
  window: [number, number, number][];
}

/** Ablation requests: token (global index), unit, activation; results are Δ log-prob of the next token. */
class Requests {
  token: number[] = [];
  unit: number[] = [];
  act: number[] = [];
  add(token: number, unit: number, act: number): number {
    this.token.push(token);
    this.unit.push(unit);
    this.act.push(act);
    return this.token.length - 1;
  }
}

/** Streaming proxy bins for many units at once, each with its own token-set proxy (a bitset over the vocabulary). */
class TokenSetProxyBins {
  readonly count: Float64Array;
  readonly proxyCount: Float64Array;
  readonly mass: Float64Array;
  readonly proxyMass: Float64Array;
  readonly llrSum: Float64Array;
  private readonly words: number;
  readonly bits: Uint32Array;
  readonly proxyTokens: Float64Array;
  private readonly scale: Float64Array;
  private readonly llrIn: Float64Array;
  private readonly logNorm: Float64Array;

  constructor(
    readonly units: number, readonly bins: number, readonly vocab: number,
    sets: number[][], readonly unigram: Float64Array, readonly total: number, readonly alpha: number,
    readonly max: Float32Array,
  ) {
    const n = units * bins;
    this.count = new Float64Array(n);
    this.proxyCount = new Float64Array(n);
    this.mass = new Float64Array(n);
    this.proxyMass = new Float64Array(n);
    this.llrSum = new Float64Array(n);
    this.words = Math.ceil(vocab / 32);
    this.bits = new Uint32Array(units * this.words);
    this.proxyTokens = new Float64Array(units);
    this.scale = new Float64Array(units);
    this.llrIn = new Float64Array(units);
    this.logNorm = new Float64Array(units);
    for (let u = 0; u < units; u++) {
      let np = 0;
      for (const t of sets[u]!) {
        const w = u * this.words + (t >>> 5);
        const bit = 1 << (t & 31);
        if ((this.bits[w]! & bit) === 0) {
          this.bits[w] = this.bits[w]! | bit;
          np += unigram[t]!;
        }
      }
      this.proxyTokens[u] = np;
      this.scale[u] = max[u]! > 0 ? bins / max[u]! : 0;
      // LLR(t) = log P(t | proxy) − log P(t), add-α smoothed (proxy.ts): K on the set, K + log α − log(c(t) + α) off it.
      this.llrIn[u] = llrOffset(total, np, alpha, vocab);
      this.logNorm[u] = this.llrIn[u]! + Math.log(alpha);
    }
  }

  has(u: number, token: number): boolean {
    return (this.bits[u * this.words + (token >>> 5)]! & (1 << (token & 31))) !== 0;
  }

  /** One firing (unit, token, activation). */
  add(u: number, token: number, v: number): void {
    // The histogram's own binning, so the proxy bins line up with its counts exactly.
    const b = binOf(v, this.max[u]!, this.bins, this.scale[u]!);
    const cell = u * this.bins + b;
    const inSet = this.has(u, token);
    const llr = inSet ? this.llrIn[u]! : this.logNorm[u]! - Math.log(this.unigram[token]! + this.alpha);
    this.count[cell]! += 1;
    this.mass[cell]! += v;
    this.llrSum[cell]! += llr;
    if (inSet) {
      this.proxyCount[cell]! += 1;
      this.proxyMass[cell]! += v;
    }
  }

  /** The unit's automatic proxy report (spec and description are rebuilt from its top examples on read). */
  report(u: number): StoredProxy {
    const nb = this.bins;
    const cells = (a: Float64Array) => Array.from(a.subarray(u * nb, (u + 1) * nb));
    const proxyCount = cells(this.proxyCount);
    const mass = cells(this.mass);
    const proxyMass = cells(this.proxyMass);
    const count = cells(this.count);
    const llr = cells(this.llrSum).map((s, b) => (count[b]! > 0 ? s / count[b]! : null));
    const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
    const [c, pc, m, pm] = [sum(count), sum(proxyCount), sum(mass), sum(proxyMass)];
    const np = this.proxyTokens[u]!;
    return {
      specificity: m > 0 ? pm / m : 0,
      specificityFiring: c > 0 ? pc / c : 0,
      sensitivity: np > 0 ? pc / np : 0,
      proxyTokens: np,
      proxyCount,
      massShare: mass.map((v, b) => (v > 0 ? proxyMass[b]! / v : null)),
      llr,
    };
  }
}

function forwardTo(model: HookedTransformer, tokens: Int32Array, batch: number, seq: number, hook: string, extra: string[] = []) {
  const { cache } = model.forward(Tape.noGrad(), tokens, batch, seq, { stopAt: hook, cache: [hook, ...extra] });
  return cache;
}

/** Distinct token ids of a unit's top examples, most frequent first. */
function topTokenIds(top: TokenActivation[], tokens: Int32Array, seqLen: number): number[] {
  return rankTopTokens(top.map((e) => tokens[e.sequence * seqLen + e.position]!));
}

/** Pearson r of two vectors (NaN when either is constant), from their sums as the streaming correlations do. */
function pearson(x: Float32Array, y: Float32Array): number {
  let sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
  for (let i = 0; i < x.length; i++) {
    const a = x[i]!, b = y[i]!;
    sx += a; sy += b; sxx += a * a; syy += b * b; sxy += a * b;
  }
  return pearsonFromSums(x.length, sx, sxx, sy, syy, sxy);
}

function densityHistogram(density: Float32Array): InvestigationManifest["densityHistogram"] {
  const lo = -7;
  const binsPerDecade = 4;
  const nb = -lo * binsPerDecade;
  const counts = new Array<number>(nb).fill(0);
  let dead = 0;
  for (const d of density) {
    if (!(d > 0)) {
      dead++;
      continue;
    }
    const b = Math.min(nb - 1, Math.max(0, Math.floor((Math.log10(d) - lo) * binsPerDecade)));
    counts[b]!++;
  }
  return { edges: Array.from({ length: nb + 1 }, (_, i) => lo + i / binsPerDecade), counts, dead };
}


/** Runs the whole investigation and writes the feature store (and the neuron store). */
export async function analyzeRun(input: AnalyzeInput): Promise<AnalyzeResult> {
  const o = { ...DEFAULTS, ...(input.options ?? {}) };
  const { model, sae, hook, tokenizer, evaluation: ev } = input;
  checkAblationHook(model, hook);
  const cfg = model.cfg;
  const dMlp = cfg.d_mlp;
  const dModel = cfg.d_model;
  const V = cfg.d_vocab;
  const L = ev.seqLen;
  const T = ev.sequences * L;
  if (sae.dIn !== dMlp) throw new Error(`analyze: the SAE has d_in ${sae.dIn} but ${hook} has ${dMlp} values per token`);
  const compare = input.compare ?? [];
  for (const c of compare) {
    checkAblationHook(c.model, c.hook);
    if (c.model.cfg.d_vocab !== V) throw new Error(`analyze --compare ${c.name}: its model's vocabulary (${c.model.cfg.d_vocab}) differs from ${input.modelName}'s (${V}); runs are matched on shared tokens`);
    if (c.model.cfg.n_ctx < L) throw new Error(`analyze --compare ${c.name}: its model's context ${c.model.cfg.n_ctx} is shorter than the evaluation sequences (${L})`);
  }
  // The store keeps window offsets in an i8, positions in a u16 (store.ts encodeRecord).
  if (!(o.windowBefore >= 0 && o.windowBefore <= 127 && o.windowAfter >= 0 && o.windowAfter <= 127)) {
    throw new RangeError(`analyze: windowBefore/windowAfter must lie in [0, 127], got ${o.windowBefore}/${o.windowAfter}`);
  }
  if (L > 65535) throw new RangeError(`analyze: sequences of ${L} tokens exceed the store's 65,535-position limit`);
  const doNeurons = input.neuronDir !== null;
  const B = o.batchSequences;
  const timing: Record<string, number> = {};
  const progress = (stage: string, done: number) => input.onProgress?.({ stage, done, total: T });
  const statOptions = { topK: o.topK, histogramBins: o.histogramBins, intervalCount: o.intervalCount, intervalSamples: o.intervalSamples, seed: o.seed };
  const featStats = new FeatureStatsAccumulator({ dSae: sae.dSae, ...statOptions });
  const neuronStats = doNeurons ? new FeatureStatsAccumulator({ dSae: dMlp, ...statOptions }) : null;
  const neuronCorr = new FeatureNeuronCorrelation(sae.dSae, dMlp);
  const ffCorr = compare.map((c) => new FeatureFeatureCorrelation(sae.dSae, c.sae.dSae));
  // Neuron universality: the same question for the raw MLP neurons of the two models (the paper's baseline).
  const nnCorr = doNeurons ? compare.map((c) => new DenseColumnCorrelation(dMlp, c.model.cfg.d_mlp)) : [];
  const codes = new CodeStore(T, 24);
  const unigram = new Float64Array(V);
  for (let i = 0; i < T; i++) unigram[ev.tokens[i]!]! += 1;
  const neuronCodes = (x: Float32Array, rows: number): SparseCodes => {
    const values = new Float32Array(rows * dMlp);
    const indices = new Int32Array(rows * dMlp);
    kernels().positiveRowsToSparse(x, rows, dMlp, dMlp, values, indices, new Int32Array(rows));
    return { rows, k: dMlp, indices, values };
  };

  // ---- pass 1
  let t0 = performance.now();
  for (let s = 0; s < ev.sequences; s += B) {
    const n = Math.min(B, ev.sequences - s);
    const rows = n * L;
    const toks = ev.tokens.subarray(s * L, (s + n) * L);
    const x = forwardTo(model, toks, n, L, hook).get(hook)!.value.data as Float32Array;
    const c = sae.encode(x, rows);
    codes.append(c);
    featStats.addPass1(c, s, L);
    neuronCorr.add(c, x);
    if (neuronStats) neuronStats.addPass1(neuronCodes(x, rows), s, L);
    compare.forEach((cmp, i) => {
      const xb = forwardTo(cmp.model, toks, n, L, cmp.hook).get(cmp.hook)!.value.data as Float32Array;
      ffCorr[i]!.add(c, cmp.sae.encode(xb, rows));
      nnCorr[i]?.add(x, xb, rows);
    });
    progress("pass 1/3: activations, codes, correlations", (s + n) * L);
    await new Promise((r) => setImmediate(r));
  }
  timing.pass1 = (performance.now() - t0) / 1000;

  // ---- pass 2: histograms, intervals, proxy bins
  t0 = performance.now();
  // Pass-1 results (max, top-K) are read before pass 2 starts; pass 2 only adds histograms and intervals.
  const pass1F = featStats.result();
  const pass1N = neuronStats?.result() ?? null;
  featStats.startPass2();
  neuronStats?.startPass2();
  const featSets = Array.from({ length: sae.dSae }, (_, f) => topTokenIds(pass1F.top(f), ev.tokens, L));
  const featProxy = new TokenSetProxyBins(sae.dSae, o.histogramBins, V, featSets, unigram, T, o.llrAlpha, pass1F.maxActivation);
  const neuronSets = pass1N ? Array.from({ length: dMlp }, (_, n) => topTokenIds(pass1N.top(n), ev.tokens, L)) : [];
  const neuronProxy = pass1N ? new TokenSetProxyBins(dMlp, o.histogramBins, V, neuronSets, unigram, T, o.llrAlpha, pass1N.maxActivation) : null;
  for (let s = 0; s < ev.sequences; s += B) {
    const n = Math.min(B, ev.sequences - s);
    const rows = n * L;
    const first = s * L;
    const c = codes.batch(first, rows);
    featStats.addPass2(c, s, L);
    for (let r = 0; r < rows; r++) {
      const tok = ev.tokens[first + r]!;
      for (let e = codes.rowStart[first + r]!, end = codes.rowStart[first + r + 1]!; e < end; e++) {
        featProxy.add(codes.indices[e]!, tok, codes.values[e]!);
      }
    }
    if (neuronStats && neuronProxy) {
      const x = forwardTo(model, ev.tokens.subarray(first, first + rows), n, L, hook).get(hook)!.value.data as Float32Array;
      neuronStats.addPass2(neuronCodes(x, rows), s, L);
      for (let r = 0; r < rows; r++) {
        const tok = ev.tokens[first + r]!;
        for (let u = 0; u < dMlp; u++) {
          const v = x[r * dMlp + u]!;
          if (v > 0) neuronProxy.add(u, tok, v);
        }
      }
    }
    progress("pass 2/3: histograms, intervals, proxies", first + rows);
    await new Promise((r) => setImmediate(r));
  }
  const featResult = featStats.result();
  const neuronResult = neuronStats?.result() ?? null;
  timing.pass2 = (performance.now() - t0) / 1000;

  // ---- plan the examples and their ablations
  const reqF = new Requests();
  const reqN = new Requests();
  const planUnit = (stats: FeatureStats, u: number, valueAt: (t: number) => number | null, req: Requests, wholeWindow: boolean) => {
    const plan = (e: TokenActivation, ablateWindow: boolean): ExamplePlan => {
      const base = e.sequence * L;
      const window: [number, number, number][] = [];
      const lo = Math.max(0, e.position - o.windowBefore);
      const hi = Math.min(L - 1, e.position + o.windowAfter);
      for (let q = lo; q <= hi; q++) {
        const centre = q === e.position;
        const a = centre ? e.activation : valueAt(base + q);
        if (a === null) {
          // Activation known only in pass 3 (neurons): ask for it there.
          window.push([q - e.position, Number.NaN, ablateWindow && q < L - 1 ? req.add(base + q, u, Number.NaN) : -1]);
          continue;
        }
        if (!(a > 0)) continue;
        const ablate = q < L - 1 && (centre || ablateWindow);
        window.push([q - e.position, a, ablate ? req.add(base + q, u, a) : -1]);
      }
      return { sequence: e.sequence, position: e.position, activation: e.activation, window };
    };
    return {
      top: stats.top(u).map((e) => plan(e, wholeWindow)),
      intervals: stats.intervals(u).map((iv) => ({ lo: iv.lo, hi: iv.hi, fraction: iv.fraction, examples: iv.examples.map((e) => plan(e, false)) })),
    };
  };
  const featPlans = Array.from({ length: sae.dSae }, (_, f) => planUnit(featResult, f, (t) => codes.valueAt(t, f), reqF, true));
  const neuronPlans = neuronResult ? Array.from({ length: dMlp }, (_, u) => planUnit(neuronResult, u, () => null, reqN, false)) : [];

  // ---- pass 3: ablations (and the neurons' window activations)
  t0 = performance.now();
  const deltaF = await runAblations(input, codes, reqF, reqN, B, (done) => progress("pass 3/3: ablations", done));
  timing.pass3 = (performance.now() - t0) / 1000;

  // ---- weights work and writing
  t0 = performance.now();
  const lnW = (model.params["ln_final.w"]?.value.data as Float32Array | undefined) ?? null;
  const wU = model.params["unembed.W_U"]!.value.data as Float32Array;
  const featDirs = featureResidualDirections(model, sae);
  const logitOpts = { top: o.logitTop, bins: 40, centre: true };
  const featLogits = logitWeightSummaries(featDirs, sae.dSae, dModel, wU, V, lnW, logitOpts);
  const corrN = neuronCorr.result();
  const ffResults: FeatureFeatureCorrelationResult[] = ffCorr.map((c) => c.result([0.5, 0.7]));
  const logitR = compare.map((c, i) => matchedLogitCorrelation(featDirs, model, featureResidualDirections(c.model, c.sae), c.model, ffResults[i]!.best));
  timing.weights = (performance.now() - t0) / 1000;

  t0 = performance.now();
  const text = (id: number) => tokenizer.tokenText(id);
  const universality: UniversalitySummary[] = compare.map((c, i) => ({
    name: c.name,
    livePairs: { a: ffResults[i]!.liveA, b: ffResults[i]!.liveB },
    thresholds: ffResults[i]!.universality.map((u) => ({ threshold: u.threshold, matched: u.matched, fraction: u.fraction })),
    byDensity: universalityByDensity(featResult.density, ffResults[i]!.bestR),
  }));
  const manifestBase = (kind: UnitKind, name: string, units: number, run: string | null): Omit<InvestigationManifest, "tokensFile" | "tokensSha256"> => ({
    format: "saekit-investigation",
    version: 1,
    kind,
    name,
    model: input.modelName,
    run,
    hook,
    tokenizer: cfg.tokenizer_name ?? "gpt2",
    units,
    tokens: T,
    tokenDtype: tokenDtype(V),
    sequences: ev.sequences,
    seqLen: L,
    domains: ev.domains.map((d) => ({ domain: d.domain, firstSequence: d.firstSequence, sequences: d.sequences })),
    createdAt: new Date().toISOString(),
    options: {
      topK: o.topK, histogramBins: o.histogramBins, intervalCount: o.intervalCount, intervalSamples: o.intervalSamples,
      windowBefore: o.windowBefore, windowAfter: o.windowAfter, logitTop: o.logitTop, proxy: "top-activating token set", seed: o.seed,
    },
    sae: kind === "feature" ? (input.saeSummary ?? null) : null,
    compare: kind === "feature" ? universality : [],
    densityHistogram: densityHistogram(kind === "feature" ? featResult.density : neuronResult!.density),
    timing: {},
  });

  const buildUnit = (
    stats: FeatureStats, u: number, plans: { top: ExamplePlan[]; intervals: { lo: number; hi: number; fraction: number; examples: ExamplePlan[] }[] },
    deltas: Float32Array, windowActs: Float32Array | null, proxy: TokenSetProxyBins, sets: number[][],
    logits: { top: { token: number; weight: number }[]; bottom: { token: number; weight: number }[]; histogram: { edges: number[]; counts: number[] }; mean: number; std: number },
  ): { unit: StoredUnit; topTexts: string[] } => {
    const example = (p: ExamplePlan): StoredExample => ({
      s: p.sequence,
      p: p.position,
      a: p.activation,
      w: p.window
        .map(([off, a, req]): [number, number, number | null] => {
          const act = Number.isNaN(a) && windowActs && req >= 0 ? windowActs[req]! : a;
          return [off, act, req >= 0 ? deltas[req]! : null];
        })
        .filter(([, a]) => a > 0),
    });
    // Stratified mean loss effect: each interval's sample mean weighted by the interval's share of firing tokens.
    let weighted = 0;
    let weight = 0;
    let sampled = 0;
    for (const iv of plans.intervals) {
      let sum = 0;
      let n = 0;
      for (const p of iv.examples) {
        const centre = p.window.find(([off]) => off === 0);
        if (centre && centre[2] >= 0) {
          sum += -deltas[centre[2]]!;
          n++;
        }
      }
      if (n > 0) {
        weighted += iv.fraction * (sum / n);
        weight += iv.fraction;
        sampled += n;
      }
    }
    const topTexts = autoProxySpec(sets[u]!, tokenizer).texts;
    const label = topTexts.length ? topTexts.slice(0, 3).map((t) => JSON.stringify(t)).join(" ") : "(never fires)";
    const hist = stats.histogram(u).counts;
    return {
      topTexts,
      unit: {
        label,
        firing: Math.round(stats.density[u]! * stats.tokens),
        max: stats.maxActivation[u]!,
        mean: stats.meanActivation[u]!,
        hist,
        top: plans.top.map(example),
        intervals: plans.intervals.map((iv) => ({ lo: iv.lo, hi: iv.hi, fraction: iv.fraction, examples: iv.examples.map(example) })),
        logits: {
          top: logits.top.map((w) => [w.token, w.weight]),
          bottom: logits.bottom.map((w) => [w.token, w.weight]),
          range: [logits.histogram.edges[0]!, logits.histogram.edges.at(-1)!],
          counts: logits.histogram.counts,
          mean: logits.mean,
          std: logits.std,
        },
        ablation: { meanLossEffect: weight > 0 ? weighted / weight : null, sampled },
        proxy: stats.density[u]! > 0 ? proxy.report(u) : null,
        neurons: null,
        matches: {},
      },
    };
  };

  const featWriter = new InvestigationWriter({
    dir: input.featureDir, units: sae.dSae, tokens: ev.tokens, seqLen: L, vocabSize: V,
    ...(input.shareTokensWith ? { shareTokensWith: input.shareTokensWith } : {}),
  });
  try {
    for (let f = 0; f < sae.dSae; f++) {
      const { unit, topTexts } = buildUnit(featResult, f, featPlans[f]!, deltaF.features, null, featProxy, featSets, featLogits[f]!);
      unit.neurons = {
        alignment: neuronAlignment(sae, f, 5).map((a) => [a.neuron, a.value, a.l1Share, a.cosine]),
        correlated: corrN.top(f, 3).map((m) => [m.index, m.r]),
      };
      compare.forEach((c, i) => {
        const best = ffResults[i]!.best[f]!;
        if (best >= 0) unit.matches[c.name] = [best, ffResults[i]!.bestR[f]!, Number.isNaN(logitR[i]![f]!) ? null : logitR[i]![f]!];
      });
      const lw = featLogits[f]!;
      featWriter.add(unit, { topTokens: topTexts.slice(0, 8), logitTop: lw.top.slice(0, 5).map((w) => text(w.token)), logitBottom: lw.bottom.slice(0, 5).map((w) => text(w.token)) }, T, compare[0]?.name ?? null);
    }
  } catch (e) {
    featWriter.abort();
    throw e;
  }
  const finishTiming = () => {
    timing.write = (performance.now() - t0) / 1000;
    timing.total = timing.pass1! + timing.pass2! + timing.pass3! + timing.weights! + timing.write;
    timing.tokensPerSecond = T / timing.total;
    return { ...timing };
  };
  featWriter.finish({ ...manifestBase("feature", input.run, sae.dSae, input.run.split("/").at(-1) ?? null), timing: finishTiming() });
  let neuronUniversality: UniversalitySummary[] = [];
  if (doNeurons && neuronResult && neuronProxy) {
    const nDirs = neuronResidualDirections(model);
    const nLogits = logitWeightSummaries(nDirs, dMlp, dModel, wU, V, lnW, logitOpts);
    const nWriter = new InvestigationWriter({ dir: input.neuronDir!, units: dMlp, tokens: ev.tokens, seqLen: L, vocabSize: V, shareTokensWith: input.featureDir });
    // Each neuron's best match among the compared model's neurons ("B/neuron"), with its logit-weight r.
    const neuronRuns = compare.map((c) => `${c.name.split("/")[0]}/neuron`);
    const nMatches = nnCorr.map((nc, i) => {
      const { best, bestR } = nc.best();
      return { best, bestR, logitR: matchedLogitCorrelation(nDirs, model, neuronResidualDirections(compare[i]!.model), compare[i]!.model, best) };
    });
    neuronUniversality = nMatches.map((m, i) => {
      const all = universalityThresholds(neuronResult.density, m.bestR, 0);
      return { name: neuronRuns[i]!, livePairs: { a: all.units, b: compare[i]!.model.cfg.d_mlp }, thresholds: all.thresholds, byDensity: universalityByDensity(neuronResult.density, m.bestR) };
    });
    try {
      for (let u = 0; u < dMlp; u++) {
        const { unit, topTexts } = buildUnit(neuronResult, u, neuronPlans[u]!, deltaF.neurons, deltaF.neuronActs, neuronProxy, neuronSets, nLogits[u]!);
        nMatches.forEach((m, i) => {
          if (m.best[u]! >= 0) unit.matches[neuronRuns[i]!] = [m.best[u]!, m.bestR[u]!, Number.isNaN(m.logitR[u]!) ? null : m.logitR[u]!];
        });
        const lw = nLogits[u]!;
        nWriter.add(unit, { topTokens: topTexts.slice(0, 8), logitTop: lw.top.slice(0, 5).map((w) => text(w.token)), logitBottom: lw.bottom.slice(0, 5).map((w) => text(w.token)) }, T, neuronRuns[0] ?? null);
      }
    } catch (e) {
      nWriter.abort();
      throw e;
    }
    nWriter.finish({ ...manifestBase("neuron", `${input.modelName}/neuron`, dMlp, null), compare: neuronUniversality, timing: finishTiming() });
  }
  return { timing, universality, neuronUniversality, tokens: T };
}

/** Share of units (live, then firing on ≥ 1e-4 and ≥ 1e-3 of tokens) whose best match has r above 0.5 and 0.7. */
function universalityThresholds(density: Float32Array, bestR: Float32Array, minDensity: number) {
  let units = 0;
  const matched = [0, 0];
  for (let u = 0; u < density.length; u++) {
    if (!(density[u]! > 0 && density[u]! >= minDensity)) continue;
    units++;
    if (bestR[u]! > 0.5) matched[0]!++;
    if (bestR[u]! > 0.7) matched[1]!++;
  }
  return {
    units,
    thresholds: [0.5, 0.7].map((threshold, k) => ({ threshold, matched: matched[k]!, fraction: units > 0 ? matched[k]! / units : Number.NaN })),
  };
}

function universalityByDensity(density: Float32Array, bestR: Float32Array): NonNullable<UniversalitySummary["byDensity"]> {
  return [1e-4, 1e-3].map((minDensity) => {
    const { units, thresholds } = universalityThresholds(density, bestR, minDensity);
    return { minDensity, features: units, thresholds };
  });
}

/** Pearson r over the vocabulary between each unit's logit weights and those of its match in the compared run. */
function matchedLogitCorrelation(
  featDirs: Float32Array, model: HookedTransformer, dirsB: Float32Array, modelB: HookedTransformer, best: Int32Array,
): Float32Array {
  const d = model.cfg.d_model;
  const V = model.cfg.d_vocab;
  const dSae = best.length;
  const dB = modelB.cfg.d_model;
  const wUA = model.params["unembed.W_U"]!.value.data as Float32Array;
  const wUB = modelB.params["unembed.W_U"]!.value.data as Float32Array;
  const lnA = (model.params["ln_final.w"]?.value.data as Float32Array | undefined) ?? null;
  const lnB = (modelB.params["ln_final.w"]?.value.data as Float32Array | undefined) ?? null;
  const out = new Float32Array(dSae).fill(Number.NaN);
  const chunk = 128;
  const gathered = new Float32Array(chunk * dB);
  for (let first = 0; first < dSae; first += chunk) {
    const n = Math.min(chunk, dSae - first);
    gathered.fill(0);
    for (let i = 0; i < n; i++) {
      const g = best[first + i]!;
      if (g >= 0) gathered.set(dirsB.subarray(g * dB, (g + 1) * dB), i * dB);
    }
    const la = logitWeights(featDirs.subarray(first * d, (first + n) * d), n, d, wUA, V, lnA, { centre: true });
    const lb = logitWeights(gathered.subarray(0, n * dB), n, dB, wUB, V, lnB, { centre: true });
    for (let i = 0; i < n; i++) {
      if (best[first + i]! < 0) continue;
      out[first + i] = pearson(la.subarray(i * V, (i + 1) * V), lb.subarray(i * V, (i + 1) * V));
    }
  }
  return out;
}

/**
 * Pass 3: per batch, the final residual with the SAE spliced in (features) and clean (neurons); each request's
 * ablated row and its clean row go through the scorer. Returns Δ log P(next token) per request (ablated − clean),
 * and each neuron request's activation (read from the batch's hook activations).
 */
async function runAblations(
  input: AnalyzeInput, codes: CodeStore, reqF: Requests, reqN: Requests, B: number, onProgress: (done: number) => void,
): Promise<{ features: Float32Array; neurons: Float32Array; neuronActs: Float32Array }> {
  const { model, sae, hook, evaluation: ev } = input;
  const cfg = model.cfg;
  const L = ev.seqLen;
  const d = cfg.d_model;
  const dMlp = cfg.d_mlp;
  const k = kernels();
  const last = `blocks.${cfg.n_layers - 1}`;
  const wOut = model.params[`${last}.mlp.W_out`]!.value.data as Float32Array;
  const bOut = model.params[`${last}.mlp.b_out`]!.value.data as Float32Array;
  const featDirs = featureResidualDirections(model, sae);
  const scorer = new NextTokenScorer(model, 256);
  const out = { features: new Float32Array(reqF.token.length), neurons: new Float32Array(reqN.token.length), neuronActs: new Float32Array(reqN.token.length) };
  // Requests sorted by token so each batch takes a contiguous slice.
  const order = (r: Requests) => Int32Array.from(r.token.keys()).sort((a, b) => r.token[a]! - r.token[b]!);
  const ordF = order(reqF);
  const ordN = order(reqN);
  let pf = 0;
  let pn = 0;
  const residMidName = `${last}.hook_resid_mid`;
  for (let s = 0; s < ev.sequences; s += B) {
    const n = Math.min(B, ev.sequences - s);
    const rows = n * L;
    const first = s * L;
    const endTok = first + rows;
    const f0 = pf;
    while (pf < ordF.length && reqF.token[ordF[pf]!]! < endTok) pf++;
    const n0 = pn;
    while (pn < ordN.length && reqN.token[ordN[pn]!]! < endTok) pn++;
    if (pf === f0 && pn === n0) continue;
    const toks = ev.tokens.subarray(first, endTok);
    const cache = forwardTo(model, toks, n, L, hook, [residMidName]);
    const post = cache.get(hook)!.value.data as Float32Array;
    const mid = cache.get(residMidName)!.value.data as Float32Array;
    // Final residuals: mid + f(post) · W_out + b_out, with f = identity (clean) or the SAE reconstruction.
    const residual = (acts: Float32Array) => {
      const r = mid.slice();
      k.gemm(false, false, rows, d, dMlp, 1, acts, dMlp, wOut, d, 1, r, d);
      k.addBias(r, rows, d, bOut);
      return r;
    };
    const jobs: { resid: Float32Array; req: Requests; ord: Int32Array; from: number; to: number; dirs: Float32Array; out: Float32Array; neurons: boolean }[] = [];
    if (pf > f0) jobs.push({ resid: residual(sae.decode(codes.batch(first, rows))), req: reqF, ord: ordF, from: f0, to: pf, dirs: featDirs, out: out.features, neurons: false });
    if (pn > n0) jobs.push({ resid: residual(post), req: reqN, ord: ordN, from: n0, to: pn, dirs: wOut, out: out.neurons, neurons: true });
    for (const job of jobs) {
      // Rows: the distinct clean positions, then one ablated row per request.
      const m = job.to - job.from;
      const positions = new Map<number, number>();
      for (let i = job.from; i < job.to; i++) {
        const t = job.req.token[job.ord[i]!]! - first;
        if (!positions.has(t)) positions.set(t, positions.size);
      }
      const P = positions.size;
      const mat = new Float32Array((P + m) * d);
      const targets = new Int32Array(P + m);
      for (const [t, row] of positions) {
        mat.set(job.resid.subarray(t * d, (t + 1) * d), row * d);
        targets[row] = toks[t + 1]!;
      }
      for (let i = 0; i < m; i++) {
        const r = job.ord[job.from + i]!;
        const t = job.req.token[r]! - first;
        const u = job.req.unit[r]!;
        let a = job.req.act[r]!;
        if (job.neurons) {
          a = post[t * dMlp + u]!;
          out.neuronActs[r] = a;
        }
        const dst = (P + i) * d;
        for (let c = 0; c < d; c++) mat[dst + c] = job.resid[t * d + c]! - a * job.dirs[u * d + c]!;
        targets[P + i] = toks[t + 1]!;
      }
      const losses = scorer.losses(mat, P + m, targets);
      for (let i = 0; i < m; i++) {
        const r = job.ord[job.from + i]!;
        const row = positions.get(job.req.token[r]! - first)!;
        job.out[r] = losses[row]! - losses[P + i]!;
      }
    }
    onProgress(endTok);
    await new Promise((r) => setImmediate(r));
  }
  return out;
}
