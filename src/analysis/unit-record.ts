/**
 * The detailed investigation of one unit (an SAE feature or a raw MLP neuron), as the dashboards read it.
 * These are the expanded, ready-to-render shapes: token ids come with their text, example windows are cut out of
 * the evaluation tokens. The compact on-disk encoding is `store.ts`'s business.
 *
 * Names follow src/names.ts (docs/conventions.md): `A/1/3450` is feature 3450 of SAE run 1 on model A,
 * `A/neuron/489` is MLP neuron 489 of model A.
 */

import type { UnitKind } from "../names.js";
import type { FamilyManifest, FamilyView } from "./family-types.js";
import type { RunFigures } from "./run-figures.js";

export type { UnitKind };

/** One token of an example window. */
export interface ExampleToken {
  id: number;
  text: string;
  /** The unit's activation at this token (0 where it does not fire). */
  activation: number;
  /**
   * Change of log P(actual next token) at this position when the unit is zeroed here (the paper's blue/red
   * underlines: negative = the unit was helping to predict the next token). 0 where the unit does not fire;
   * null at a sequence's last position (no next token) or where it was not computed.
   */
  logprobDelta: number | null;
}

export interface Example {
  sequence: number;
  position: number;
  /** The unit's activation at `position`. */
  activation: number;
  domain: string;
  /** Position of tokens[0] in the sequence; tokens[position - start] is the example token. */
  start: number;
  tokens: ExampleToken[];
}

export interface ExampleInterval {
  lo: number;
  hi: number;
  /** Share of the unit's firing tokens with activation in [lo, hi) ("INTERVAL lo–hi, CONTAINS x%"). */
  fraction: number;
  examples: Example[];
}

export interface Histogram {
  /** counts.length + 1 edges. */
  edges: number[];
  counts: number[];
}

export interface TokenWeight {
  id: number;
  text: string;
  weight: number;
}

export interface LogitWeightsView {
  top: TokenWeight[];
  bottom: TokenWeight[];
  histogram: Histogram;
  mean: number;
  std: number;
}

export interface AblationSummary {
  /**
   * Mean change of the next-token loss (nats) over the tokens where the unit fires, when it is zeroed there
   * (positive = the unit lowers the loss). Estimated from the top examples and the interval samples, each interval
   * weighted by its share of firing tokens (a stratified estimate); null if nothing was sampled.
   */
  meanLossEffect: number | null;
  /** meanLossEffect × density: the unit's contribution to the mean loss per evaluation token. */
  lossEffectPerToken: number | null;
  /** Token positions ablated to estimate it. */
  sampled: number;
  /**
   * Standard error of meanLossEffect (stratified over the intervals: ablation.ts stratifiedMean); null with fewer
   * than two samples in any interval, absent in stores written before it.
   */
  standardError?: number | null;
}

/** One bin of the activation histogram, split by a proxy (the paper's coloured activation plot). */
export interface ProxyBin {
  lo: number;
  hi: number;
  /** Firing tokens with activation in the bin. */
  count: number;
  /** Of those, tokens where the proxy holds (score-weighted for graded proxies). */
  proxyCount: number;
  /** Share of the bin's activation mass on tokens where the proxy holds (score-weighted); null for an empty bin. */
  proxyMassShare: number | null;
  /** Mean over the bin's tokens of log P(token | proxy) / P(token); null for an empty bin. */
  meanLlr: number | null;
}

export interface ProxyReport {
  /** The proxy as given, e.g. `tokens: the,a` or `script:Arabic`, and a readable description. */
  spec: string;
  description: string;
  /** Share of the unit's activation mass on tokens where the proxy holds. */
  specificity: number;
  /** Share of the unit's firing tokens where the proxy holds. */
  specificityFiring: number;
  /** Share of the proxy's tokens where the unit fires. */
  sensitivity: number;
  /** Evaluation tokens where the proxy holds (score sum). */
  proxyTokens: number;
  bins: ProxyBin[];
}

