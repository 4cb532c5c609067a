/**
 * `saekit analyze`: the detailed investigation of every feature of an SAE run (and of every MLP neuron of its
 * model), streamed over the evaluation tokens and written to investigation stores (store.ts). This module only
 * orchestrates; each step has its own home:
 *   1. analyze-passes.ts activationPass: codes, activation statistics, correlations with neurons and with the
 *      compared SAE runs;
 *   2. analyze-passes.ts histogramPass: histograms, interval samples, the automatic proxies' bins (proxy-stats.ts);
 *   3. examples.ts plans the examples, ablation.ts ablateRequests ablates them (one extra final-residual row each);
 * then weights work that needs no tokens (logit weights, neuron alignment, universality.ts' logit-weight r) and
 * store/assemble.ts + store/writer.ts write the records and manifests.
 */
import { densitySummary } from "../sae/density.js";
import { unembed } from "../model/readout.js";
import { modelOf, neuronSetName, parseUnitSetName } from "../names.js";
import { ablateRequests, AblationRequests, outputDirections, type RequestSink } from "./ablation.js";
import { activationPass, histogramPass, type CompareSae, type PassContext } from "./analyze-passes.js";
import { atlasRuns, checkInput, familyRuns } from "./analyze-checks.js";
import { ANALYZE_DEFAULTS, type AnalyzeInput, type AnalyzeOptions, type AnalyzeResult } from "./analyze-types.js";
import { neuronAlignment } from "./correlation.js";
import { planUnit, registerPlans, replayPlan } from "./examples.js";
import { interpretabilityFigures } from "./interpretability-summary.js";
import { logitWeightTable } from "./logit-weights.js";
import { densityHistogram, manifestDraft, writeUnitRecords, type ManifestInput } from "./store/assemble.js";
import { InvestigationWriter } from "./store/writer.js";
import { columnTopK, featureRelationTable, matchesFromR, RELATED_NEURON_FEATURES } from "./related-units.js";
import { matchedLogitCorrelator, UNIVERSALITY_THRESHOLDS, universalitySummary } from "./universality.js";
import type { UniversalitySummary } from "./unit-record.js";
import { familyContext, familySide, type FamilySide } from "./family.js";
import { encodeFamily, FAMILY_FILE, familyManifest } from "./family-store.js";
import { densitiesFromCodes, rHistogram, sizePoint, type RunFigures } from "./run-figures.js";
import { computeAtlas } from "./atlas.js";
import { StepClock } from "./step-clock.js";
import { ATLAS_FILE, decoderSha256, encodeAtlas } from "./atlas-store.js";

export type { CompareSae };
/** @deprecated the old name of CompareSae. */
export type CompareRun = CompareSae;

export { ANALYZE_DEFAULTS } from "./analyze-types.js";
export type { AnalyzeInput, AnalyzeOptions, AnalyzeProgress, AnalyzeResult, FamilyRun } from "./analyze-types.js";

const nanToNull = (v: number) => (Number.isNaN(v) ? null : v);

