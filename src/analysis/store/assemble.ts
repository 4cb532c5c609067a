/**
 * Store records and manifests from the analysis' results: a unit's StoredUnit (its examples with their ablation
 * results, histogram, logit weights, proxy report) and the manifest of a unit set.
 */
import { log10Histogram } from "../../sae/eval.js";
import { densitySummary, LOW_DENSITY_THRESHOLDS } from "../../sae/density.js";
import type { ExamplePlan, UnitPlan } from "../examples.js";
import { meanLossEffect } from "../examples.js";
import type { FeatureStats } from "../feature-stats.js";
import type { ProxySearch } from "../interpretability.js";
import { storedInterpretability } from "../interpretability-summary.js";
import type { LogitWeightSummary } from "../logit-weights.js";
import type { StoredProxyBins, TokenSetProxyBins } from "../proxy-stats.js";
import type { Tokenizer } from "../../data/tokenizer.js";
import type { InvestigationManifest } from "../unit-record.js";
import { autoProxySpec, tokenDtype, type StoredExample, type StoredUnit } from "./format.js";
import type { InvestigationWriter } from "./writer.js";

/** A manifest before the writer adds the tokens file, its hash and the checksums. */
export type ManifestDraft = Omit<InvestigationManifest, "tokensFile" | "tokensSha256" | "checksums">;

export interface StoredUnitInput {
  stats: FeatureStats;
  unit: number;
  plan: UnitPlan;
  /** Δ log P(next token) per ablation request. */
  deltas: Float32Array;
  /** Activations read in the ablation pass per request (neurons), or null. */
  windowActs: Float32Array | null;
  proxy: StoredProxyBins | null;
  /** Distinct texts of the unit's top-activating tokens, most frequent first. */
  topTexts: string[];
  logits: LogitWeightSummary;
}

function storedExample(p: ExamplePlan, deltas: Float32Array, windowActs: Float32Array | null): StoredExample {
  return {
    s: p.sequence,
    p: p.position,
    a: p.activation,
    w: p.window
      .map(([off, a, req]): [number, number, number | null] => {
        const act = Number.isNaN(a) && windowActs && req >= 0 ? windowActs[req]! : a;
        return [off, act, req >= 0 ? deltas[req]! : null];
      })
      .filter(([, a]) => a > 0),
  };
}

/** The record of one unit, without its neurons and matches (the caller fills those in). */
export function storedUnit(i: StoredUnitInput): StoredUnit {
  const { stats, unit: u, plan, deltas, windowActs, logits } = i;
  const example = (p: ExamplePlan) => storedExample(p, deltas, windowActs);
  const label = i.topTexts.length ? i.topTexts.slice(0, 3).map((t) => JSON.stringify(t)).join(" ") : "(never fires)";
  return {
    label,
    firing: Math.round(stats.density[u]! * stats.tokens),
    max: stats.maxActivation[u]!,
    mean: stats.meanActivation[u]!,
    hist: stats.histogram(u).counts,
    top: plan.top.map(example),
    intervals: plan.intervals.map((iv) => ({ lo: iv.lo, hi: iv.hi, fraction: iv.fraction, examples: iv.examples.map(example) })),
    logits: {
      top: logits.top.map((w) => [w.token, w.weight]),
      bottom: logits.bottom.map((w) => [w.token, w.weight]),
      range: [logits.histogram.edges[0]!, logits.histogram.edges.at(-1)!],
      counts: logits.histogram.counts,
      mean: logits.mean,
      std: logits.std,
    },
    ablation: meanLossEffect(plan, deltas),
    proxy: stats.density[u]! > 0 ? i.proxy : null,
    neurons: null,
    matches: {},
  };
}

/** log10 of each unit's density in quarter-decade bins from 1e-7 to 1 (sae eval's histogram), dead units apart. */
export function densityHistogram(density: Float32Array): InvestigationManifest["densityHistogram"] {
  let dead = 0;
  for (const d of density) if (!(d > 0)) dead++;
  return { ...log10Histogram(density), dead };
}

/** The manifest's own fields (name: the unit set's, names.ts; run: the SAE folder's name, null for neurons), and what
 * the rest is derived from: the vocabulary size, the evaluation's shape and the units' densities. */
export interface ManifestInput
  extends Pick<InvestigationManifest, "kind" | "name" | "model" | "run" | "hook" | "tokenizer" | "units" | "options" | "sae" | "compare" | "timing"> {
  vocabSize: number;
  evaluation: { sequences: number; seqLen: number; domains: { domain: string; firstSequence: number; sequences: number }[] };
  density: Float32Array;
  /** Thresholds of the ultra-low-density report (default 1e-4, 1e-5). */
  lowDensityThresholds?: readonly number[];
  /** The interpretability summaries the manifest (and summary.json) carry. */
  interpretability?: InvestigationManifest["interpretability"];
}

export function manifestDraft(m: ManifestInput): ManifestDraft {
  const ev = m.evaluation;
  return {
    format: "saekit-investigation",
    version: 1,
    kind: m.kind,
    name: m.name,
    model: m.model,
    run: m.run,
    hook: m.hook,
    tokenizer: m.tokenizer,
    units: m.units,
    tokens: ev.sequences * ev.seqLen,
    tokenDtype: tokenDtype(m.vocabSize),
    sequences: ev.sequences,
    seqLen: ev.seqLen,
    domains: ev.domains.map((d) => ({ domain: d.domain, firstSequence: d.firstSequence, sequences: d.sequences })),
    createdAt: new Date().toISOString(),
    options: m.options,
    sae: m.sae,
    compare: m.compare,
    densityHistogram: densityHistogram(m.density),
    lowDensity: densitySummary(m.density, m.lowDensityThresholds ?? LOW_DENSITY_THRESHOLDS).below,
    timing: m.timing,
    ...(m.interpretability ? { interpretability: m.interpretability } : {}),
  };
}

/**
 * One unit set's records, streamed into its store: each unit's StoredUnit (finished by `finish`, which adds what
 * only the caller knows: neurons, matches) and its search entry (top tokens, top and bottom logit tokens).
 */
export function writeUnitRecords(
  writer: InvestigationWriter, stats: FeatureStats, plans: (u: number) => UnitPlan, deltas: Float32Array, windowActs: Float32Array | null,
  proxy: TokenSetProxyBins, sets: number[][], logits: (u: number) => LogitWeightSummary, tokenizer: Tokenizer, firstCompare: string | null,
  finish: (u: number, unit: StoredUnit) => void, proxySearch?: ProxySearch,
): void {
  const text = (id: number) => tokenizer.tokenText(id);
  try {
    // Plans and logit summaries are built per unit here (the callers keep them compact until then).
    for (let u = 0; u < stats.density.length; u++) {
      const topTexts = autoProxySpec(sets[u]!, tokenizer).texts;
      const lw = logits(u);
      const unit = storedUnit({ stats, unit: u, plan: plans(u), deltas, windowActs, proxy: proxy.report(u), topTexts, logits: lw });
      if (proxySearch) unit.interp = storedInterpretability(proxySearch.best(u), stats.density[u]! > 0, tokenizer);
      finish(u, unit);
      const search = { topTokens: topTexts, logitTop: lw.top.slice(0, 5).map((w) => text(w.token)), logitBottom: lw.bottom.slice(0, 5).map((w) => text(w.token)) };
      writer.add(unit, search, stats.tokens, firstCompare);
    }
  } catch (e) {
    writer.abort();
    throw e;
  }
}