/**
 * The unit's interpretability score (interpretability.ts): its best automatic proxy among the top-1…5 token sets,
 * the same inside one domain, bigram sets and "after" sets, by F1 of mass specificity and sensitivity.
 */
export interface InterpretabilityView {
  /** F1 of spec and sens, in [0, 1]. */
  score: number;
  /** Share of the unit's activation mass where the proxy holds. */
  spec: number;
  /** Share of the proxy's occurrences where the unit fires. */
  sens: number;
  /** The proxy: `tokens:[…]`, `tokens:[…] in:prose|code`, `bigram:[["prev","cur"],…]` or `after:[…]` (the previous tokens). */
  proxy: string;
}

/** Summary of a unit set's scores over its live units (summary.json, the home cards). */
export interface InterpretabilityFigures {
  live: number;
  median: number;
  mean: number;
  share_spec_sens_ge_0_8: number;
  /** Live units per score bin: equal bins of [0, 1]. */
  histogram: number[];
}

export interface NeuronAlignmentEntry {
  neuron: number;
  name: string;
  /** The decoder row's entry for this neuron. */
  value: number;
  /** |value| as a share of the row's L1 norm. */
  fractionOfL1: number;
  /** Cosine of the decoder row with the neuron's basis direction (value / ‖row‖). */
  cosine: number;
}

export interface CorrelatedUnit {
  name: string;
  index: number;
  /** Pearson correlation of the two activations over the evaluation tokens. */
  r: number;
}

/** A match in a compared run, with that unit's own best match back in this unit's run (matching is not symmetric). */
export interface RankedMatch extends CorrelatedUnit {
  /** The match's best match back (this unit when the pair is mutual); null when it has none. */
  reverse: CorrelatedUnit | null;
}

/** Related units analyze stored (related-units.ts); absent in older stores. */
export interface UnitRelations {
  /** Per compared run, the unit's top matches by activation r, best first. */
  matches: Record<string, RankedMatch[]>;
  /** Feature records: the features of the same SAE with the highest activation r over the evaluation tokens. */
  coactivation: CorrelatedUnit[] | null;
  /** Neuron records: the features that correlate most with the neuron. */
  features: CorrelatedUnit[] | null;
}

export interface UniversalityMatch extends CorrelatedUnit {
  /** Pearson correlation of the two units' logit weights over the (shared) vocabulary. */
  logitR: number | null;
}

export interface UnitRecord {
  name: string;
  kind: UnitKind;
  index: number;
  /** Short automatic description from the top-activating tokens, or the user's label. */
  label: string;
  tokens: number;
  firing: number;
  density: number;
  maxActivation: number;
  meanActivation: number;
  /** Non-zero activations, equal-width bins on [0, max] (sae-vis linear view; density view = counts / tokens). */
  histogram: Histogram;
  top: Example[];
  intervals: ExampleInterval[];
  logits: LogitWeightsView;
  ablation: AblationSummary;
  /** The proxy evaluated during analysis (by default the top-activating token set), or null. */
  proxy: ProxyReport | null;
  /** Features: the neurons its decoder row leans on, and the neurons that correlate most. Null for neurons. */
  neurons: { alignment: NeuronAlignmentEntry[]; correlated: CorrelatedUnit[] } | null;
  /** The best-matching unit in each compared run (`--compare`), keyed by that run's name (e.g. "B/1"). */
  matches: Record<string, UniversalityMatch>;
  /** The interpretability score and its proxy; null for a unit that never fires, absent in older stores. */
  interpretability?: InterpretabilityView | null;
  /** Top matches both ways, nearest features, a neuron's features (related-units.ts); absent in older stores. */
  related?: UnitRelations;
  /** Its family across dictionary sizes (analyze --family; family-view.ts); absent when its store has none. */
  family?: FamilyView;
}

