/**
 * SAE evaluation (`saekit sae eval`), per domain (prose, code) over validation sequences:
 *   L0             mean number of features with activation > 0 per token
 *   MSE            mean over tokens of ‖x − x̂‖²
 *   FVU            Σ‖x − x̂‖² / Σ‖x − x̄‖² (pooled over the domain's tokens; explained variance = 1 − FVU)
 *   CE losses      next-token cross-entropy of the model clean, with x̂ spliced into the hook, and with the hook
 *                  zero-ablated; % loss recovered = (CE_zero − CE_sae) / (CE_zero − CE_clean)
 *   density        fraction of tokens on which each feature fires (over both domains): dead (never fired),
 *                  dense (> 10 %), the ultra-low-density shares (density < 1e-4 and < 1e-5 by default, dead
 *                  included; density.ts) and a histogram of log10 density that marks the bins below them
 * Definitions: docs/conventions.md, "Metric definitions".
 */
import { constant, Tape } from "../core/autograd.js";
import { Tensor } from "../core/tensor.js";
import type { Domain } from "../data/document.js";
import { sequenceCount, type TokenSequences } from "../model/baselines.js";
import { evenlySpacedIndices, gatherBatch, IGNORE_TARGET, SequencePool } from "../model/train-data.js";
import type { HookedTransformer } from "../model/transformer.js";
import type { Sae } from "./sae.js";
import { densitySummary, formatDensityBands, formatThreshold, LOW_DENSITY_THRESHOLDS, type DensitySummary } from "./density.js";

export interface SaeEvalOptions {
  model: HookedTransformer;
  sae: Sae;
  hookName: string;
  /** Validation sequences per domain. */
  data: Partial<Record<Domain, TokenSequences>>;
  /** Tokens per domain (evenly spaced sequences; default 131,072). */
  tokensPerDomain?: number;
  /** Sequences per forward pass (default 32). */
  batch?: number;
  /** Densities below which the share of features is reported (default 1e-4, 1e-5). */
  lowDensityThresholds?: readonly number[];
  /**
   * Tokens per domain over which feature densities (dead, dense, the low-density shares, the histogram) are counted,
   * when more than tokensPerDomain: a second pass that runs the model only up to the hook, so densities near 1e-5
   * can be resolved (≥ 10⁶ tokens) without paying for the CE passes on all of them. Default: the CE tokens.
   */
  densityTokensPerDomain?: number;
  onProgress?: (done: number, total: number) => void;
  /** Refuse data with fewer tokens (default 1: an empty corpus would give NaN and a false 100 %; the CLI asks MIN_EVAL_TOKENS). */
  minTokens?: number;
}

export interface DomainMetrics {
  tokens: number;
  l0: number;
  mse: number;
  fvu: number;
  explainedVariance: number;
  ceClean: number;
  ceSae: number;
  ceZeroAblation: number;
  /** (CE_zero − CE_sae) / (CE_zero − CE_clean), as a fraction. */
  lossRecovered: number;
}

export interface SaeEvalResult {
  hookName: string;
  dSae: number;
  domains: Partial<Record<Domain, DomainMetrics>>;
  /** All domains pooled (token-weighted). */
  overall: DomainMetrics;
  deadFeatures: number;
  denseFeatures: number;
  deadFraction: number;
  denseFraction: number;
  /** Dead and ultra-low-density features (density < each threshold, dead included) over the evaluation tokens. */
  lowDensity: DensitySummary;
  /** Histogram of log10 feature density over features that fired: edges (bins + 1) and counts. */
  densityHistogram: { edges: number[]; counts: number[] };
  /** Per feature: fraction of evaluation tokens where it fired. */
  density: Float32Array;
}

export const DENSE_FEATURE_THRESHOLD = 0.1;
/** What `sae eval` requires: fewer evaluation tokens give no meaningful metric (none at all: NaN or a false 100 %). */
export const MIN_EVAL_TOKENS = 256;