/** Runs the whole investigation and writes the feature store (and the neuron store). */
export async function analyzeRun(input: AnalyzeInput): Promise<AnalyzeResult> {
  const o: Required<AnalyzeOptions> = { ...ANALYZE_DEFAULTS, ...(input.options ?? {}) };
  checkInput(input, o);
  const { model, sae, hook, tokenizer, evaluation: ev } = input;
  const compare = input.compare ?? [];
  const family = familyRuns(input);
  const atlasInputs = input.atlas ? atlasRuns(input) : null;
  const { d_mlp: dMlp, d_vocab: V } = model.cfg;
  const L = ev.seqLen;
  const T = ev.sequences * L;
  const ctx: PassContext = {
    model, sae, hook, evaluation: ev, compare, family: family.map((f) => f.sae), neurons: input.neuronDir !== null, batchSequences: o.batchSequences,
    stats: { topK: o.topK, histogramBins: o.histogramBins, intervalCount: o.intervalCount, intervalSamples: o.intervalSamples, seed: o.seed },
    progress: (stage, done) => input.onProgress?.({ stage, done, total: T }),
  };
  // Wall and CPU time per step; the stored `timing` stages are sums of these steps.
  const clock = new StepClock();
  const step = (name: string) => clock.mark(name);
  const p1 = await activationPass(ctx);
  step("pass1");
  // Families: the codes of the family runs are only needed here (then dropped with p1's other buffers).
  const familySides: FamilySide[] = [];
  const familySizes = family.map((f, i) => sizePoint(f.name, densitiesFromCodes(p1.familyCodes[i]!, f.sae.dSae, T), T, input.run, o.lowDensityThresholds));
  if (family.length > 0) {
    const fctx = familyContext(p1.codes, sae.dec, sae.dSae, sae.dIn);
    family.forEach((f, i) => {
      familySides.push(familySide(fctx, f.sae.dSae < sae.dSae ? "smaller" : "larger", { run: f.name, decoder: f.sae.dec, units: f.sae.dSae, codes: p1.familyCodes[i]! }));
    });
  }
  p1.familyCodes.length = 0;
  step("family");
  const p2 = await histogramPass(ctx, p1, o.llrAlpha);
  step("pass2");
  const interp = { features: interpretabilityFigures(p2.featureSearch, p2.features.density), ...(p2.neuronSearch && p2.neurons ? { neurons: interpretabilityFigures(p2.neuronSearch, p2.neurons.density) } : {}) };
  step("interpretability");

  // Examples and their ablations.
  const reqF = new AblationRequests();
  const reqN = new AblationRequests();
  const planOptions = { seqLen: L, windowBefore: o.windowBefore, windowAfter: o.windowAfter };
  // Each unit is planned once here for its requests and again, transiently, when its record is written.
  const planFeature = (f: number, req: RequestSink) => planUnit(p2.features, f, (t) => p1.codes.valueAt(t, f), req, true, planOptions);
  const planNeuron = (u: number, req: RequestSink) => planUnit(p2.neurons!, u, () => null, req, false, planOptions);
  const featFirst = registerPlans(sae.dSae, reqF, planFeature);
  const neuronFirst = p2.neurons ? registerPlans(dMlp, reqN, planNeuron) : null;
  step("plans");
  const deltas = await ablateRequests({
    model, sae, hook, evaluation: ev, codes: p1.codes, features: reqF, neurons: reqN, batchSequences: o.batchSequences,
    onProgress: (done) => ctx.progress("pass 3/3: ablations", done),
  });
  step("ablations");

  // Weights work: logit weights, correlations' results, universality's logit-weight r.
  const un = unembed(model);
  const logitOpts = { top: o.logitTop, bins: 40, centre: true };
  const featDirs = outputDirections(model, sae);
  const corrN = p1.neuronCorr.result();
  const ffResults = p1.ffCorr.map((c) => c.result([...UNIVERSALITY_THRESHOLDS]));
  step("correlations");
  // The features' logit weights are computed once, for their summaries and for the matched logit r.
  const matchedR = compare.map((c, i) => matchedLogitCorrelator(outputDirections(c.model, c.sae), c.model, ffResults[i]!.best));
  const featLogits = logitWeightTable(featDirs, sae.dSae, un.dModel, un.wU, V, un.lnW, {
    ...logitOpts, onChunk: (first, n, rows) => matchedR.forEach((m) => m.add(first, n, rows)),
  });
  const logitR = matchedR.map((m) => m.result);
  step("logit weights");
  // Related units (related-units.ts): top matches both ways, nearest features by activation r, each neuron's features.
  const relatedF = featureRelationTable(p1.codes, sae.dSae, ffResults, compare.map((c) => c.name), compare.map((c) => c.sae.dSae));
  const relatedN = input.neuronDir !== null ? columnTopK(sae.dSae, dMlp, (f, n) => corrN.r(f, n), RELATED_NEURON_FEATURES) : [];
  step("related units");
  // The atlas (a UMAP of the decoders) is timed apart from "write".
  let atlasBytes: Uint8Array | null = null;
  if (input.atlas && atlasInputs) {
    const runs = atlasInputs;
    const atlas = computeAtlas(runs, input.atlas.options);
    atlasBytes = encodeAtlas(atlas, (name) => decoderSha256(runs.find((r) => r.name === name)!.decoder));
    step("atlas");
  }

  const universality = compare.map((c, i) => {
    const r = ffResults[i]!;
    const thresholds = r.universality.map((u) => ({ threshold: u.threshold, matched: u.matched, fraction: u.fraction }));
    return universalitySummary(c.name, p2.features.density, r.bestR, { a: r.liveA, b: r.liveB }, thresholds);
  });
  const timing: Record<string, number> = {};
  const manifest = (m: Pick<ManifestInput, "kind" | "name" | "run" | "units" | "sae" | "compare" | "density" | "lowDensityThresholds" | "interpretability">) => {
    Object.assign(timing, storedTiming(clock, T));
    const options = {
      topK: o.topK, histogramBins: o.histogramBins, intervalCount: o.intervalCount, intervalSamples: o.intervalSamples,
      windowBefore: o.windowBefore, windowAfter: o.windowAfter, logitTop: o.logitTop, proxy: "top-activating token set", seed: o.seed,
    };
    return manifestDraft({
      ...m, model: input.modelName, hook, tokenizer: model.cfg.tokenizer_name ?? "gpt2", vocabSize: V, evaluation: ev, options, timing: { ...timing },
    });
  };

  const nnBest = p1.nnCorr.map((nc) => nc.best());
  const runFigures: RunFigures = {
    universality: compare.map((c, i) => ({
      against: c.name,
      features: rHistogram(ffResults[i]!.bestR, p2.features.density),
      neurons: p2.neurons && nnBest[i] ? { against: neuronSetName(modelOf(c.name)), ...rHistogram(nnBest[i]!.bestR, p2.neurons.density) } : null,
    })),
    sizes: [sizePoint(input.run, p2.features.density, T, input.run, o.lowDensityThresholds), ...familySizes].sort((a, b) => a.units - b.units),
  };
  const share = input.shareTokensWith ? { shareTokensWith: input.shareTokensWith } : {};
  const featWriter = new InvestigationWriter({ dir: input.featureDir, units: sae.dSae, tokens: ev.tokens, seqLen: L, vocabSize: V, ...share });
  writeUnitRecords(featWriter, p2.features, (f) => replayPlan(featFirst, f, planFeature), deltas.features, null, p2.featureProxy, p2.featureSets, (f) => featLogits.at(f), tokenizer, compare[0]?.name ?? null, (f, unit) => {
    unit.codeShare = nanToNull(p2.featureCodeShare[f]!);
    unit.neurons = {
      alignment: neuronAlignment(sae, f, 5).map((a) => [a.neuron, a.value, a.l1Share, a.cosine]),
      correlated: corrN.top(f, 3).map((m) => [m.index, m.r]),
    };
    compare.forEach((c, i) => {
      const best = ffResults[i]!.best[f]!;
      if (best >= 0) unit.matches[c.name] = [best, ffResults[i]!.bestR[f]!, nanToNull(logitR[i]![f]!)];
    });
    unit.related = relatedF.at(f);
  }, p2.featureSearch);
  const set = parseUnitSetName(input.run);
  if (familySides.length > 0) featWriter.addFile(FAMILY_FILE, encodeFamily(familySides));
  if (atlasBytes) featWriter.addFile(ATLAS_FILE, atlasBytes);
  await featWriter.finishAsync({
    ...manifest({ kind: "feature", name: set.name, run: set.set, units: sae.dSae, sae: input.saeSummary ?? null, compare: universality, density: p2.features.density, lowDensityThresholds: o.lowDensityThresholds, interpretability: interp }),
    ...(familySides.length > 0 ? { family: familyManifest(familySides) } : {}),
    runFigures,
  });
  step("write features");

  let neuronUniversality: UniversalitySummary[] = [];
  if (input.neuronDir !== null && p2.neurons && p2.neuronProxy) {
    const nDirs = outputDirections(model, null);
    // Each neuron's best match among the compared model's neurons ("B/neuron"), with its logit-weight r (from the
    // same logit weights as the neurons' summaries, as for the features).
    const nMatchedR = nnBest.map((nb, i) => matchedLogitCorrelator(outputDirections(compare[i]!.model, null), compare[i]!.model, nb.best));
    const nLogits = logitWeightTable(nDirs, dMlp, un.dModel, un.wU, V, un.lnW, {
      ...logitOpts, onChunk: (first, n, rows) => nMatchedR.forEach((m) => m.add(first, n, rows)),
    });
    const neuronSets = compare.map((c) => neuronSetName(modelOf(c.name)));
    const nMatches = nnBest.map(({ best, bestR }, i) => ({ best, bestR, logitR: nMatchedR[i]!.result }));
    const relatedNM = p1.nnCorr.map((nc, i) => matchesFromR(dMlp, compare[i]!.model.cfg.d_mlp, (a, b) => nc.r(a, b)));
    neuronUniversality = nMatches.map((m, i) => universalitySummary(neuronSets[i]!, p2.neurons!.density, m.bestR, { b: compare[i]!.model.cfg.d_mlp }));
    const nWriter = new InvestigationWriter({ dir: input.neuronDir, units: dMlp, tokens: ev.tokens, seqLen: L, vocabSize: V, shareTokensWith: input.featureDir });
    writeUnitRecords(nWriter, p2.neurons, (u) => replayPlan(neuronFirst!, u, planNeuron), deltas.neurons, deltas.neuronActs, p2.neuronProxy, p2.neuronSets, (u) => nLogits.at(u), tokenizer, neuronSets[0] ?? null, (u, unit) => {
      unit.codeShare = nanToNull(p2.neuronCodeShare![u]!);
      nMatches.forEach((m, i) => {
        if (m.best[u]! >= 0) unit.matches[neuronSets[i]!] = [m.best[u]!, m.bestR[u]!, nanToNull(m.logitR[u]!)];
      });
      unit.related = { f: relatedN[u]!, m: Object.fromEntries(neuronSets.map((name, i) => [name, relatedNM[i]![u]!])) };
    }, p2.neuronSearch ?? undefined);
    await nWriter.finishAsync({ featureRun: set.name, ...manifest({ kind: "neuron", name: neuronSetName(input.modelName), run: null, units: dMlp, sae: null, compare: neuronUniversality, density: p2.neurons.density, lowDensityThresholds: o.lowDensityThresholds, interpretability: { neurons: interp.neurons! } }) });
  }
  step("write neurons");
  const lowDensity = densitySummary(p2.features.density, o.lowDensityThresholds, T);
  const neuronLowDensity = input.neuronDir !== null && p2.neurons ? densitySummary(p2.neurons.density, o.lowDensityThresholds, T) : null;
  const familySummary = familySides.map((s) => {
    let linked = 0;
    for (let f = 0; f < sae.dSae; f++) if (s.side === "larger" ? s.inverseStart[f + 1]! > s.inverseStart[f]! : s.cosIndex[f * s.k]! >= 0) linked++;
    return { side: s.side, run: s.run, units: s.units, linked };
  });
  return { timing, universality, neuronUniversality, lowDensity, neuronLowDensity, interpretability: interp, tokens: T, family: familySummary, runFigures, densityHistogram: densityHistogram(p2.features.density),
    steps: clock.steps, ablationRequests: { features: reqF.length, neurons: reqN.length } };
}

/**
 * The store's coarse stages (seconds) from the clock's steps: pass3 is the examples' planning and ablations, weights
 * the token-free work, write everything after the related units except the atlas (timed apart).
 */
function storedTiming(clock: StepClock, tokens: number): Record<string, number> {
  const t: Record<string, number> = {
    pass1: clock.wall("pass1"),
    family: clock.wall("family"),
    pass2: clock.wall("pass2"),
    pass3: clock.wall("interpretability", "plans", "ablations"),
    weights: clock.wall("correlations", "logit weights", "related units"),
    write: clock.wallSince("related units", ["atlas"]),
  };
  t.total = t.pass1! + t.family! + t.pass2! + t.pass3! + t.weights! + t.write!;
  t.tokensPerSecond = tokens / t.total;
  if (clock.steps.some((x) => x.step === "atlas")) t.atlas = clock.wall("atlas");
  return t;
}