/** Per-unit scalars for tables, sorting and search without loading every record. */
export interface UnitColumns {
  density: Float32Array;
  maxActivation: Float32Array;
  meanActivation: Float32Array;
  specificity: Float32Array;
  sensitivity: Float32Array;
  meanLossEffect: Float32Array;
  /** Its standard error and the tokens it was estimated from (NaN where undefined and in stores written before them). */
  meanLossEffectSE?: Float32Array;
  meanLossEffectN?: Float32Array;
  bestNeuron: Int32Array;
  bestNeuronR: Float32Array;
  /** For the first compared run (manifest.compare[0]); −1 / NaN when there is none. */
  match: Int32Array;
  matchR: Float32Array;
  matchLogitR: Float32Array;
  /** The interpretability score and its spec and sens (NaN for dead units and in stores written before it). */
  interpScore: Float32Array;
  interpSpec: Float32Array;
  interpSens: Float32Array;
  /**
   * Share of the unit's activation mass on code (vs prose) evaluation tokens (analysis/domain-share.ts): NaN for
   * dead units and in stores written before it. Optional for tables built by hand; the store's reader always has it.
   */
  codeShare?: Float32Array;
}

export interface UnitSearchEntry {
  label: string;
  /** Distinct texts of the top-activating tokens, most frequent first. */
  topTokens: string[];
  logitTop: string[];
  logitBottom: string[];
}

export interface UniversalitySummary {
  /** The compared run, e.g. "B/1". */
  name: string;
  livePairs: { a: number; b: number };
  thresholds: { threshold: number; matched: number; fraction: number }[];
  /**
   * The same among the features that fire at least this often: most of a dictionary's features can sit in an
   * ultra-low-density cluster (Towards Monosemanticity) whose best r is limited by a handful of firings.
   */
  byDensity?: { minDensity: number; features: number; thresholds: { threshold: number; matched: number; fraction: number }[] }[];
}

export interface InvestigationManifest {
  format: "saekit-investigation";
  version: 1;
  kind: UnitKind;
  /** "A/1" for an SAE run, "A/neuron" for a model's neurons. */
  name: string;
  model: string;
  run: string | null;
  hook: string;
  /** The model's tokenizer_name (token ids in the store are that tokenizer's). */
  tokenizer: string;
  units: number;
  tokens: number;
  /** Element type of the tokens file. */
  tokenDtype: "U16" | "I32";
  /** The gzip'd tokens, relative to this folder ("tokens.gz", or another store's over the same tokens). */
  tokensFile: string;
  /** SHA-256 of the uncompressed token bytes. */
  tokensSha256: string;
  sequences: number;
  seqLen: number;
  /** Sequence ranges per corpus domain, in evaluation order. */
  domains: { domain: string; firstSequence: number; sequences: number }[];
  createdAt: string;
  options: {
    topK: number;
    histogramBins: number;
    intervalCount: number;
    intervalSamples: number;
    windowBefore: number;
    windowAfter: number;
    logitTop: number;
    proxy: string;
    seed: number;
  };
  /** The SAE's own evaluation (from eval.json) when the folder has one. */
  sae: { l0: number | null; ceLossRecovered: number | null; dead: number | null; dense: number | null } | null;
  compare: UniversalitySummary[];
  /** log10 of each unit's density (dead units counted apart). */
  densityHistogram: Histogram & { dead: number };
  /** Units with density < threshold (dead included), per threshold: the ultra-low-density cluster (absent in older stores). */
  lowDensity?: Array<{ threshold: number; count: number; share: number }>;
  /**
   * Interpretability scores over the live units of this set and, in a feature store, of its model's neurons analysed
   * with it (absent in older stores); also written alone as the store's summary.json.
   */
  interpretability?: { features?: InterpretabilityFigures; neurons?: InterpretabilityFigures };
  /** Neuron stores: the SAE run analysed with them, whose features the records' related features name (absent in older stores). */
  featureRun?: string;
  /** analyze --family: the runs linked in family.safetensors (analysis/family-store.ts); absent without --family. */
  family?: FamilyManifest;
  /** The run-level figures (analysis/run-figures.ts): universality histograms, dead / low-density share by size. */
  runFigures?: RunFigures;
  /** Seconds per stage and tokens/s of the analysis that wrote it. */
  timing: Record<string, number>;
  /** SHA-256 (hex) of the store's own files by name (store/format.ts); absent in stores written before them. */
  checksums?: Record<string, string>;
}