/** Too little data to evaluate on; `tokens` is what the data held. */
export class SaeEvalDataError extends Error {
  override name = "SaeEvalDataError";
  constructor(readonly tokens: number, message: string) {
    super(message);
  }
}

export function evaluateSae(options: SaeEvalOptions): SaeEvalResult {
  const { model, sae, hookName } = options;
  if (!model.hookNames().includes(hookName)) throw new Error(`sae eval: hook "${hookName}" is not a hook point of the model`);
  const batch = options.batch ?? 32;
  const perDomain = options.tokensPerDomain ?? 131_072;
  const fired = new Float64Array(sae.dSae);
  let tokensAll = 0;
  const domains: Partial<Record<Domain, DomainMetrics>> = {};
  const plan = Object.entries(options.data).map(([domain, data]) => {
    const n = Math.min(sequenceCount(data!), Math.max(1, Math.ceil(perDomain / data!.nCtx)));
    return { domain: domain as Domain, data: data!, indices: evenlySpacedIndices(sequenceCount(data!), n) };
  });
  const total = plan.reduce((s, p) => s + p.indices.length, 0);
  const planned = plan.reduce((s, p) => s + p.indices.length * p.data.nCtx, 0);
  const minTokens = options.minTokens ?? 1;
  if (planned < minTokens) {
    throw new SaeEvalDataError(planned, `sae eval: the evaluation data holds ${planned} tokens; at least ${minTokens} are needed for meaningful metrics`);
  }
  let done = 0;
  for (const { domain, data, indices } of plan) {
    if (indices.length === 0) continue;
    const pool = new SequencePool([data]);
    const acc = { tokens: 0, active: 0, sq: 0, sumX: new Float64Array(sae.dIn), sumX2: 0, ce: [0, 0, 0], scored: 0 };
    for (let start = 0; start < indices.length; start += batch) {
      const chunk = gatherBatch(pool, indices.subarray(start, start + batch));
      const { cleanLoss, x } = cleanPass(model, hookName, chunk);
      const rows = chunk.batch * chunk.nCtx;
      if (x.value.lastDim !== sae.dIn) {
        throw new Error(`sae eval: the SAE has d_in ${sae.dIn} but ${hookName} has ${x.value.lastDim} values per token`);
      }
      const codes = sae.encode(x.data as Float32Array, rows);
      const xh = sae.decode(codes);
      for (let i = 0; i < codes.indices.length; i++) {
        const idx = codes.indices[i]!;
        if (idx >= 0) {
          fired[idx]! += 1;
          acc.active++;
        }
      }
      const xd = x.data;
      for (let i = 0; i < rows * sae.dIn; i++) {
        const v = xd[i]!;
        acc.sq += (xh[i]! - v) ** 2;
        acc.sumX2 += v * v;
        acc.sumX[i % sae.dIn]! += v;
      }
      const scored = chunk.targets.reduce((s, t) => s + (t === IGNORE_TARGET ? 0 : 1), 0);
      const splice = (replacement: Float32Array) => model.forwardLoss(Tape.noGrad(), chunk.inputs, chunk.batch, chunk.nCtx, chunk.targets, {
        ignoreIndex: IGNORE_TARGET,
        hooks: { [hookName]: () => constant(new Tensor(replacement, x.shape)) },
      }).loss.value.item();
      acc.ce[0]! += cleanLoss * scored;
      acc.ce[1]! += splice(xh) * scored;
      acc.ce[2]! += splice(new Float32Array(xh.length)) * scored;
      acc.scored += scored;
      acc.tokens += rows;
      done += chunk.batch;
      options.onProgress?.(done, total);
    }
    tokensAll += acc.tokens;
    let meanNorm2 = 0;
    for (let c = 0; c < sae.dIn; c++) meanNorm2 += (acc.sumX[c]! / acc.tokens) ** 2;
    const variance = acc.sumX2 - acc.tokens * meanNorm2;
    const [clean, withSae, zero] = acc.ce.map((v) => v / acc.scored) as [number, number, number];
    domains[domain] = metrics(acc.tokens, acc.active / acc.tokens, acc.sq / acc.tokens, acc.sq / variance, clean, withSae, zero);
  }
  const list = Object.values(domains) as DomainMetrics[];
  const weighted = (f: (m: DomainMetrics) => number) => list.reduce((s, m) => s + f(m) * m.tokens, 0) / Math.max(1, tokensAll);
  const overall = metrics(tokensAll, weighted((m) => m.l0), weighted((m) => m.mse), weighted((m) => m.fvu),
    weighted((m) => m.ceClean), weighted((m) => m.ceSae), weighted((m) => m.ceZeroAblation));
  let densityTokens = tokensAll;
  if ((options.densityTokensPerDomain ?? 0) > perDomain) {
    fired.fill(0);
    densityTokens = countFirings(model, sae, hookName, options.data, options.densityTokensPerDomain!, batch, fired);
  }
  const density = Float32Array.from(fired, (c) => c / Math.max(1, densityTokens));
  const deadFeatures = density.filter((d) => d === 0).length;
  const denseFeatures = density.filter((d) => d > DENSE_FEATURE_THRESHOLD).length;
  return {
    hookName, dSae: sae.dSae, domains, overall, deadFeatures, denseFeatures,
    deadFraction: deadFeatures / sae.dSae, denseFraction: denseFeatures / sae.dSae,
    lowDensity: densitySummary(density, options.lowDensityThresholds ?? LOW_DENSITY_THRESHOLDS, densityTokens),
    densityHistogram: log10Histogram(density), density,
  };
}