/** A unit set as listed (GET /api/runs): an SAE run's features ("A/1") or a model's neurons ("A/neuron"). */
export interface RunInfo {
  name: string;
  model: string;
  kind: UnitKind;
  units: number;
  tokens: number;
  hook: string;
  sae: InvestigationManifest["sae"];
  compare: UniversalitySummary[];
  densityHistogram: Histogram & { dead: number };
  /** Dead units (never fired on the evaluation tokens) and dense ones (density > 10%). */
  dead: number;
  dense: number;
  /**
   * The ultra-low-density cluster (sae/density.ts): units with density < threshold over the evaluation tokens, dead
   * ones included, per threshold (1e-4 and 1e-5).
   */
  lowDensity?: Array<{ threshold: number; count: number; share: number }>;
  /** The interpretability summary of this set's units (and of the model's neurons, for an SAE run); absent in older stores. */
  interpretability?: { features?: InterpretabilityFigures; neurons?: InterpretabilityFigures };
  /** True when the model (and SAE) weights are there, so prompts can be analysed live on this set. */
  promptable: boolean;
  /** Feature sets: the run-level figures (run-figures-view.ts): universality histograms, share by dictionary size. */
  figures?: RunFigures;
  /** Feature sets: true when this set's store holds an atlas of its model (analyze --atlas; the page is /atlas/MODEL). */
  atlas?: boolean;
}

/** One feature's score in a prompt-level ranking. */
export interface PromptFeatureScore {
  name: string;
  index: number;
  /** The ranking's figure: max activation, loss effect (nats, summed over the prompt) or logit effect. */
  value: number;
  /** Position (token index in the prompt) where the feature scores most. */
  position: number;
  label: string | null;
}

export interface PromptTokenFeatures {
  id: number;
  text: string;
  /** Active features at this token, by activation desc. */
  features: { name: string; index: number; activation: number }[];
  /** −log P(this token's successor) under the model with the SAE spliced in; null at the last token. */
  loss: number | null;
  /** The token's raw bytes (byte-level BPE: possibly part of a UTF-8 character); absent from older pages. */
  bytes?: number[];
  /** The prediction made at this token (of the next one); absent from older pages. */
  prediction?: TokenPrediction;
}

/** A next token the model may predict, with its probability (SAE spliced in). */
export interface NextTokenProb {
  id: number;
  text: string;
  prob: number;
}

/** One feature's part in one prediction (prompt.ts). */
export interface PredictionFeature {
  name: string;
  index: number;
  activation: number;
  /** Direct effect on the target token's logit: activation × the feature's logit weight, through ln_final at this token's scale. */
  logitEffect: number;
  /** −Δ log P(target) when the feature is zeroed at this token alone (nats; + = the feature helps the target). */
  lossEffect: number;
}

/** What the model predicts at one position, and the features active there ranked for that one prediction. */
export interface TokenPrediction {
  /** The model's most probable next tokens, by probability desc. */
  top: NextTokenProb[];
  /** The token the attributions are for: the actual next token, or at the last token the model's top prediction. */
  target: NextTokenProb & { actual: boolean };
  /** Every feature active at this token, by activation desc. */
  features: PredictionFeature[];
}

/** The prompt-centric view: what fires where, and which features matter for the whole prompt. */
export interface PromptAnalysis {
  /** The SAE run, e.g. "A/1". */
  run: string;
  text: string;
  tokens: PromptTokenFeatures[];
  rankings: {
    /** By the feature's largest activation on the prompt. */
    maxActivation: PromptFeatureScore[];
    /** By the total increase of the next-token loss over the prompt when the feature is zeroed where it fires. */
    lossEffect: PromptFeatureScore[];
    /** By the largest direct effect on the actual next token's logit (activation × logit weight of that token). */
    logitEffect: PromptFeatureScore[];
  };
}