function metrics(tokens: number, l0: number, mse: number, fvu: number, ceClean: number, ceSae: number, ceZeroAblation: number): DomainMetrics {
  return {
    tokens, l0, mse, fvu, explainedVariance: 1 - fvu, ceClean, ceSae, ceZeroAblation,
    lossRecovered: (ceZeroAblation - ceSae) / (ceZeroAblation - ceClean),
  };
}

/** Firings per feature over evenly spaced sequences (tokensPerDomain per domain), the model run only to the hook. */
function countFirings(model: HookedTransformer, sae: Sae, hookName: string, data: Partial<Record<Domain, TokenSequences>>, tokensPerDomain: number, batch: number, fired: Float64Array): number {
  let tokens = 0;
  for (const seqs of Object.values(data)) {
    const n = Math.min(sequenceCount(seqs!), Math.max(1, Math.ceil(tokensPerDomain / seqs!.nCtx)));
    const indices = evenlySpacedIndices(sequenceCount(seqs!), n);
    const pool = new SequencePool([seqs!]);
    for (let start = 0; start < indices.length; start += batch) {
      const chunk = gatherBatch(pool, indices.subarray(start, start + batch));
      const { cache } = model.forward(Tape.noGrad(), chunk.inputs, chunk.batch, chunk.nCtx, { cache: [hookName], stopAt: hookName });
      const rows = chunk.batch * chunk.nCtx;
      const codes = sae.encode(cache.get(hookName)!.data as Float32Array, rows);
      for (const idx of codes.indices) if (idx >= 0) fired[idx]! += 1;
      tokens += rows;
    }
  }
  return tokens;
}

/** The clean loss and the hook's activation, in one forward pass. */
function cleanPass(model: HookedTransformer, hookName: string, chunk: { inputs: Int32Array; targets: Int32Array; batch: number; nCtx: number }) {
  const { loss, cache } = model.forwardLoss(Tape.noGrad(), chunk.inputs, chunk.batch, chunk.nCtx, chunk.targets, {
    ignoreIndex: IGNORE_TARGET, cache: [hookName],
  });
  return { cleanLoss: loss.value.item(), x: cache.get(hookName)! };
}

/** Histogram of log10(density) over features with density > 0, in 0.25-decade bins from 1e-7 to 1. */
export function log10Histogram(density: Float32Array, lo = -7, hi = 0, binWidth = 0.25): { edges: number[]; counts: number[] } {
  const bins = Math.round((hi - lo) / binWidth);
  const counts = new Array<number>(bins).fill(0);
  for (const d of density) {
    if (!(d > 0)) continue;
    // + 1e-6: a float32 density at exactly 10^edge (e.g. 1e-4) belongs to the bin that starts there.
    const b = Math.min(bins - 1, Math.max(0, Math.floor((Math.log10(d) - lo) / binWidth + 1e-6)));
    counts[b]! += 1;
  }
  return { edges: Array.from({ length: bins + 1 }, (_, i) => lo + i * binWidth), counts };
}

/** A readable table of an evaluation (what `saekit sae eval` prints). */
export function formatSaeEval(r: SaeEvalResult): string {
  const cols = [...Object.keys(r.domains), "overall"];
  const get = (c: string) => (c === "overall" ? r.overall : r.domains[c as Domain]!);
  const row = (label: string, f: (m: DomainMetrics) => string) => [label, ...cols.map((c) => f(get(c)))];
  const rows = [
    ["", ...cols],
    row("tokens", (m) => m.tokens.toLocaleString("en-US")),
    row("L0", (m) => m.l0.toFixed(1)),
    row("MSE", (m) => m.mse.toPrecision(4)),
    row("explained variance", (m) => `${(100 * m.explainedVariance).toFixed(1)}%`),
    row("CE clean", (m) => m.ceClean.toFixed(4)),
    row("CE with SAE", (m) => m.ceSae.toFixed(4)),
    row("CE zero-ablated", (m) => m.ceZeroAblation.toFixed(4)),
    row("CE loss recovered", (m) => `${(100 * m.lossRecovered).toFixed(1)}%`),
  ];
  const widths = rows[0]!.map((_, j) => Math.max(...rows.map((x) => x[j]!.length)));
  const lines = rows.map((x) => x.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join("  "));
  lines.push(
    `features: ${r.dSae}; densities over ${(r.lowDensity.tokens ?? 0).toLocaleString("en-US")} tokens; dead (never fired) ${r.deadFeatures} (${(100 * r.deadFraction).toFixed(1)}%); ` +
      `dense (> ${100 * DENSE_FEATURE_THRESHOLD}% of tokens) ${r.denseFeatures} (${(100 * r.denseFraction).toFixed(1)}%)`,
  );
  lines.push(`ultra-low density (dead included): ${formatDensityBands(r.lowDensity)}; median density ${r.lowDensity.median.toPrecision(2)}`);
  lines.push(...formatDensityHistogram(r.densityHistogram, r.lowDensity.below.map((b) => b.threshold)));
  return lines.join("\n");
}

/**
 * The log10 density histogram as text, one line per non-empty bin; bins below the largest of `thresholds` (the
 * ultra-low-density cluster) are drawn with ░ and tagged with the threshold they fall under.
 */
export function formatDensityHistogram(h: { edges: number[]; counts: number[] }, thresholds: readonly number[] = LOW_DENSITY_THRESHOLDS): string[] {
  const max = Math.max(1, ...h.counts);
  const logs = [...thresholds].map(Math.log10).sort((a, b) => a - b);
  const lines = [`feature density (log10 fraction of tokens; ░ = below ${thresholds.map(formatThreshold).join(" / ")}):`];
  h.counts.forEach((c, i) => {
    if (c === 0) return;
    const hi = h.edges[i + 1]!;
    // A bin belongs to the cluster below t when its upper edge is ≤ log10 t (bins straddling t are not marked).
    const under = logs.find((t) => hi <= t + 1e-9);
    const bar = (under !== undefined ? "░" : "█").repeat(Math.ceil((30 * c) / max)).padEnd(30);
    const tag = under !== undefined ? `  < ${formatThreshold(10 ** under)}` : "";
    lines.push(`  ${h.edges[i]!.toFixed(2).padStart(6)} … ${hi.toFixed(2).padStart(6)}  ${bar} ${String(c).padStart(5)}${tag}`);
  });
  return lines;
}
